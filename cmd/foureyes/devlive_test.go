package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/devstack"
	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// TestDevPrintedCommandsWork starts the dev stack in a directory whose name
// has a space and a quote, prints the instructions with that directory as
// a user types it (relative), and runs every printed ssh command with the
// real OpenSSH client from where the user started dev: each logs in with
// the pinned host key (no prompt, no trust on first use) and reaches the
// bastion as its user. demo-prod lines wait for a reviewer and are only
// parsed (TestDevInstructionsAreShellCommands); the four-eyes flow has its
// own test in internal/devstack. A changed host key is refused. The debug
// logs of the whole run repeat no attribute (component=recorder twice).
func TestDevPrintedCommandsWork(t *testing.T) {
	sshtest.RequireSSH(t)
	parent := t.TempDir()
	rel := "my dev's 100% state"
	logs := &sshtest.Buffer{}
	attrs := newAttrCheck(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := devstack.Start(ctx, devstack.Options{Dir: filepath.Join(parent, rel), SSHAddr: "127.0.0.1:0",
		Logger: slog.New(attrs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	var out bytes.Buffer
	t.Chdir(parent) // where the user started dev: the Include line's path is absolute
	printInstructions(&out, rel, st.SSHAddr())
	home := t.TempDir() // no ~/.ssh of the machine's user
	scpSum := ""        // SHA-256 of the file the scp example uploads
	run := func(cmdline, stdin string, env ...string) (code int, stdout, stderr string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		sh := exec.CommandContext(ctx, "sh", "-c", cmdline)
		sh.Dir = parent
		sh.Env = append(append(os.Environ(), "HOME="+home, "SSH_AUTH_SOCK="), env...)
		sh.Stdin = strings.NewReader(stdin)
		var o, e bytes.Buffer
		sh.Stdout, sh.Stderr = &o, &e
		err := sh.Run()
		var exitErr *exec.ExitError
		switch {
		case errors.As(err, &exitErr):
			code = exitErr.ExitCode()
		case err != nil:
			t.Fatalf("%s: %v", cmdline, err)
		}
		return code, o.String(), e.String()
	}

	cfgArg := shellQuote(filepath.Join(rel, devstack.SSHConfigName))
	staging := filepath.Join(parent, rel, "targets", "demo-staging", "home")
	n, tools, includes := 0, 0, 0
	for _, line := range strings.Split(out.String(), "\n") {
		cmdline, ok := strings.CutPrefix(line, "  ")
		if inc, isInc := strings.CutPrefix(cmdline, "Include "); ok && isInc {
			// The printed Include line, pasted into a config of the
			// user's (ssh reads ~/.ssh/config from the password
			// database's home, not $HOME: a file of our own with -F):
			// the hosts resolve to the bastion, alice's name and key.
			main := filepath.Join(home, "config")
			if err := os.WriteFile(main, []byte("Include "+inc+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := run("ssh -F "+shellQuote(main)+" -G demo-staging", "")
			_, port, _ := strings.Cut(st.SSHAddr(), ":")
			for _, want := range []string{"\nuser alice+demo-staging\n", "\nhostname 127.0.0.1\n", "\nport " + port + "\n",
				"\nhostkeyalias [127.0.0.1]:" + port + "\n", "\nstricthostkeychecking true\n", "/keys/alice\n"} {
				if code != 0 || !strings.Contains(stdout, want) {
					t.Errorf("ssh -G through the printed %q: exit %d, stderr %q, lacks %q:\n%s", cmdline, code, stderr, strings.TrimSpace(want), stdout)
				}
			}
			includes++
			continue
		}
		if ok && (strings.HasPrefix(cmdline, "scp ") || strings.HasPrefix(cmdline, "rsync ") || strings.HasPrefix(cmdline, "ansible ")) {
			tools++
			// Ansible's remote shell commands do not quote the remote
			// temporary directory, which defaults to one under the demo
			// host's home — here under this test's deliberately hostile
			// directory name: point it elsewhere; the command is as printed.
			code, stdout, stderr := run(cmdline, "", "ANSIBLE_REMOTE_TMP="+t.TempDir())
			if code != 0 {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0", cmdline, code, stdout, stderr)
				continue
			}
			switch {
			case strings.HasPrefix(cmdline, "scp "):
				want, _ := os.ReadFile(filepath.Join(parent, rel, "keys", "alice.pub"))
				if got, err := os.ReadFile(filepath.Join(staging, "alice.pub")); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: alice.pub on demo-staging = %q, %v; want %q", cmdline, got, err, want)
				}
				scpSum = fmt.Sprintf("%x", sha256.Sum256(want))
			case strings.HasPrefix(cmdline, "rsync "):
				if _, err := os.Stat(filepath.Join(staging, "copy", "alice.conf")); err != nil {
					t.Errorf("%s: nothing synced to demo-staging: %v", cmdline, err)
				}
			default:
				if !strings.Contains(stdout, `"ping": "pong"`) {
					t.Errorf("%s: stdout %q, stderr %q; want pong", cmdline, stdout, stderr)
				}
			}
			continue
		}
		if !ok || !strings.HasPrefix(cmdline, "ssh ") {
			continue
		}
		// Short: "ssh -F .dev/ssh_config alice demo-staging -- uname -a".
		if short := strings.Replace(cmdline, cfgArg, ".dev/ssh_config", 1); len(short) > 100 {
			t.Errorf("printed command is %d characters long with .dev: %q", len(short), short)
		}
		if strings.Contains(cmdline, "demo-prod") {
			continue
		}
		n++
		code, stdout, stderr := run(cmdline, "echo via-shell; exit 0\n")
		if code == 255 || strings.Contains(stderr, "Permission denied") || strings.Contains(stderr, "Host key verification failed") ||
			strings.Contains(stderr, "authenticity of host") {
			t.Errorf("%s: exit %d, stderr %q: did not log in", cmdline, code, stderr)
			continue
		}
		switch {
		case strings.Contains(cmdline, "uname -a"):
			if code != 0 || !strings.Contains(stdout, "Linux") {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0 and Linux", cmdline, code, stdout, stderr)
			}
		case strings.Contains(cmdline, "-t alice demo-staging"):
			if code != 0 || !strings.Contains(stdout, "via-shell") {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want the shell's echo", cmdline, code, stdout, stderr)
			}
		case strings.HasSuffix(cmdline, "bob sessions"), strings.HasSuffix(cmdline, "carol audit sessions"):
			if code != 0 {
				t.Errorf("%s: exit %d, stderr %q; want 0", cmdline, code, stderr)
			}
		case strings.Contains(cmdline, "SESSION_ID"):
			// Reached the bastion as the right user: the placeholder is
			// no session.
			if code != 1 || !strings.Contains(stderr, "SESSION_ID") {
				t.Errorf("%s: exit %d, stderr %q; want 1 and no session SESSION_ID", cmdline, code, stderr)
			}
		default:
			t.Errorf("no expectation for the printed command %q", cmdline)
		}
	}
	t.Logf("ran %d printed ssh commands and %d tool examples", n, tools)
	if n < 9 || tools != 3 || includes != 1 {
		t.Errorf("ran %d printed ssh commands and %d tool examples; want at least 9, 3 (scp, rsync, ansible) and an Include line:\n%s", n, tools, out.String())
	}
	// The auditor finds the scp upload with the file's SHA-256.
	if scpSum == "" {
		t.Fatal("no scp example ran")
	}
	var shown string
	waitUntil(t, "carol's audit lists alice's scp with the file's hash", func() bool {
		code, stdout, _ := run("ssh -F "+cfgArg+" carol audit sessions --transfers --user alice --host demo-staging --json", "")
		if code != 0 {
			return false
		}
		for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
			var row struct{ ID, Kind string }
			if json.Unmarshal([]byte(l), &row) != nil || row.Kind != "sftp" {
				continue
			}
			if _, show, _ := run("ssh -F "+cfgArg+" carol audit show "+row.ID, ""); strings.Contains(show, scpSum) {
				shown = show
				return true
			}
		}
		return false
	})
	if !strings.Contains(shown, "alice.pub") {
		t.Errorf("audit show of the scp upload does not name the file:\n%s", shown)
	}

	// The pin is enforced: a different key for the gateway is refused.
	known := filepath.Join(parent, rel, devstack.KnownHostsName)
	orig, err := os.ReadFile(known)
	if err != nil {
		t.Fatal(err)
	}
	_, other := sshtest.Keygen(t, t.TempDir(), "other")
	fields := strings.Fields(string(orig))
	forged := fields[0] + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(other))) + "\n"
	if err := os.WriteFile(known, []byte(forged), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run("ssh -F "+cfgArg+" alice demo-staging -- true", "")
	if code != 255 || !strings.Contains(stderr, "Host key verification failed") {
		t.Errorf("with a forged known_hosts: exit %d, stderr %q; want 255 and Host key verification failed", code, stderr)
	}
	os.WriteFile(known, orig, 0o644)

	st.Close()
	for _, d := range attrs.repeated() {
		t.Errorf("attribute %s given twice to one logger (narrowed twice, or logged again)", d)
	}
	if logs.String() == "" {
		t.Error("no log lines at debug level")
	}
}

// attrCheck is a slog.Handler that notes every attribute a logger is
// given twice: narrowed with With twice, or passed again in a call. The
// standard handlers write both ("component=recorder component=recorder").
type attrCheck struct {
	slog.Handler
	prefix string          // the open groups, "g1.g2."
	keys   map[string]bool // attributes of this logger, with prefix
	shared *attrDups
}

// attrDups collects the repeated keys of a logger tree.
type attrDups struct {
	mu   sync.Mutex
	dups []string
}

func newAttrCheck(h slog.Handler) *attrCheck {
	return &attrCheck{Handler: h, keys: map[string]bool{}, shared: &attrDups{}}
}

// note returns keys plus attrs, recording those already present.
func (h *attrCheck) note(keys map[string]bool, attrs []slog.Attr) map[string]bool {
	next := make(map[string]bool, len(keys)+len(attrs))
	for k := range keys {
		next[k] = true
	}
	for _, a := range attrs {
		k := h.prefix + a.Key
		if next[k] {
			h.shared.mu.Lock()
			h.shared.dups = append(h.shared.dups, fmt.Sprintf("%s (%s)", k, a.Value))
			h.shared.mu.Unlock()
		}
		next[k] = true
	}
	return next
}

func (h *attrCheck) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &attrCheck{Handler: h.Handler.WithAttrs(attrs), prefix: h.prefix, keys: h.note(h.keys, attrs), shared: h.shared}
}

func (h *attrCheck) WithGroup(name string) slog.Handler {
	return &attrCheck{Handler: h.Handler.WithGroup(name), prefix: h.prefix + name + ".", keys: h.keys, shared: h.shared}
}

func (h *attrCheck) Handle(ctx context.Context, r slog.Record) error {
	var attrs []slog.Attr
	r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a); return true })
	h.note(h.keys, attrs)
	return h.Handler.Handle(ctx, r)
}

// repeated returns what was given twice, in order.
func (h *attrCheck) repeated() []string {
	h.shared.mu.Lock()
	defer h.shared.mu.Unlock()
	return slices.Clone(h.shared.dups)
}

// waitUntil polls cond until it holds; the bound guards against hangs
// (ingest into ClickHouse takes a moment) and is no speed assertion.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
