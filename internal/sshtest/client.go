package sshtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// waitLimit bounds Wait: a hung ssh fails the test instead of hanging the
// whole run.
const waitLimit = 60 * time.Second

// Client is one invocation of the OpenSSH client. Set the exported fields,
// then either Start it in a pty or pass it to Run.
type Client struct {
	// Addr is the server's host:port.
	Addr string
	// User is the login name.
	User string
	// Key is the private key file given with -i.
	Key string
	// TTY adds -t: ask the server for a pty.
	TTY bool
	// Options are extra arguments placed before the destination,
	// e.g. "-o", "ServerAliveInterval=1" or "-c", "aes128-gcm@openssh.com".
	Options []string
	// Args follow the destination: the remote command words.
	Args []string
	// Cols and Rows are the initial size of the local pty. Default: 80x24.
	Cols, Rows int
	// Stdin is what Run feeds to ssh's standard input.
	Stdin string
	// Env holds extra NAME=value entries for ssh's environment; they win
	// over the defaults (TERM=xterm).
	Env []string

	tb       testing.TB
	cmd      *exec.Cmd
	ptmx     *os.File
	readDone chan struct{} // closed when the pty reader stopped
	changed  chan struct{} // one-slot wake-up for Expect

	mu     sync.Mutex
	out    []byte // everything read from the pty
	cursor int    // Expect searches out[cursor:]

	waitOnce sync.Once
	waitErr  error
	exit     int
}

// Command returns the ssh command line for c (path, fixed options that
// make it independent of the user's ~/.ssh, then c's fields). Benchmarks
// use it to wire stdout to /dev/null.
func (c *Client) Command(ctx context.Context) *exec.Cmd { return c.command(ctx, c.TTY) }

func (c *Client) command(ctx context.Context, tty bool) *exec.Cmd {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		host, port = c.Addr, "22"
	}
	args := []string{
		"-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes",
		"-o", "LogLevel=ERROR",
		"-p", port,
	}
	if c.Key != "" {
		args = append(args, "-i", c.Key)
	}
	if tty {
		args = append(args, "-t")
	}
	args = append(args, c.Options...)
	dest := host
	if c.User != "" {
		dest = c.User + "@" + host
	}
	args = append(args, dest)
	args = append(args, c.Args...)
	cmd := exec.CommandContext(ctx, SSHPath, args...)
	cmd.Env = append(cleanEnv(), c.Env...)
	return cmd
}

// cleanEnv is the test process's environment without an agent, with a
// known terminal type.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SSH_AUTH_SOCK=") || strings.HasPrefix(kv, "TERM=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "TERM=xterm")
}

// Start runs ssh in a new pty and reads its output in the background. The
// process is killed when the test ends.
func (c *Client) Start(tb testing.TB) {
	tb.Helper()
	RequireSSH(tb)
	cols, rows := c.Cols, c.Rows
	if cols == 0 || rows == 0 {
		cols, rows = 80, 24
	}
	c.tb = tb
	c.cmd = c.Command(context.Background())
	ptmx, err := pty.StartWithSize(c.cmd, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
	if err != nil {
		tb.Fatalf("sshtest: start ssh: %v", err)
	}
	c.ptmx = ptmx
	c.readDone = make(chan struct{})
	c.changed = make(chan struct{}, 1)
	go c.read()
	tb.Cleanup(c.Close)
}

// read appends the pty's output to c.out until the pty closes (EIO after
// ssh exited, or Close).
func (c *Client) read() {
	defer close(c.readDone)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.ptmx.Read(buf)
		if n > 0 {
			c.mu.Lock()
			c.out = append(c.out, buf[:n]...)
			c.mu.Unlock()
			select {
			case c.changed <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// Expect waits until the output not yet consumed by an earlier Expect
// contains pattern (a string, matched literally, or a *regexp.Regexp),
// consumes the output up to the end of the match and returns the match.
// It fails the test after timeout or when ssh's output ended first.
func (c *Client) Expect(pattern any, timeout time.Duration) string {
	c.tb.Helper()
	m, err := c.ExpectErr(pattern, timeout)
	if err != nil {
		c.tb.Fatal(err)
	}
	return m
}

// ExpectErr is Expect returning an error instead of failing the test.
func (c *Client) ExpectErr(pattern any, timeout time.Duration) (string, error) {
	var find func([]byte) (int, int)
	switch p := pattern.(type) {
	case string:
		find = func(b []byte) (int, int) {
			if i := bytes.Index(b, []byte(p)); i >= 0 {
				return i, i + len(p)
			}
			return -1, -1
		}
	case *regexp.Regexp:
		find = func(b []byte) (int, int) {
			if loc := p.FindIndex(b); loc != nil {
				return loc[0], loc[1]
			}
			return -1, -1
		}
	default:
		return "", fmt.Errorf("sshtest: Expect pattern is %T; want string or *regexp.Regexp", pattern)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		rest := c.out[c.cursor:]
		if i, j := find(rest); i >= 0 {
			m := string(rest[i:j])
			c.cursor += j
			c.mu.Unlock()
			return m, nil
		}
		c.mu.Unlock()
		select {
		case <-c.changed:
		case <-c.readDone:
			// Check once more: the last chunk may hold the match.
			c.mu.Lock()
			rest := c.out[c.cursor:]
			i, j := find(rest)
			if i >= 0 {
				m := string(rest[i:j])
				c.cursor += j
				c.mu.Unlock()
				return m, nil
			}
			c.mu.Unlock()
			return "", fmt.Errorf("sshtest: ssh output ended before %q; unconsumed output:\n%q", pattern, rest)
		case <-timer.C:
			c.mu.Lock()
			rest := string(c.out[c.cursor:])
			c.mu.Unlock()
			return "", fmt.Errorf("sshtest: no %q within %v; unconsumed output:\n%q", pattern, timeout, rest)
		}
	}
}

// Send types s into the terminal (use "\r" for Enter).
func (c *Client) Send(s string) {
	c.tb.Helper()
	if _, err := c.ptmx.WriteString(s); err != nil {
		c.tb.Fatalf("sshtest: send: %v", err)
	}
}

// Resize changes the terminal size; ssh notices (SIGWINCH) and sends a
// window-change request.
func (c *Client) Resize(cols, rows int) {
	c.tb.Helper()
	if err := pty.Setsize(c.ptmx, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)}); err != nil {
		c.tb.Fatalf("sshtest: resize: %v", err)
	}
}

// Wait waits for ssh to exit and its output to be read, and returns its
// exit status (255 for ssh's own errors, -1 when killed by a signal). It
// fails the test if ssh is still running after a minute.
func (c *Client) Wait() int {
	c.tb.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.wait()
	}()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		c.Close()
		<-done
		c.tb.Fatalf("sshtest: ssh still running after %v; output:\n%q", waitLimit, c.Output())
	}
	if c.waitErr != nil {
		c.tb.Fatalf("sshtest: wait: %v", c.waitErr)
	}
	return c.exit
}

// wait reaps ssh once and drains the pty.
func (c *Client) wait() {
	c.waitOnce.Do(func() {
		err := c.cmd.Wait()
		var exitErr *exec.ExitError
		switch {
		case err == nil:
			c.exit = 0
		case errors.As(err, &exitErr):
			c.exit = exitErr.ExitCode()
		default:
			c.waitErr = err
		}
		<-c.readDone // EIO once ssh and its pty side are gone
	})
}

// Output returns everything ssh wrote to the terminal so far, escape
// sequences included.
func (c *Client) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.out)
}

// Pid returns the ssh process id.
func (c *Client) Pid() int { return c.cmd.Process.Pid }

// Close kills ssh if it still runs and releases the pty. It is registered
// with tb.Cleanup by Start.
func (c *Client) Close() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGKILL) // harmless error once reaped
	c.ptmx.Close()
	c.wait()
}

// ResizeConfirmed resizes the terminal and waits until `stty size`, typed
// at the remote shell prompt, reports the new size. ssh forwards the
// resize asynchronously (SIGWINCH, then a window-change request), so a
// command typed right after Resize may still see the old size; this
// retypes `stty size` until it does not. The shell must be at its prompt.
func (c *Client) ResizeConfirmed(cols, rows int, timeout time.Duration) {
	c.tb.Helper()
	c.Resize(cols, rows)
	want := fmt.Sprintf("%d %d", rows, cols)
	deadline := time.Now().Add(timeout)
	for {
		c.Send("stty size\r")
		if _, err := c.ExpectErr(want, time.Second); err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("sshtest: the remote terminal did not become %dx%d within %v; output:\n%q", cols, rows, timeout, c.Output())
		}
	}
}
