package sshtest_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	priv, pub := sshtest.Keygen(t, dir, "id")
	fi, err := os.Stat(priv)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v; want 0600", fi.Mode().Perm())
	}
	if got := sshtest.Signer(t, priv).PublicKey(); string(got.Marshal()) != string(pub.Marshal()) {
		t.Error("private and public key differ")
	}
	b, err := os.ReadFile(priv + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if k, _, _, _, err := gossh.ParseAuthorizedKey(b); err != nil || k.Type() != gossh.KeyAlgoED25519 {
		t.Errorf("pub file: %v %v", k, err)
	}
}

func TestSSHDRunAndTerminal(t *testing.T) {
	dir := t.TempDir()
	key, pub := sshtest.Keygen(t, dir, "id")
	addr, hostKey := sshtest.StartSSHD(t, pub)
	user := sshtest.LoginUser(t)

	res := sshtest.Run(t, &sshtest.Client{Addr: addr, User: user, Key: key, Args: []string{"echo out; echo err >&2; exit 4"}})
	if res.Stdout != "out\n" || res.Stderr != "err\n" || res.Exit != 4 {
		t.Errorf("Run = %+v; want out/err/4", res)
	}

	c := &sshtest.Client{Addr: addr, User: user, Key: key, TTY: true, Args: []string{"read x; echo got:$x; stty size"}, Cols: 90, Rows: 30}
	c.Start(t)
	c.Send("abc\r")
	c.Expect("got:abc", 20*time.Second)
	c.Expect("30 90", 20*time.Second)
	if code := c.Wait(); code != 0 {
		t.Errorf("exit = %d; want 0; output %q", code, c.Output())
	}

	// The host key returned is the one sshd presents.
	cl, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User:            user,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(sshtest.Signer(t, key))},
		HostKeyCallback: gossh.FixedHostKey(hostKey),
	})
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()

	wrong, _ := sshtest.Keygen(t, dir, "wrong")
	res = sshtest.Run(t, &sshtest.Client{Addr: addr, User: user, Key: wrong, Args: []string{"true"}})
	if res.Exit != 255 || !strings.Contains(res.Stderr, "Permission denied") {
		t.Errorf("wrong key: %+v", res)
	}
}

func TestExpectTimeoutReportsOutput(t *testing.T) {
	dir := t.TempDir()
	key, pub := sshtest.Keygen(t, dir, "id")
	addr, _ := sshtest.StartSSHD(t, pub)
	c := &sshtest.Client{Addr: addr, User: sshtest.LoginUser(t), Key: key, TTY: true, Args: []string{"echo marker"}}
	c.Start(t)
	if _, err := c.ExpectErr("never printed", 20*time.Second); err == nil || !strings.Contains(err.Error(), "marker") {
		t.Errorf("ExpectErr = %v; want an error quoting the output", err)
	}
	c.Wait()
}
