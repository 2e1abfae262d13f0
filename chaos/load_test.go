package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/creack/pty"
	"github.com/foureyes/foureyes/internal/sshtest"
)

// Pace of the scripted sessions.
const (
	// pacedSleep is the pause between two lines of a paced exec session.
	pacedSleep = "0.01"
	// typePace is the pause between two lines typed by a typist.
	typePace = 50 * time.Millisecond
)

// outcome is what a scripted session's recording must show.
type outcome int

const (
	// wantComplete: the session ended normally; an exec session's
	// recorded output equals what the client printed.
	wantComplete outcome = iota
	// wantInterrupted: a fault cut the session; its session.end is marked
	// interrupted and the recorded and received outputs agree on a prefix.
	wantInterrupted
)

// sessionResult is one scripted ssh session and what its client saw.
type sessionResult struct {
	tag     string // unique; in the exec command or in every typed line
	kind    string // "exec" or "shell"
	gateway string // the gateway's id
	command string // exec: the remote command
	want    outcome

	stdout, stderr syncBuffer
	done           chan struct{} // closed when the client has exited
	exit           int           // set before done closes
	err            error         // the client could not be run
}

// finished reports whether the client has exited.
func (r *sessionResult) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of the contents.
func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// Len returns the number of bytes written.
func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// load runs scripted sessions concurrently. Paced and typist sessions run
// until finish (or abort, the test's cleanup); bulk sessions end by
// themselves. The load owns every goroutine it starts and waits for them.
type load struct {
	s        *stack
	stopFile string
	stop     chan struct{}
	stopOnce sync.Once
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	sessions []*sessionResult
}

// newLoad returns an empty load whose sessions are killed when the test
// ends.
func (s *stack) newLoad() *load {
	l := &load{s: s, stop: make(chan struct{})}
	s.tags++
	l.stopFile = filepath.Join(s.home, fmt.Sprintf("stop-%03d", s.tags))
	l.ctx, l.cancel = context.WithTimeout(context.Background(), s.sessionTimeout())
	s.t.Cleanup(l.abort)
	return l
}

// tag returns a new unique session tag. Tags have a fixed width, so that
// none is a prefix of another.
func (s *stack) tag(kind string) string {
	s.tags++
	return fmt.Sprintf("%s-%04d", kind, s.tags)
}

// client returns an ssh client of alice through g.
func (s *stack) client(g *gatewayProc, tty bool, args ...string) *sshtest.Client {
	return &sshtest.Client{Addr: g.addr, User: "alice", Key: s.aliceKey, TTY: tty, Args: args}
}

// newSession registers a scripted session with the stack.
func (s *stack) newSession(g *gatewayProc, kind, tag, command string) *sessionResult {
	r := &sessionResult{tag: tag, kind: kind, gateway: g.id, command: command, done: make(chan struct{})}
	s.sessions = append(s.sessions, r)
	return r
}

// bulk starts an exec session printing lines 1..n as fast as it can.
func (l *load) bulk(g *gatewayProc, n int) *sessionResult {
	tag := l.s.tag("bulk")
	return l.exec(g, tag, fmt.Sprintf(": %s; seq 1 %d", tag, n))
}

// paced starts an exec session printing a numbered line every 10ms until
// finish creates the stop file.
func (l *load) paced(g *gatewayProc) *sessionResult {
	tag := l.s.tag("paced")
	return l.exec(g, tag, fmt.Sprintf(`: %s; i=0; while [ ! -e %s ]; do echo "%s $i"; i=$((i+1)); sleep %s; done`,
		tag, l.stopFile, tag, pacedSleep))
}

// exec starts an exec session running command.
func (l *load) exec(g *gatewayProc, tag, command string) *sessionResult {
	r := l.s.newSession(g, "exec", tag, command)
	l.sessions = append(l.sessions, r)
	cmd := l.s.client(g, false, "demo", "--", command).Command(l.ctx)
	cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
	cmd.SysProcAttr = clientAttr()
	cmd.WaitDelay = 5 * time.Second
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(r.done)
		r.exit, r.err = exitStatus(cmd.Run())
	}()
	return r
}

// typist starts an interactive session in a pty that types a line with
// the session's tag every typePace until finish, then exits the shell.
func (l *load) typist(g *gatewayProc) *sessionResult {
	r := l.s.newSession(g, "shell", l.s.tag("typist"), "")
	l.sessions = append(l.sessions, r)
	cmd := l.s.client(g, true, "demo").Command(l.ctx)
	cmd.SysProcAttr = clientAttr()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(r.done)
		r.exit, r.err = l.typeLines(cmd, r)
	}()
	return r
}

// typeLines runs cmd in a pty and types until the load stops or the client
// exits.
func (l *load) typeLines(cmd *exec.Cmd, r *sessionResult) (int, error) {
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 100, Rows: 30})
	if err != nil {
		return 0, fmt.Errorf("chaos: start ssh in a pty: %w", err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		io.Copy(&r.stdout, ptmx) // ends with EIO once ssh is gone, or at Close
	}()
	exited := make(chan struct{})
	var waitErr error
	go func() {
		defer close(exited)
		waitErr = cmd.Wait()
	}()
	tick := time.NewTicker(typePace)
	defer tick.Stop()
loop:
	for n := 0; ; n++ {
		select {
		case <-exited:
			break loop
		case <-l.stop:
			fmt.Fprintf(ptmx, "exit\r")
			break loop
		case <-tick.C:
			fmt.Fprintf(ptmx, "echo %s %d\r", r.tag, n)
		}
	}
	<-exited // the load's context kills a client that does not exit
	ptmx.Close()
	<-readDone
	return exitStatus(waitErr)
}

// exitStatus turns the result of running a client into its exit status, or
// an error when it could not run.
func exitStatus(err error) (int, error) {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), nil
	case errors.As(err, &ee):
		return -1, fmt.Errorf("chaos: ssh killed: %w", err)
	}
	return -1, fmt.Errorf("chaos: ssh: %w", err)
}

// expect sets the outcome of every session of the load started so far.
func (l *load) expect(o outcome) {
	for _, r := range l.sessions {
		r.want = o
	}
}

// waitOutput waits until every session of the load printed at least n
// bytes: the load is really running.
func (l *load) waitOutput(n int) {
	l.s.t.Helper()
	waitFor(l.s.t, "sessions printing", convergeTimeout, func() (bool, string) {
		for _, r := range l.sessions {
			if r.stdout.Len() < n {
				if r.finished() {
					l.s.t.Fatalf("chaos: session %s ended early (exit %d, %v): %q", r.tag, r.exit, r.err, r.stderr.Bytes())
				}
				return false, fmt.Sprintf("%s printed %d bytes", r.tag, r.stdout.Len())
			}
		}
		return true, ""
	})
}

// finish stops the paced and typist sessions and waits for every session
// of the load; a client that could not run fails the test.
func (l *load) finish() {
	l.s.t.Helper()
	l.signalStop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(l.s.sessionTimeout()):
		l.s.t.Fatalf("chaos: scripted sessions still running after %v", l.s.sessionTimeout())
	}
	for _, r := range l.sessions {
		if r.err != nil {
			l.s.t.Fatalf("chaos: session %s: %v; stderr %q", r.tag, r.err, r.stderr.Bytes())
		}
	}
}

// signalStop tells paced sessions (stop file) and typists (channel) to end.
func (l *load) signalStop() {
	l.stopOnce.Do(func() {
		if err := os.WriteFile(l.stopFile, nil, 0o600); err != nil {
			l.s.t.Errorf("chaos: stop file: %v", err)
		}
		close(l.stop)
	})
}

// abort ends every session of the load at once (the test's cleanup).
func (l *load) abort() {
	l.signalStop()
	l.cancel()
	l.wg.Wait()
}

// runBulk runs one bulk session through g to its end and checks that the
// client saw it succeed.
func (s *stack) runBulk(g *gatewayProc, n int) *sessionResult {
	s.t.Helper()
	l := s.newLoad()
	r := l.bulk(g, n)
	l.finish()
	if r.exit != 0 {
		s.t.Fatalf("chaos: session %s through %s: exit %d; stderr %q", r.tag, g.id, r.exit, r.stderr.Bytes())
	}
	return r
}
