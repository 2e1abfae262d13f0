// Package keyfile loads the Ed25519 signing keys of foureyes processes
// (the gateway's, which signs recordings, and the retention job's, which
// signs retention_log rows) from PKCS#8 PEM files, creating them on first
// use.
package keyfile

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrPermissions: the key file is readable by group or others. Anyone who
// can read it can sign forged records.
var ErrPermissions = errors.New("signing key file is readable by group or others")

// Load returns the Ed25519 key stored at path (PKCS#8 PEM), creating one
// there on first use (file 0600, new parent directories 0700). A key file
// readable by group or others is refused with ErrPermissions. Errors name
// path; callers add their package prefix.
func Load(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("%w: %s has mode %04o; run: chmod 600 %s", ErrPermissions, path, perm, path)
		}
		return read(path)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	// O_EXCL: two processes starting at once must not both write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return read(path)
	}
	if err != nil {
		return nil, err
	}
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return priv, nil
}

func read(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", path)
	}
	return priv, nil
}
