package benche2e

import (
	"os/user"
	"path/filepath"
	"testing"

	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// TestRelay runs the stock ssh client through the bare relay to a real
// sshd: stdout, stderr and the exit status come back as the host sent
// them, so the benchmark's reference leg does what a bastion must.
func TestRelay(t *testing.T) {
	dir := t.TempDir()
	key, pub := sshtest.Keygen(t, dir, "client")
	h := startSSHD(t, pub)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRelay(sshtest.NewSigner(t), h.Addr, &gossh.ClientConfig{
		User:            u.Username,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(sshtest.Signer(t, filepath.Join(dir, "client")))},
		HostKeyCallback: gossh.FixedHostKey(h.HostKey),
	}, []string{cipher})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res := sshtest.Run(t, &sshtest.Client{Addr: r.Addr(), User: u.Username, Key: key, Options: []string{"-c", cipher},
		Args: []string{"printf out; printf err >&2; exit 3"}})
	if res.Stdout != "out" || res.Stderr != "err" || res.Exit != 3 {
		t.Errorf("through the relay: stdout %q, stderr %q, exit %d; want out, err, 3", res.Stdout, res.Stderr, res.Exit)
	}
	// A cipher the relay does not offer is refused: every leg uses one.
	res = sshtest.Run(t, &sshtest.Client{Addr: r.Addr(), User: u.Username, Key: key, Options: []string{"-c", "chacha20-poly1305@openssh.com"}, Args: []string{"true"}})
	if res.Exit != 255 {
		t.Errorf("chacha20 through the relay: exit %d; want 255 (no common cipher)", res.Exit)
	}
}
