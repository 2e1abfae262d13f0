package devstack

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/query"
)

// startStack runs the whole dev stack on free ports for one test.
func startStack(t *testing.T) *Stack {
	t.Helper()
	sshtest.RequireSSH(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := Start(ctx, Options{
		Dir:     t.TempDir(),
		SSHAddr: "127.0.0.1:0",
		Logger:  discard(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (s *Stack) client(user string, tty bool, args ...string) *sshtest.Client {
	return &sshtest.Client{Addr: s.SSHAddr(), User: user, Key: filepath.Join(s.Dir, "keys", user), TTY: tty, Args: args}
}

// waitSession polls the audit store until the session of user on host has
// ended and is queryable, as an auditor would.
func waitSession(t *testing.T, st *Stack, user, host string) query.Session {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := st.Store.Sessions(ctx, query.Filter{User: user, Host: host})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if !s.Open {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ended session of %s on %s in ClickHouse after 60s (recorder %+v, ingest %+v)", user, host, st.Recorder.Stats(), st.Ingester.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRecordedSessionEndToEnd is the backbone: the real OpenSSH client in a
// pty, through the gateway to a demo host, recorded through the spool,
// Kafka and ingest into ClickHouse, then found, read, verified and exported
// by the auditor over SSH.
func TestRecordedSessionEndToEnd(t *testing.T) {
	st := startStack(t)

	alice := st.client("alice", true, "demo-staging")
	alice.Start(t)
	alice.Expect("demo-staging$ ", 20*time.Second)
	alice.Send("echo hello-$((40+2))\r")
	alice.Expect("hello-42", 10*time.Second)
	alice.Send("echo wrnog\x7f\x7f\x7fong\r") // typo fixed with backspace
	alice.Expect("wrong", 10*time.Second)
	alice.ResizeConfirmed(100, 30, 10*time.Second)
	alice.Send("exit 7\r")
	if got := alice.Wait(); got != 7 {
		t.Fatalf("ssh exit status = %d; want 7\n%s", got, alice.Output())
	}

	sess := waitSession(t, st, "alice", "demo-staging")
	if sess.ExitStatus != 7 || sess.Kind != "shell" || sess.Login != "root" {
		t.Errorf("session summary = %+v; want exit 7, kind shell, login root", sess)
	}
	ctx := context.Background()
	events, err := st.Store.Events(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	var output strings.Builder
	var sawResize bool
	for _, e := range events {
		switch e.Type {
		case event.Output:
			output.Write(e.Data)
		case event.Input:
			if e.Actor != "alice" {
				t.Errorf("input seq %d typed by %q; want alice", e.Seq, e.Actor)
			}
		case event.Resize:
			sawResize = sawResize || (e.Meta["cols"] == "100" && e.Meta["rows"] == "30")
		}
	}
	if !strings.Contains(output.String(), "hello-42") {
		t.Errorf("recorded output lacks hello-42:\n%q", output.String())
	}
	if !sawResize {
		t.Error("no resize to 100x30 recorded")
	}
	want := map[string]bool{"echo hello-$((40+2))": false, "echo wrong": false, "exit 7": false}
	for _, c := range query.Commands(events) {
		if _, ok := want[c.Line]; ok {
			want[c.Line] = true
			if c.Actor != "alice" {
				t.Errorf("command %q attributed to %q; want alice", c.Line, c.Actor)
			}
		}
	}
	for line, found := range want {
		if !found {
			t.Errorf("command %q not reconstructed; got %+v", line, query.Commands(events))
		}
	}
	if res, err := st.Store.Verify(ctx, sess.ID); err != nil || !res.OK() {
		t.Errorf("Verify = %+v, %v; want OK", res, err)
	}

	// The auditor reaches the same answers over SSH.
	carol := func(args ...string) sshtest.Result {
		return sshtest.Run(t, st.client("carol", false, append([]string{"audit"}, args...)...))
	}
	res := carol("sessions", "--user", "alice", "--json")
	if res.Exit != 0 || !strings.Contains(res.Stdout, sess.ID) {
		t.Fatalf("audit sessions --json: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(res.Stdout))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("audit sessions --json line %q: %v", sc.Text(), err)
		}
	}
	if res := carol("show", sess.ID); res.Exit != 0 || !strings.Contains(res.Stdout, "echo hello-$((40+2))") || !strings.Contains(res.Stdout, "alice") {
		t.Errorf("audit show: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
	}
	if res := carol("verify", sess.ID); res.Exit != 0 || !strings.HasPrefix(res.Stdout, "OK") {
		t.Errorf("audit verify: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
	}
	res = carol("export", sess.ID, "--format", "asciicast")
	header, _, _ := strings.Cut(res.Stdout, "\n")
	var h struct {
		Version int `json:"version"`
	}
	if res.Exit != 0 || json.Unmarshal([]byte(header), &h) != nil || h.Version != 2 || !strings.Contains(res.Stdout, "hello-42") {
		t.Errorf("audit export: exit %d, header %q\n%s", res.Exit, header, res.Stderr)
	}

	// Exec through the bastion, and the recording of it.
	res = sshtest.Run(t, st.client("alice", false, "demo-staging", "--", "echo out; echo err >&2; exit 3"))
	if res.Exit != 3 || res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Errorf("exec: exit %d stdout %q stderr %q; want 3, out, err", res.Exit, res.Stdout, res.Stderr)
	}

	// Tampering: flip one byte of a stored output event; verify names it.
	var target uint64
	for _, e := range events {
		if e.Type == event.Output && strings.Contains(string(e.Data), "hello-42") {
			target = e.Seq
			break
		}
	}
	if err := st.ClickHouse.Exec(ctx, "ALTER TABLE events UPDATE data = replaceOne(data, 'hello-42', 'hello-43') WHERE session = ? AND seq = ?", sess.ID, target); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res = carol("verify", sess.ID)
		if res.Exit != 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // mutations apply asynchronously
	}
	if res.Exit != 1 || !strings.Contains(res.Stdout+res.Stderr, "seq "+itoa(target)) {
		t.Errorf("audit verify after tampering seq %d: exit %d\n%s%s", target, res.Exit, res.Stdout, res.Stderr)
	}
}

// TestAuditRequiresRole checks that an admin cannot read recordings.
func TestAuditRequiresRole(t *testing.T) {
	st := startStack(t)
	res := sshtest.Run(t, st.client("alice", false, "audit", "sessions"))
	if res.Exit == 0 || res.Stdout != "" {
		t.Fatalf("alice audit sessions: exit %d stdout %q; want refusal", res.Exit, res.Stdout)
	}
	res = sshtest.Run(t, st.client("bob", false, "demo-staging", "--", "true"))
	if res.Exit == 0 {
		t.Fatalf("bob (reviewer) reached demo-staging: exit 0; want refusal")
	}
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
