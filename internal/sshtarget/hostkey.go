package sshtarget

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// loadOrCreateHostKey returns the ed25519 signer stored at path, creating
// the file (mode 0600, parent 0700) on first use. An empty path gives a key
// that lives only in memory.
func loadOrCreateHostKey(path string) (gossh.Signer, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err == nil {
			s, err := gossh.ParsePrivateKey(b)
			if err != nil {
				return nil, fmt.Errorf("sshtarget: host key %s: %w", path, err)
			}
			return s, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("sshtarget: host key: %w", err)
		}
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sshtarget: host key: %w", err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("sshtarget: host key: %w", err)
	}
	if path == "" {
		return signer, nil
	}
	block, err := gossh.MarshalPrivateKey(priv, "sshtarget host key")
	if err != nil {
		return nil, fmt.Errorf("sshtarget: host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sshtarget: host key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("sshtarget: host key: %w", err)
	}
	return signer, nil
}
