package sshtarget_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtarget"
	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

const timeout = 20 * time.Second

// startTarget starts a target admitting one new key and returns it with
// the key's path.
func startTarget(t *testing.T) (*sshtarget.Target, string) {
	t.Helper()
	dir := t.TempDir()
	key, pub := sshtest.Keygen(t, dir, "id_ed25519")
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	tg, err := sshtarget.Start(sshtarget.Options{
		Name:           "demo",
		AuthorizedKeys: []gossh.PublicKey{pub},
		Dir:            home,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg, key
}

// dial opens an x/crypto client to tg.
func dial(t *testing.T, tg *sshtarget.Target, key string) *gossh.Client {
	t.Helper()
	c, err := gossh.Dial("tcp", tg.Addr(), &gossh.ClientConfig{
		User:            "root",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(sshtest.Signer(t, key))},
		HostKeyCallback: gossh.FixedHostKey(tg.HostKey()),
		Timeout:         timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestInteractiveShell(t *testing.T) {
	tg, key := startTarget(t)
	c := &sshtest.Client{Addr: tg.Addr(), User: "root", Key: key, TTY: true}
	c.Start(t)
	c.Expect("demo$ ", timeout)
	c.Send("echo hel''lo\r")
	c.Expect("hello", timeout)
	c.Expect("demo$ ", timeout)
	c.ResizeConfirmed(100, 40, timeout)
	c.Expect("demo$ ", timeout)
	c.Send("exit 7\r")
	if got := c.Wait(); got != 7 {
		t.Errorf("exit = %d; want 7; output:\n%q", got, c.Output())
	}
}

func TestExec(t *testing.T) {
	tg, key := startTarget(t)
	home, _ := filepath.Abs(filepath.Join(filepath.Dir(key), "home"))
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantOut    string
		wantErr    string
		wantStatus int
	}{
		{"separate streams and status", []string{"echo out; echo err >&2; exit 3"}, "", "out\n", "err\n", 3},
		{"stdin and eof", []string{"cat"}, "abc", "abc", "", 0},
		{"working directory", []string{"pwd"}, "", home + "\n", "", 0},
		{"environment", []string{"echo $HOME $USER"}, "", home + " root\n", "", 0},
		{"killed by signal", []string{"kill -TERM $$"}, "", "", "", 255},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sshtest.Run(t, &sshtest.Client{Addr: tg.Addr(), User: "root", Key: key, Args: tt.args, Stdin: tt.stdin})
			if res.Stdout != tt.wantOut || res.Exit != tt.wantStatus || (tt.wantErr != "" && res.Stderr != tt.wantErr) {
				t.Errorf("got out %q err %q status %d; want out %q err %q status %d",
					res.Stdout, res.Stderr, res.Exit, tt.wantOut, tt.wantErr, tt.wantStatus)
			}
		})
	}
}

func TestWrongKeyRefused(t *testing.T) {
	tg, _ := startTarget(t)
	other, _ := sshtest.Keygen(t, t.TempDir(), "other")
	res := sshtest.Run(t, &sshtest.Client{Addr: tg.Addr(), User: "root", Key: other, Args: []string{"true"}})
	if res.Exit != 255 || !strings.Contains(res.Stderr, "Permission denied") {
		t.Errorf("got status %d stderr %q; want 255 and Permission denied", res.Exit, res.Stderr)
	}
}

// TestSignalToProcessGroup uses SIGTERM: SIGINT may be ignored by
// inheritance when the tests run in a background job, and so by the shell.
func TestSignalToProcessGroup(t *testing.T) {
	tg, key := startTarget(t)
	c := dial(t, tg, key)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("echo ready; sleep 60"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("read = %q, %v", buf, err)
	}
	if err := s.Signal(gossh.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = s.Wait()
	var exitErr *gossh.ExitError
	if !errors.As(err, &exitErr) || exitErr.Signal() != "TERM" {
		t.Errorf("Wait = %v; want exit signal TERM", err)
	}
}

func TestOversizedWindowClamped(t *testing.T) {
	tg, key := startTarget(t)
	c := dial(t, tg, key)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 1<<30, 1<<30, nil); err != nil {
		t.Fatal(err)
	}
	out, err := s.Output("stty size")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "10000 10000" {
		t.Errorf("stty size = %q; want 10000 10000", got)
	}
}

func TestHostKeyPersisted(t *testing.T) {
	dir := t.TempDir()
	_, pub := sshtest.Keygen(t, dir, "id")
	keyFile := filepath.Join(dir, "keys", "host_ed25519")
	var keys []string
	for i := 0; i < 2; i++ {
		tg, err := sshtarget.Start(sshtarget.Options{HostKeyFile: keyFile, AuthorizedKeys: []gossh.PublicKey{pub}, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, gossh.FingerprintSHA256(tg.HostKey()))
		if err := tg.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if keys[0] != keys[1] {
		t.Errorf("host key changed across restarts: %v", keys)
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("host key mode = %v; want 0600", fi.Mode().Perm())
	}
}

func TestStartValidation(t *testing.T) {
	if _, err := sshtarget.Start(sshtarget.Options{}); !errors.Is(err, sshtarget.ErrNoAuthorizedKeys) {
		t.Errorf("Start without keys = %v; want ErrNoAuthorizedKeys", err)
	}
	_, pub := sshtest.Keygen(t, t.TempDir(), "id")
	if _, err := sshtarget.Start(sshtarget.Options{AuthorizedKeys: []gossh.PublicKey{pub}, Dir: "/nonexistent"}); err == nil {
		t.Error("Start with a missing dir = nil; want error")
	}
}

func TestCloseEndsSessions(t *testing.T) {
	tg, key := startTarget(t)
	c := &sshtest.Client{Addr: tg.Addr(), User: "root", Key: key, TTY: true}
	c.Start(t)
	c.Expect("demo$ ", timeout)
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if got := c.Wait(); got != 255 {
		t.Errorf("ssh exit after Close = %d; want 255", got)
	}
	if err := tg.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestBackgroundJobDoesNotHoldSession(t *testing.T) {
	tg, key := startTarget(t)
	c := &sshtest.Client{Addr: tg.Addr(), User: "root", Key: key, TTY: true}
	c.Start(t)
	c.Expect("demo$ ", timeout)
	c.Send("sleep 30 &\r")
	c.Expect("demo$ ", timeout)
	c.Send("exit\r")
	if got := c.Wait(); got != 0 {
		t.Errorf("exit = %d; want 0", got)
	}
}

// TestSlowClientGetsAllOutput: a command that exits while its client
// has not read its output (the SSH window is full) still delivers every
// byte, however long the client takes, as sshd does; while a background
// job that keeps the output pipe open does not hold the session.
func TestSlowClientGetsAllOutput(t *testing.T) {
	tg, key := startTarget(t)
	c := dial(t, tg, key)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The client's window (2 MiB) plus less than a pipe's buffer: the
	// command writes it all and exits while the rest waits for a window
	// the client does not open.
	const total = 2<<20 + 40<<10
	if err := s.Start("head -c " + strconv.Itoa(total) + " /dev/zero"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * drainWait) // the command exits meanwhile; nothing is read
	n, err := io.Copy(io.Discard, out)
	if err != nil || n != total {
		t.Fatalf("read %d of %d bytes (%v)", n, total, err)
	}
	if err := s.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}

	bg := sshtest.Run(t, &sshtest.Client{Addr: tg.Addr(), User: "root", Key: key, Args: []string{"sleep 120 & echo started"}})
	if bg.Exit != 0 || bg.Stdout != "started\n" {
		t.Fatalf("background job: %+v", bg)
	}
}

// drainWait is longer than the target's drain timeout (500 ms).
const drainWait = time.Second
