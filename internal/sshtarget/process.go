package sshtarget

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// drainTimeout bounds how long a command's output may stay idle after
// the command exited before it is closed: a background job holding the
// terminal or the pipes must not keep the session open. Time spent
// waiting for a slow client (a full SSH window) is not idle: that output
// is delivered whole, as sshd does.
const drainTimeout = 500 * time.Millisecond

// process is a running command with its I/O wired to a channel.
type process struct {
	cmd  *exec.Cmd
	ptmx *os.File // nil without a pty

	copiers []*outputCopier // the output streams: the pty, or stdout and stderr

	mu     sync.Mutex
	exited bool // set after Wait: the pid may be reused, never signal it again
}

// shellArgv returns the interactive shell to run.
func shellArgv() []string {
	if p, err := exec.LookPath("/bin/bash"); err == nil {
		return []string{p, "--norc", "--noprofile"}
	}
	return []string{"/bin/sh"}
}

// SFTPServer is the program that serves the "sftp" subsystem, as
// Debian's sshd runs it (package openssh-sftp-server).
const SFTPServer = "/usr/lib/openssh/sftp-server"

// startProcess starts argv for s, with a pty when s requested one and
// usePty is set (a subsystem never gets one, as with sshd).
func startProcess(s *session, argv []string, usePty bool) (*process, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.t.opts.Dir
	cmd.Env = append([]string{
		"HOME=" + s.t.opts.Dir,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SHELL=" + argv[0],
		"USER=" + s.user,
		"LOGNAME=" + s.user,
		"PS1=" + s.t.opts.Name + "$ ",
	}, s.env...)
	p := &process{cmd: cmd}
	if s.pty != nil && usePty {
		cmd.Env = append(cmd.Env, "TERM="+s.pty.Term)
		var size *pty.Winsize
		if s.cols > 0 && s.rows > 0 {
			size = &pty.Winsize{Cols: s.cols, Rows: s.rows}
		}
		ptmx, err := pty.StartWithSize(cmd, size) // new session: the shell leads its process group
		if err != nil {
			return nil, fmt.Errorf("sshtarget: start pty: %w", err)
		}
		if ptmx, err = pollable(ptmx); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, err
		}
		p.ptmx = ptmx
		// The copy ends with EIO once the command and its children
		// closed the terminal.
		p.copiers = []*outputCopier{startCopier(&s.t.wg, s.ch, ptmx)}
		s.t.wg.Add(1)
		go func() {
			defer s.t.wg.Done()
			io.Copy(ptmx, s.ch) // ends at the client's EOF or when the channel closes
		}()
		return p, nil
	}
	// Pipes of our own rather than exec's copying: exec's WaitDelay would
	// cut the output of a command whose client reads slowly.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sshtarget: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("sshtarget: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	outW.Close() // the child has its copies
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("sshtarget: start: %w", err)
	}
	p.copiers = []*outputCopier{startCopier(&s.t.wg, s.ch, outR), startCopier(&s.t.wg, s.ch.Stderr(), errR)}
	s.t.wg.Add(1)
	go func() {
		defer s.t.wg.Done()
		io.Copy(stdin, s.ch)
		stdin.Close() // forward the client's EOF
	}()
	return p, nil
}

// wait waits for the command to exit and its output to be sent, and
// returns the SSH name of the signal that killed it (or "") and its exit
// code.
func (p *process) wait() (signal string, code int, core bool) {
	err := p.cmd.Wait()
	p.mu.Lock()
	p.exited = true
	p.mu.Unlock()
	for _, c := range p.copiers {
		c.finish()
	}
	if p.ptmx != nil {
		p.ptmx.Close()
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return "", 255, false
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		if name := signalName(ws.Signal()); name != "" {
			return name, 0, ws.CoreDump()
		}
		return "", 128 + int(ws.Signal()), false
	}
	return "", p.cmd.ProcessState.ExitCode(), false
}

// signal delivers sig to the command's process group while it runs.
func (p *process) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.exited {
		syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// resize sets the terminal size; the kernel sends SIGWINCH.
func (p *process) resize(cols, rows uint16) {
	if p.ptmx != nil && cols > 0 && rows > 0 {
		setWinsize(p.ptmx, cols, rows)
	}
}

// hangup ends the process group: SIGHUP as a closed terminal would, then
// SIGKILL if it is still running after drainTimeout.
func (p *process) hangup(exited <-chan struct{}) {
	p.signal(syscall.SIGHUP)
	p.signal(syscall.SIGCONT)
	timer := time.NewTimer(drainTimeout)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C:
		p.signal(syscall.SIGKILL)
	}
}

// outputCopier copies one output stream of a command to the channel and
// tells an idle stream (nothing to read) from a slow client (a write
// waiting for the SSH window).
type outputCopier struct {
	src  io.ReadCloser
	dst  io.Writer
	done chan struct{}

	mu      sync.Mutex
	writing bool      // a write to the client is under way
	last    time.Time // when the last read or write ended
}

// startCopier copies src to dst on a goroutine counted in wg.
func startCopier(wg *sync.WaitGroup, dst io.Writer, src io.ReadCloser) *outputCopier {
	c := &outputCopier{src: src, dst: dst, done: make(chan struct{}), last: time.Now()}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(c.done)
		c.run()
	}()
	return c
}

func (c *outputCopier) run() {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.src.Read(buf)
		if n > 0 {
			c.mu.Lock()
			c.writing = true
			c.mu.Unlock()
			_, werr := c.dst.Write(buf[:n])
			c.mu.Lock()
			c.writing, c.last = false, time.Now()
			c.mu.Unlock()
			if werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// finish is called after the command exited: it waits for the stream's
// end, or closes the stream once it has been idle for drainTimeout.
func (c *outputCopier) finish() {
	c.mu.Lock()
	c.last = time.Now()
	c.mu.Unlock()
	tick := time.NewTicker(drainTimeout / 5)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			c.src.Close()
			return
		case <-tick.C:
			c.mu.Lock()
			idle := !c.writing && time.Since(c.last) >= drainTimeout
			c.mu.Unlock()
			if idle {
				c.src.Close()
				<-c.done
				return
			}
		}
	}
}
