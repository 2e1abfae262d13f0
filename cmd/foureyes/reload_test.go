package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/broker"
	"github.com/foureyes/foureyes/internal/reloadctl"
	"github.com/foureyes/foureyes/internal/sshtarget"
	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"

	"github.com/foureyes/foureyes/internal/freeport"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func authLine(k gossh.PublicKey) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
}

// TestReloadCommand runs `foureyes gateway` and edits its configuration:
// `foureyes reload` refuses an invalid file (the gateway keeps running
// with the old one), and applies a valid one, ending the live session of
// the user whose key was removed with "access revoked".
func TestReloadCommand(t *testing.T) {
	sshtest.RequireSSH(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "gw")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	_, clientPub := sshtest.Keygen(t, data, "upstream_ed25519")
	aliceKey, alicePub := sshtest.Keygen(t, dir, "alice")
	_, otherPub := sshtest.Keygen(t, dir, "other")
	target, err := sshtarget.Start(sshtarget.Options{Name: "demo", AuthorizedKeys: []gossh.PublicKey{clientPub}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	b, err := broker.Start("127.0.0.1:0", filepath.Join(dir, "kafka"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := freeport.MustAddr(t)
	cfgPath := filepath.Join(dir, "foureyes.yaml")
	write := func(aliceLine string) {
		t.Helper()
		yaml := "gateway:\n  id: gw\n  listen: " + addr + "\n  data_dir: " + data + "\n" +
			"kafka:\n  brokers: [" + b.Addr() + "]\n  partitions: 1\n" +
			"roles:\n  admin: {connect: ['*']}\n" +
			"users:\n  - {name: alice, keys: ['" + aliceLine + "'], roles: [admin]}\n" +
			"hosts:\n  - {name: demo, address: '" + target.Addr() + "', host_key: '" + authLine(target.HostKey()) + "'}\n"
		if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(authLine(alicePub))

	ctx, cancel := context.WithCancel(context.Background())
	var gwOut, gwErr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"gateway", "--config", cfgPath}, &gwOut, &gwErr) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("gateway exit %d: %s", code, gwErr.String())
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(data, reloadctl.PIDFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid file; gateway stderr:\n%s", gwErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	alice := &sshtest.Client{Addr: addr, User: "alice", Key: aliceKey, TTY: true, Args: []string{"demo"}}
	alice.Start(t)
	alice.Expect("demo$ ", 30*time.Second)

	// Invalid: refused by `foureyes reload` itself, the gateway untouched.
	write(`command="/bin/sh" ` + authLine(alicePub))
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"reload", "--config", cfgPath}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "command is not supported") {
		t.Fatalf("invalid reload: exit %d, stderr %q", code, errOut.String())
	}
	alice.Send("echo alive-$((40+2))\r")
	alice.Expect("alive-42", 30*time.Second)

	// Valid: alice's key replaced; her session ends.
	write(authLine(otherPub))
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"reload", "--config", cfgPath}, &out, &errOut); code != 0 {
		t.Fatalf("reload: exit %d, stderr %q", code, errOut.String())
	}
	for _, want := range []string{"1 live session(s) ended", "users changed: alice"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("reload output %q lacks %q", out.String(), want)
		}
	}
	alice.Expect("access revoked (key removed); session ended", 30*time.Second)
	alice.Wait()
}
