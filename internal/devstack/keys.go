package devstack

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

// demoKey returns the public key of the demo identity name, creating
// DIR/keys/NAME (OpenSSH private key, mode 0600) and NAME.pub on first use.
func demoKey(keysDir, name string) (gossh.PublicKey, error) {
	priv := filepath.Join(keysDir, name)
	if b, err := os.ReadFile(priv); err == nil {
		signer, err := gossh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("devstack: %s: %w (delete it to get a new key)", priv, err)
		}
		return signer.PublicKey(), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	if err := os.MkdirAll(keysDir, 0o700); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(key, name+"@foureyes-dev")
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	sshPub, err := gossh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	if err := os.WriteFile(priv, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	line := authorizedLine(sshPub) + " " + name + "@foureyes-dev\n"
	if err := os.WriteFile(priv+".pub", []byte(line), 0o644); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	return sshPub, nil
}

// authorizedLine returns k in authorized_keys form without a newline.
func authorizedLine(k gossh.PublicKey) string {
	b := gossh.MarshalAuthorizedKey(k)
	return string(b[:len(b)-1])
}
