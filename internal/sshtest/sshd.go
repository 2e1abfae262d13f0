package sshtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/freeport"
	gossh "golang.org/x/crypto/ssh"
)

// sshdConfig is the private sshd's configuration: key logins only, no
// forwarding, the sftp subsystem as Debian ships it, logs on stderr.
const sshdConfig = `Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PrintMotd no
PrintLastLog no
AcceptEnv LANG LC_*
MaxStartups 200
MaxSessions 200
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel INFO
`

// LoginUser returns the name of the user running the tests: StartSSHD's
// server accepts logins only for that user (root in CI).
func LoginUser(tb testing.TB) string {
	tb.Helper()
	u, err := user.Current()
	if err != nil {
		tb.Fatal(err)
	}
	return u.Username
}

// StartSSHD starts a real OpenSSH server on 127.0.0.1 with a new ed25519
// host key, admitting authorizedKey for LoginUser, and stops it when the
// test ends. It returns the server's address and host key.
func StartSSHD(tb testing.TB, authorizedKey gossh.PublicKey) (addr string, hostKey gossh.PublicKey) {
	tb.Helper()
	s := StartSSHDWith(tb, SSHDOptions{Keys: []gossh.PublicKey{authorizedKey}})
	return s.Addr, s.HostKey
}

// SSHDOptions changes what StartSSHDWith's server does.
type SSHDOptions struct {
	// Keys are the public keys admitted for LoginUser.
	Keys []gossh.PublicKey
	// Config holds sshd_config lines placed before the defaults; sshd
	// keeps the first value of a keyword, so they override them.
	Config string
}

// SSHD is a running private OpenSSH server.
type SSHD struct {
	Addr    string          // 127.0.0.1:PORT
	HostKey gossh.PublicKey // its ed25519 host key
	PID     int             // the listening sshd process
}

// StartSSHDWith is StartSSHD with options.
func StartSSHDWith(tb testing.TB, o SSHDOptions) *SSHD {
	tb.Helper()
	RequireSSHD(tb)
	dir := tb.TempDir()
	keyPath, hostKey := Keygen(tb, dir, "ssh_host_ed25519_key")
	var auth []byte
	for _, k := range o.Keys {
		auth = append(auth, gossh.MarshalAuthorizedKey(k)...)
	}
	authPath := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authPath, auth, 0o600); err != nil {
		tb.Fatal(err)
	}
	// sshd refuses to start without its privilege separation directory
	// (Debian creates it only when the ssh service starts).
	if _, err := os.Stat("/run/sshd"); err != nil && os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ { // a free port may be taken before sshd binds it
		port, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		cfgPath := filepath.Join(dir, "sshd_config")
		cfg := o.Config + "\n" + fmt.Sprintf(sshdConfig, port, keyPath, filepath.Join(dir, "sshd.pid"), authPath)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			tb.Fatal(err)
		}
		pid, err := startSSHD(tb, cfgPath)
		if err == nil {
			return &SSHD{Addr: fmt.Sprintf("127.0.0.1:%d", port), HostKey: hostKey, PID: pid}
		}
		lastErr = err
	}
	tb.Fatalf("sshtest: sshd did not start: %v", lastErr)
	return nil
}

// startSSHD runs sshd -D -e -f cfgPath and waits until it listens; it
// returns sshd's process id.
func startSSHD(tb testing.TB, cfgPath string) (int, error) {
	cmd := exec.Command(SSHDPath, "-D", "-e", "-f", cfgPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	ready := make(chan struct{})
	readerDone := make(chan struct{})
	var log strings.Builder // written by the reader until ready or EOF
	go func() {
		defer close(readerDone)
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			if !signalled {
				log.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), "Server listening on") {
					signalled = true
					close(ready)
				}
			}
		}
	}()
	stop := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
		<-readerDone
	}
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	select {
	case <-ready:
		tb.Cleanup(stop)
		return cmd.Process.Pid, nil
	case <-readerDone:
		stop()
		return 0, fmt.Errorf("sshd exited: %s", log.String())
	case <-timer.C:
		stop()
		return 0, fmt.Errorf("sshd not listening after %v", waitLimit)
	}
}

// freePort returns a TCP port on 127.0.0.1 for sshd to listen on.
func freePort() (int, error) { return freeport.Port() }
