package devstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtest"

	"github.com/foureyes/foureyes/internal/freeport"
)

// toolsEnv runs stock tools as alice through the Include file the dev
// stack wrote for her (DIR/ssh_config.d/alice.conf), as an admin does
// after pasting the Include line the dev command prints.
type toolsEnv struct {
	t     *testing.T
	st    *Stack
	cfg   string // the main ssh_config: one Include line
	home  string // $HOME of the tools (no ~/.ssh of the machine's user)
	local string // the admin's working directory
}

func newToolsEnv(t *testing.T, st *Stack) *toolsEnv {
	e := &toolsEnv{t: t, st: st, home: t.TempDir(), local: t.TempDir()}
	e.cfg = filepath.Join(e.home, "config")
	if err := os.WriteFile(e.cfg, []byte("Include "+UserConfig(st.Dir, "alice")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs a command line in sh from dir and returns its output; a
// non-zero exit fails the test unless fail is set, which wants one.
func (e *toolsEnv) run(dir, cmdline string, wantFail bool, env ...string) string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "sh", "-c", cmdline)
	sh.Dir = dir
	sh.Env = append(append(os.Environ(), "HOME="+e.home, "SSH_AUTH_SOCK=", "CFG="+e.cfg,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=alice", "GIT_AUTHOR_EMAIL=alice@example.org",
		"GIT_COMMITTER_NAME=alice", "GIT_COMMITTER_EMAIL=alice@example.org"), env...)
	var out bytes.Buffer
	sh.Stdout, sh.Stderr = &out, &out
	sh.WaitDelay = 5 * time.Second // a killed sh's children may hold the pipes
	err := sh.Run()
	var exit *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &exit):
		e.t.Fatalf("%s: %v", cmdline, err)
	case wantFail && err == nil:
		e.t.Fatalf("%s: exit 0; want a failure\n%s", cmdline, out.String())
	case !wantFail && err != nil:
		e.t.Fatalf("%s: %v\n%s", cmdline, err, out.String())
	}
	return out.String()
}

// file writes n random bytes (seeded) to path and returns the bytes.
func file(t *testing.T, path string, n int, seed int64) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// shown is how `audit show` prints a file of b: size and SHA-256.
func shown(b []byte) string { return fmt.Sprintf("%d bytes sha256 %x", len(b), sha256.Sum256(b)) }

// TestEveryToolAuditedOnDevStack is the walk on the dev stack,
// with the stock clients through the Include file: scp (SFTP) and scp -O
// both ways, sftp -b, rsync -a both ways, git clone and push, ssh -L to
// the demo service and to a refused destination, ssh -W (what -J does)
// refused, and ansible-playbook (copy, template, command) on demo-staging
// and, inside a window bob approved, on demo-prod. Then the auditor's
// `audit show` of alice's sessions lists every file with the size and
// SHA-256 of its content, the rsync and git streams, the tunnel with its
// bytes, and the playbook's raw command verbatim.
func TestEveryToolAuditedOnDevStack(t *testing.T) {
	sshtest.RequireSFTP(t)
	for _, tool := range []string{"rsync", "git", "ansible-playbook"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing: make deps installs it", tool)
			}
			t.Skipf("%s missing: make deps installs it", tool)
		}
	}
	st := startStack(t)
	e := newToolsEnv(t, st)
	staging := filepath.Join(st.Dir, "targets", "demo-staging", "home")
	var want []string // lines audit show must contain

	// scp (SFTP underneath) and scp -O, both ways.
	up := file(t, filepath.Join(e.local, "up.bin"), 150<<10, 1)
	down := file(t, filepath.Join(staging, "down.bin"), 120<<10, 2)
	e.run(e.local, `scp -F "$CFG" up.bin demo-staging:scp-up.bin`, false)
	e.run(e.local, `scp -F "$CFG" demo-staging:down.bin scp-down.bin`, false)
	legacy := file(t, filepath.Join(e.local, "legacy.bin"), 90<<10, 3)
	e.run(e.local, `scp -O -F "$CFG" legacy.bin demo-staging:legacy.bin`, false)
	e.run(e.local, `scp -O -F "$CFG" demo-staging:down.bin legacy-down.bin`, false)
	for _, f := range []struct {
		path string
		want []byte
	}{
		{filepath.Join(staging, "scp-up.bin"), up}, {filepath.Join(e.local, "scp-down.bin"), down},
		{filepath.Join(staging, "legacy.bin"), legacy}, {filepath.Join(e.local, "legacy-down.bin"), down},
	} {
		if got, err := os.ReadFile(f.path); err != nil || !bytes.Equal(got, f.want) {
			t.Fatalf("%s: %d bytes, %v; want %d", f.path, len(got), err, len(f.want))
		}
	}
	want = append(want, shown(up), shown(down), shown(legacy), "scp upload file \"legacy.bin\"")

	// sftp -b.
	batchUp := file(t, filepath.Join(e.local, "batch.bin"), 70<<10, 4)
	if err := os.WriteFile(filepath.Join(e.local, "batch"), []byte("put batch.bin batch.bin\nget batch.bin batch-back.bin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.run(e.local, `sftp -F "$CFG" -b batch demo-staging`, false)
	want = append(want, shown(batchUp))

	// rsync -a both ways: one stream each way, summarised.
	if err := os.MkdirAll(filepath.Join(e.local, "tree"), 0o755); err != nil {
		t.Fatal(err)
	}
	tree := file(t, filepath.Join(e.local, "tree", "a.bin"), 200<<10, 5)
	e.run(e.local, `rsync -a -e "ssh -F $CFG" tree/ demo-staging:synced/`, false)
	e.run(e.local, `rsync -a -e "ssh -F $CFG" demo-staging:synced/ back/`, false)
	if got, err := os.ReadFile(filepath.Join(e.local, "back", "a.bin")); err != nil || !bytes.Equal(got, tree) {
		t.Fatalf("rsync round trip: %d bytes, %v", len(got), err)
	}
	want = append(want, `rsync upload "synced/"`, `rsync download "synced/"`)

	// git: a bare repository made over ssh, cloned and pushed to.
	e.run(e.local, `ssh -F "$CFG" demo-staging -- git init -q --bare -b main repo.git`, false)
	git := `GIT_SSH_COMMAND="ssh -F $CFG" `
	e.run(e.local, git+`git clone -q demo-staging:repo.git clone 2>&1`, false)
	file(t, filepath.Join(e.local, "clone", "notes.txt"), 4<<10, 6)
	e.run(filepath.Join(e.local, "clone"), `git add . && git commit -qm first && `+git+`git push -q origin HEAD:main`, false)
	e.run(e.local, git+`git clone -q demo-staging:repo.git clone2`, false)
	if _, err := os.Stat(filepath.Join(e.local, "clone2", "notes.txt")); err != nil {
		t.Fatalf("the pushed file is not in a fresh clone: %v", err)
	}
	want = append(want, `git upload "repo.git"`, `git download "repo.git"`)

	// ssh -L: the demo service works and is recorded; another
	// destination is refused. ssh -W (what ssh -J does) is refused.
	tunnelEcho(t, e, st.Service, true)
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer refused.Close()
	tunnelEcho(t, e, refused.Addr().String(), false)
	prod, _ := st.Config.Host("demo-prod")
	host, port, _ := net.SplitHostPort(prod.Address)
	out := e.run(e.local, `ssh -F "$CFG" -J demo-staging -p `+port+` `+host+` true`, true)
	if !strings.Contains(out, "ssh alice+HOST@BASTION") {
		t.Errorf("ssh -J through the bastion to demo-prod's sshd: %q; want a refusal naming the supported way", out)
	}
	want = append(want, "tunnel.open", "tunnel.close")

	// Ansible: the same playbook on demo-staging, then, inside a window,
	// on demo-prod. (Without a window each of its channels would wait for
	// a reviewer here; the gateway's TestAnsiblePlaybookThroughBastion
	// shows the refusal under a policy that wants a reason.)
	play := writePlaybook(t, e.local)
	ansible := `ANSIBLE_REMOTE_TMP=/tmp/.foureyes-ansible-$$ ANSIBLE_NOCOLOR=1 ansible-playbook -i demo-staging,demo-prod, --ssh-common-args="-F $CFG" `
	out = e.run(e.local, ansible+`-l demo-staging `+play, false)
	if !strings.Contains(out, "failed=0") {
		t.Fatalf("playbook on demo-staging:\n%s", out)
	}
	req := st.client("alice", false, "request", "demo-prod", "--for", "10m", "--reason", "ansible-run")
	req.Start(t)
	m := windowID.FindStringSubmatch(req.Expect(windowID, 30*time.Second))
	bob := st.client("bob", false, "join", m[1])
	bob.Stdin = "y\n"
	if res := sshtest.Run(t, bob); res.Exit != 0 {
		t.Fatalf("bob's approval: exit %d %s", res.Exit, res.Stderr)
	}
	if got := req.Wait(); got != 0 {
		t.Fatalf("request exit %d", got)
	}
	out = e.run(e.local, ansible+`-l demo-prod `+play, false)
	if !strings.Contains(out, "failed=0") {
		t.Fatalf("playbook on demo-prod inside the window:\n%s", out)
	}
	motd := "managed by ansible for alice\n"
	for _, host := range []string{"demo-staging", "demo-prod"} {
		if got, err := os.ReadFile(filepath.Join(st.Dir, "targets", host, "home", "motd")); err != nil || string(got) != motd {
			t.Errorf("template on %s: %q, %v", host, got, err)
		}
	}
	src, err := os.ReadFile(filepath.Join(e.local, "payload.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, shown(src), "echo playbook-raw-$((6*7))")

	// The auditor's view: every line above in some `audit show` of alice's.
	var all string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		all = showAll(t, st, "alice")
		missing := ""
		for _, w := range want {
			if !strings.Contains(all, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no `audit show` of alice's sessions lists %q after 90s; shown:\n%s", missing, all)
		}
	}
	// The playbook ran on demo-prod under bob's window: each of its
	// sessions names him.
	res := sshtest.Run(t, st.client("carol", false, "audit", "sessions", "--json", "--kind", "all", "--host", "demo-prod", "--approver", "bob"))
	if res.Exit != 0 || strings.Count(res.Stdout, `"id"`) < 3 {
		t.Errorf("audit sessions --host demo-prod --approver bob: exit %d, %d sessions; want the playbook's channels\n%s", res.Exit, strings.Count(res.Stdout, `"id"`), res.Stderr)
	}
}

// tunnelEcho opens ssh -L to dest through demo-staging and reports
// whether a line comes back; it fails the test if that is not ok.
func tunnelEcho(t *testing.T, e *toolsEnv, dest string, ok bool) {
	t.Helper()
	lport := freeport.MustPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ssh", "-F", e.cfg, "-N", "-L", fmt.Sprintf("127.0.0.1:%d:%s", lport, dest), "demo-staging")
	cmd.Env = append(os.Environ(), "HOME="+e.home, "SSH_AUTH_SOCK=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		cmd.Wait() //nolint:errcheck // killed
	}()
	var c net.Conn
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lport)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh -L never listened: %v", err)
		}
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "ping through the tunnel\n")
	buf := make([]byte, 64)
	n, _ := io.ReadAtLeast(c, buf, len("ping through the tunnel\n"))
	if got := string(buf[:n]) == "ping through the tunnel\n"; got != ok {
		t.Errorf("ssh -L to %s: echoed %v (%q); want %v", dest, got, buf[:n], ok)
	}
}

// writePlaybook writes a playbook of a copy, a template, a command and
// a raw command
// into dir and returns its name.
func writePlaybook(t *testing.T, dir string) string {
	t.Helper()
	file(t, filepath.Join(dir, "payload.bin"), 50<<10, 7)
	files := map[string]string{
		"motd.j2": "managed by ansible for {{ owner }}\n",
		"play.yml": `- hosts: all
  gather_facts: false
  vars: {owner: alice}
  tasks:
    - copy: {src: payload.bin, dest: payload.bin}
    - template: {src: motd.j2, dest: motd}
    - command: echo playbook-command
    - raw: echo playbook-raw-$((6*7))
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return "play.yml"
}

// showAll returns the `audit show` text of every session of user,
// fetched by the auditor carol over ssh.
func showAll(t *testing.T, st *Stack, user string) string {
	t.Helper()
	res := sshtest.Run(t, st.client("carol", false, "audit", "sessions", "--json", "--kind", "all", "--user", user, "--limit", "500"))
	if res.Exit != 0 {
		t.Fatalf("audit sessions: exit %d %s", res.Exit, res.Stderr)
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var row struct{ ID, Record string }
		if json.Unmarshal([]byte(l), &row) != nil || row.ID == "" || row.Record != "" {
			continue
		}
		show := sshtest.Run(t, st.client("carol", false, "audit", "show", row.ID))
		b.WriteString(show.Stdout)
	}
	return b.String()
}
