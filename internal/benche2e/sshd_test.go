package benche2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// sshdConfig is the benchmark host: key logins for the current user,
// aes128-gcm only (the cipher every leg uses), no PAM, logs on stderr.
// SHLVL=1 keeps bash from sourcing ~/.bashrc for commands run by sshd
// (Debian's bash does, SSH_SOURCE_BASHRC): root's on the build machines
// starts pyenv and takes seconds, which would be most of a run.
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
Ciphers aes128-gcm@openssh.com
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
PrintLastLog no
MaxStartups 100
MaxSessions 100
SetEnv SHLVL=1
LogLevel ERROR
`

// sshd is a private OpenSSH server.
type sshd struct {
	addr    string
	hostKey gossh.PublicKey
	pid     int
}

// startSSHD starts sshd on a free loopback port admitting keys for the
// current user (root on the build machines), stopped when tb ends.
func startSSHD(tb testing.TB, dir string, keys ...gossh.PublicKey) *sshd {
	tb.Helper()
	sshtest.RequireSSHD(tb)
	keyPath, hostKey := sshtest.Keygen(tb, dir, "ssh_host_ed25519_key")
	var auth strings.Builder
	for _, k := range keys {
		auth.Write(gossh.MarshalAuthorizedKey(k))
	}
	authPath := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authPath, []byte(auth.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	if os.Geteuid() == 0 { // privilege separation directory, made by Debian's service only
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	addr := freeAddr(tb)
	cfgPath := filepath.Join(dir, "sshd_config")
	cfg := fmt.Sprintf(sshdConfig, port(tb, addr), keyPath, filepath.Join(dir, "sshd.pid"), authPath)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(sshtest.SSHDPath, "-D", "-e", "-f", cfgPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	tb.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		<-done
	})
	waitDial(tb, "sshd", addr, done, filepath.Join(dir, "sshd.log"))
	return &sshd{addr: addr, hostKey: hostKey, pid: cmd.Process.Pid}
}

// waitDial waits until addr accepts connections; done closing first (the
// process exited) or a minute passing fails tb with the log's tail.
func waitDial(tb testing.TB, name, addr string, done <-chan struct{}, logPath string) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !dialable(addr) {
		select {
		case <-done:
			tb.Fatalf("benche2e: %s exited before listening on %s:\n%s", name, addr, tail(logPath, 30))
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("benche2e: %s not listening on %s after a minute:\n%s", name, addr, tail(logPath, 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
