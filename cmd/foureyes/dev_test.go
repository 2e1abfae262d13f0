package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/internal/devstack"
	"github.com/foureyes/foureyes/internal/sshtest"
)

// TestDevInstructionsAreShellCommands pastes every ssh line `foureyes dev`
// prints into a shell, as a newcomer does, with ssh -G: the shell must
// parse it and ssh must accept every option (a SetEnv value with a space
// needs its quotes to reach ssh), also when the state directory has a
// space and a quote in its path.
func TestDevInstructionsAreShellCommands(t *testing.T) {
	sshtest.RequireSSH(t)
	dir := filepath.Join(t.TempDir(), "my dev's state")
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, u := range devstack.DemoUsers { // ssh -G lists only keys that exist
		if err := os.WriteFile(filepath.Join(dir, "keys", u), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, hostKey := sshtest.Keygen(t, t.TempDir(), "host")
	if err := devstack.WriteSSHConfig(dir, "127.0.0.1:2222", hostKey); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printInstructions(&out, dir, "127.0.0.1:2222")
	n := 0
	for _, line := range strings.Split(out.String(), "\n") {
		cmdline, ok := strings.CutPrefix(line, "  ssh ")
		if !ok {
			continue
		}
		n++
		// A line may redirect stdout ("> session.cast"): show the file too.
		sh := exec.Command("sh", "-c", "set -e; ssh -G "+cmdline+"\nif [ -f session.cast ]; then cat session.cast; fi")
		sh.Dir = t.TempDir()
		got, err := sh.CombinedOutput()
		if err != nil {
			t.Errorf("pasting %q: %v\n%s", line, err, got)
			continue
		}
		if !strings.Contains(string(got), "\nidentityfile "+filepath.Join(dir, "keys")+"/") ||
			!strings.Contains(string(got), "\nuserknownhostsfile "+filepath.Join(dir, "known_hosts")+"\n") {
			t.Errorf("pasting %q: ssh -G shows no identity file or known hosts file under %s:\n%s", line, dir, got)
		}
		for _, want := range []string{"\nhostname 127.0.0.1\n", "\nport 2222\n", "\nidentitiesonly yes\n", "\nstricthostkeychecking true\n", "\nhostkeyalias foureyes-dev\n"} {
			if !strings.Contains(string(got), want) {
				t.Errorf("pasting %q: ssh -G lacks %q:\n%s", line, strings.TrimSpace(want), got)
			}
		}
		if strings.Contains(cmdline, "SetEnv") && !strings.Contains(string(got), "\nsetenv FOUREYES_REASON=restart cron\n") {
			t.Errorf("pasting %q: ssh -G shows no FOUREYES_REASON:\n%s", line, got)
		}
	}
	if n < 10 {
		t.Errorf("found %d ssh lines in the instructions; want at least 10:\n%s", n, out.String())
	}
}
