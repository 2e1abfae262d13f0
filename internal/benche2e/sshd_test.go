package benche2e

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// sshdConfig is what the benchmark host changes in sshtest's private
// sshd: aes128-gcm only (the cipher every leg uses). SHLVL=1 keeps bash
// from sourcing ~/.bashrc for commands run by sshd (Debian's bash does,
// SSH_SOURCE_BASHRC): root's on the build machines starts pyenv and takes
// seconds, which would be most of a run.
const sshdConfig = `Ciphers aes128-gcm@openssh.com
SetEnv SHLVL=1
`

// startSSHD starts sshd on a free loopback port admitting keys for the
// current user (root on the build machines), stopped when tb ends.
func startSSHD(tb testing.TB, keys ...gossh.PublicKey) *sshtest.SSHD {
	tb.Helper()
	return sshtest.StartSSHDWith(tb, sshtest.SSHDOptions{Keys: keys, Config: sshdConfig})
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
