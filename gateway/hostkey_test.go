package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/config"
	gossh "golang.org/x/crypto/ssh"
)

func TestKeysCreatedAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "keys")
	path := filepath.Join(dir, "host_ed25519")
	s1, err := loadOrCreateKey(path, "host key")
	if err != nil {
		t.Fatal(err)
	}
	if s1.PublicKey().Type() != gossh.KeyAlgoED25519 {
		t.Errorf("type = %s; want ed25519", s1.PublicKey().Type())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %04o; want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %04o; want 0700", di.Mode().Perm())
	}
	s2, err := loadOrCreateKey(path, "host key")
	if err != nil {
		t.Fatal(err)
	}
	if gossh.FingerprintSHA256(s1.PublicKey()) != gossh.FingerprintSHA256(s2.PublicKey()) {
		t.Error("key changed on reload")
	}
}

func TestKeyPermissionsRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		path := filepath.Join(t.TempDir(), "host_ed25519")
		if _, err := loadOrCreateKey(path, "host key"); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := loadOrCreateKey(path, "host key")
		if !errors.Is(err, ErrKeyPermissions) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: err = %v; want ErrKeyPermissions naming the file and chmod 600", mode, err)
		}
	}
}

func TestNewRefusesReadableKeys(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse([]byte("gateway: {data_dir: " + dir + "}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, Options{}); !errors.Is(err, ErrNoRecorder) {
		t.Errorf("New without recorder = %v; want ErrNoRecorder", err)
	}
	line, err := ClientPublicKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line)); err != nil || !strings.HasPrefix(line, "ssh-ed25519 ") {
		t.Errorf("ClientPublicKey = %q, %v", line, err)
	}
	again, _ := ClientPublicKey(cfg)
	if again != line {
		t.Error("ClientPublicKey changed between calls")
	}
	if err := os.Chmod(cfg.Gateway.ClientKeyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, Options{Recorder: &spyRecorder{}}); !errors.Is(err, ErrKeyPermissions) {
		t.Errorf("New with a readable client key = %v; want ErrKeyPermissions", err)
	}
}
