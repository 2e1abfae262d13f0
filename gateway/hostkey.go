package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/foureyes/foureyes/config"
	gossh "golang.org/x/crypto/ssh"
)

// loadOrCreateKey returns the private key stored at path, creating an
// ed25519 key there (file 0600, new parent directories 0700) on first
// use. what names the key in errors ("host key", "client key"). A key
// file readable by group or others is refused: anyone who can read it can
// impersonate the bastion.
func loadOrCreateKey(path, what string) (gossh.Signer, error) {
	if path == "" {
		return nil, fmt.Errorf("gateway: %s file not configured", what)
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("%w: %s %s has mode %04o; run: chmod 600 %s",
				ErrKeyPermissions, what, path, perm, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("gateway: %s: %w", what, err)
		}
		s, err := gossh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("gateway: %s %s: %w", what, path, err)
		}
		return s, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("gateway: %s: %w", what, err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("gateway: %s: %w", what, err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "foureyes "+what)
	if err != nil {
		return nil, fmt.Errorf("gateway: %s: %w", what, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("gateway: %s: %w", what, err)
	}
	// O_EXCL: two gateways starting on the same data dir must not
	// overwrite each other's fresh key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreateKey(path, what)
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: %s: %w", what, err)
	}
	if _, err := f.Write(pem.EncodeToMemory(block)); err != nil {
		f.Close()
		return nil, fmt.Errorf("gateway: %s: %w", what, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("gateway: %s: %w", what, err)
	}
	return gossh.NewSignerFromKey(priv)
}

// ClientPublicKey returns the authorized_keys line of the key the bastion
// logs into hosts with (cfg.Gateway.ClientKeyFile), creating the key on
// first use. Operators install this line on every host.
func ClientPublicKey(cfg *config.Config) (string, error) {
	s, err := loadOrCreateKey(cfg.Gateway.ClientKeyFile, "client key")
	if err != nil {
		return "", err
	}
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey())))
	return line + " foureyes@" + cfg.Gateway.ID, nil
}
