package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// Keygen writes a new ed25519 key pair as dir/name (OpenSSH private key
// format, mode 0600) and dir/name.pub (authorized_keys line), and returns
// the private key's path and the public key.
func Keygen(tb testing.TB, dir, name string) (privPath string, pub gossh.PublicKey) {
	tb.Helper()
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(edPriv, name)
	if err != nil {
		tb.Fatal(err)
	}
	pub, err = gossh.NewPublicKey(edPub)
	if err != nil {
		tb.Fatal(err)
	}
	privPath = filepath.Join(dir, name)
	if err := os.WriteFile(privPath, pem.EncodeToMemory(block), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(privPath+".pub", gossh.MarshalAuthorizedKey(pub), 0o644); err != nil {
		tb.Fatal(err)
	}
	return privPath, pub
}

// Signer loads the private key at path, for x/crypto/ssh clients.
func Signer(tb testing.TB, path string) gossh.Signer {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := gossh.ParsePrivateKey(b)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// NewSigner returns a new ed25519 signer held in memory only, e.g. a
// test server's host key.
func NewSigner(tb testing.TB) gossh.Signer {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
