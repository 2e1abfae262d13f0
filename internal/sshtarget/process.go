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

// drainTimeout bounds how long output is still read from a pty after its
// command exited; a background job holding the terminal must not keep the
// session open.
const drainTimeout = 500 * time.Millisecond

// process is a running command with its I/O wired to a channel.
type process struct {
	cmd  *exec.Cmd
	ptmx *os.File // nil without a pty

	outputDone chan struct{} // closed when output copying ended (pty only)

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
		p.outputDone = make(chan struct{})
		s.t.wg.Add(2)
		go func() {
			defer s.t.wg.Done()
			defer close(p.outputDone)
			io.Copy(s.ch, ptmx) // ends with EIO once the command and its children closed the terminal
		}()
		go func() {
			defer s.t.wg.Done()
			io.Copy(ptmx, s.ch) // ends at the client's EOF or when the channel closes
		}()
		return p, nil
	}
	cmd.Stdout = s.ch
	cmd.Stderr = s.ch.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = drainTimeout
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("sshtarget: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("sshtarget: start: %w", err)
	}
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
	if p.ptmx != nil {
		timer := time.NewTimer(drainTimeout)
		select {
		case <-p.outputDone:
		case <-timer.C:
		}
		timer.Stop()
		p.ptmx.Close()
		<-p.outputDone
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) && !errors.Is(err, exec.ErrWaitDelay) {
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
