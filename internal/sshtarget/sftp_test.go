package sshtarget_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/internal/sshtarget"
	"github.com/foureyes/foureyes/internal/sshtest"
)

// requireSFTPServer skips (fails under CI=true) without sftp-server.
func requireSFTPServer(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sshtarget.SFTPServer); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: apt-get install openssh-sftp-server", sshtarget.SFTPServer)
		}
		t.Skipf("%s missing: apt-get install openssh-sftp-server", sshtarget.SFTPServer)
	}
}

// TestSFTPSubsystem drives the real sftp client against the target: the
// subsystem runs the real sftp-server in Options.Dir.
func TestSFTPSubsystem(t *testing.T) {
	requireSFTPServer(t)
	tg, key := startTarget(t)
	home := filepath.Join(filepath.Dir(key), "home")
	local := t.TempDir()
	want := bytes.Repeat([]byte("sftp target\n"), 5000)
	if err := os.WriteFile(filepath.Join(local, "up.txt"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	c := &sshtest.Client{Addr: tg.Addr(), User: "root", Key: key}
	batch := strings.Join([]string{
		"put " + filepath.Join(local, "up.txt") + " up.txt",
		"mkdir d",
		"rename up.txt d/moved.txt",
		"get d/moved.txt " + filepath.Join(local, "down.txt"),
		"pwd",
	}, "\n") + "\n"
	res := sshtest.RunSFTP(t, c, batch)
	if res.Exit != 0 {
		t.Fatalf("sftp exit %d; stderr:\n%s", res.Exit, res.Stderr)
	}
	if got, err := os.ReadFile(filepath.Join(home, "d", "moved.txt")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("file on the target: %d bytes, err %v; want %d bytes", len(got), err, len(want))
	}
	if got, err := os.ReadFile(filepath.Join(local, "down.txt")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("downloaded: %d bytes, err %v; want %d bytes", len(got), err, len(want))
	}
	abs, _ := filepath.Abs(home)
	if !strings.Contains(res.Stdout, "Remote working directory: "+abs) {
		t.Errorf("pwd: got %q; want the target's Dir %s", res.Stdout, abs)
	}
}

// TestOtherSubsystemRefused: only sftp is served.
func TestOtherSubsystemRefused(t *testing.T) {
	tg, key := startTarget(t)
	c := dial(t, tg, key)
	for _, name := range []string{"netconf", "", "sftp\x00x", "SFTP"} {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RequestSubsystem(name); err == nil {
			t.Errorf("subsystem %q accepted", name)
		}
		s.Close()
	}
}
