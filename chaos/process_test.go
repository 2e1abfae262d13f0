package chaos

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopTimeout bounds a graceful stop before the child is killed; it guards
// against hangs and is never a speed assertion.
const stopTimeout = 30 * time.Second

// child is one run of a foureyes subcommand as a separate OS process. Its
// output is appended to logPath, which collects every run of the same role.
type child struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	err     error         // Wait's result; read after done
}

// startChild runs the foureyes binary with args. The process dies with the
// test process (Pdeathsig) and is killed when the test ends.
func startChild(tb testing.TB, name, logPath string, args ...string) *child {
	tb.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(logf, "=== %s: foureyes %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	c := &child{name: name, logPath: logPath, done: make(chan struct{})}
	c.cmd = exec.Command(foureyesBinary(tb), args...)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = childAttr()
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		tb.Fatalf("chaos: start %s: %v", name, err)
	}
	// The waiter's owner is the child: it exits when the process does, and
	// the cleanup below makes sure that happens.
	go func() {
		c.err = c.cmd.Wait()
		fmt.Fprintf(logf, "=== %s: exited: %v\n", time.Now().Format(time.RFC3339Nano), c.err)
		logf.Close()
		close(c.done)
	}()
	tb.Cleanup(c.kill)
	return c
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits for a clean exit; after stopTimeout it kills
// the process and fails the test.
func (c *child) stop(tb testing.TB) {
	tb.Helper()
	if c.exited() {
		tb.Fatalf("chaos: %s had already exited (%v); see %s", c.name, c.err, c.logPath)
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(stopTimeout):
		c.kill()
		tb.Fatalf("chaos: %s did not stop within %v of SIGTERM", c.name, stopTimeout)
	}
	if c.err != nil {
		tb.Fatalf("chaos: %s exited with %v after SIGTERM; see %s", c.name, c.err, c.logPath)
	}
}

// kill ends the process group at once with SIGKILL and waits. It is the
// fault injected by the scenarios and the test's cleanup; killing an exited
// process is harmless.
func (c *child) kill() {
	if !c.exited() {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-c.done
}

// tail returns the last n lines of the file at path, or why not.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
