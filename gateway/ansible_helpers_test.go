package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// ansiblePlaybookPath is Debian's ansible-playbook (package ansible).
const ansiblePlaybookPath = "/usr/bin/ansible-playbook"

// requireAnsible skips tb without ansible-playbook (fails under CI=true).
func requireAnsible(tb testing.TB) {
	tb.Helper()
	sshtest.RequireSFTP(tb)
	if _, err := os.Stat(ansiblePlaybookPath); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s missing: apt-get install ansible", ansiblePlaybookPath)
		}
		tb.Skipf("%s missing: apt-get install ansible", ansiblePlaybookPath)
	}
}

// sshHost is one Host block of a generated ssh_config: an alias that
// stock tools (ssh, sftp, Ansible) name, and where it leads.
type sshHost struct {
	Alias    string
	Addr     string // host:port
	User     string // e.g. alice+demo-prod
	Identity string // private key file
	HostKey  gossh.PublicKey
}

// ansibleSetup is a directory with what an admin writes to run Ansible
// through the bastion: ssh_config (with ControlMaster), known_hosts,
// ansible.cfg, an inventory naming hosts by alias, and a playbook.
type ansibleSetup struct {
	dir        string
	sshConfig  string
	controlDir string
	aliases    []string
	// quiet runs ansible-playbook without -vvv (benchmarks): execs
	// then counts nothing.
	quiet bool
	// limit bounds each ansible-playbook run; default 2 minutes.
	limit time.Duration
}

// newAnsibleSetup writes ssh_config and known_hosts for hosts, and an
// ansible.cfg using them. ControlPath lives in a short directory of its
// own (a socket path is limited to 108 bytes); every master is told to
// exit when the test ends.
func newAnsibleSetup(t testing.TB, hosts ...sshHost) *ansibleSetup {
	t.Helper()
	a := &ansibleSetup{dir: t.TempDir()}
	var err error
	if a.controlDir, err = os.MkdirTemp("", "fecm"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(a.controlDir) })
	a.sshConfig = filepath.Join(a.dir, "ssh_config")
	known := filepath.Join(a.dir, "known_hosts")
	var cfg, kh strings.Builder
	for _, h := range hosts {
		host, port, err := net.SplitHostPort(h.Addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&cfg, `Host %s
  HostName %s
  Port %s
  User %s
  IdentityFile %s
  IdentitiesOnly yes
  BatchMode yes
  UserKnownHostsFile %s
  StrictHostKeyChecking yes
  ControlMaster auto
  ControlPath %s/%%C
  ControlPersist 60s
  LogLevel ERROR
`, h.Alias, host, port, h.User, h.Identity, known, a.controlDir)
		fmt.Fprintf(&kh, "[%s]:%s %s\n", host, port, authorizedKey(h.HostKey))
		a.aliases = append(a.aliases, h.Alias)
	}
	a.write(t, "ssh_config", cfg.String())
	a.write(t, "known_hosts", kh.String())
	// ssh_args replaces Ansible's own ControlMaster options: the
	// ssh_config above is all there is. Transfers use Ansible's default
	// (smart: SFTP first), pipelining stays off (its default), so every
	// module goes over SFTP.
	a.write(t, "ansible.cfg", fmt.Sprintf(`[defaults]
host_key_checking = True
interpreter_python = /usr/bin/python3
local_tmp = %s/local-tmp
retry_files_enabled = False
nocows = 1

[ssh_connection]
ssh_args = -F %s
`, a.dir, a.sshConfig))
	t.Cleanup(func() { a.stopMasters() })
	return a
}

// write writes content to name in the setup directory.
func (a *ansibleSetup) write(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(a.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// ssh returns the stock ssh client run with the setup's ssh_config.
func (a *ansibleSetup) ssh(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, sshtest.SSHPath, append([]string{"-F", a.sshConfig}, args...)...)
	cmd.Env = a.env()
	return cmd
}

// env is the environment of ssh and ansible-playbook: no agent, a home
// of the test's own (Ansible writes ~/.ansible), the setup's ansible.cfg.
func (a *ansibleSetup) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SSH_AUTH_SOCK=") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "ANSIBLE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+a.dir, "ANSIBLE_CONFIG="+filepath.Join(a.dir, "ansible.cfg"), "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_NOCOLOR=1")
}

// stopMasters asks every ControlMaster of the setup to exit.
func (a *ansibleSetup) stopMasters() {
	for _, alias := range a.aliases {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		a.ssh(ctx, "-O", "exit", alias).Run() // an error means no master runs
		cancel()
	}
}

// playbookResult is one ansible-playbook run.
type playbookResult struct {
	out  string // stdout and stderr
	exit int
}

// execLine matches ansible's -vvv line for each ssh or sftp it runs.
var execLine = regexp.MustCompile(`(?m)^<([^>]+)> SSH: EXEC (ssh|sftp) `)

// execs returns how many ssh and sftp client runs (each one session
// channel over the master) the run made towards alias.
func (r playbookResult) execs(alias string) int {
	n := 0
	for _, m := range execLine.FindAllStringSubmatch(r.out, -1) {
		if m[1] == alias {
			n++
		}
	}
	return n
}

// runPlaybook runs ansible-playbook -vvv on inventory and playbook (files
// of the setup) limited to limit, with extra vars.
func (a *ansibleSetup) runPlaybook(t testing.TB, inventory, playbook, limit string, vars ...string) playbookResult {
	t.Helper()
	bound := a.limit
	if bound == 0 {
		bound = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	args := []string{"-i", filepath.Join(a.dir, inventory), "--limit", limit}
	if !a.quiet {
		args = append(args, "-vvv")
	}
	for _, v := range vars {
		args = append(args, "-e", v)
	}
	cmd := exec.CommandContext(ctx, ansiblePlaybookPath, append(args, filepath.Join(a.dir, playbook))...)
	cmd.Env = a.env()
	cmd.Dir = a.dir
	out, err := cmd.CombinedOutput()
	res := playbookResult{out: string(out)}
	if ctx.Err() != nil {
		t.Fatalf("ansible-playbook still running after %v:\n%s", bound, out)
	}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("ansible-playbook: %v", err)
		}
		res.exit = ee.ExitCode()
	}
	return res
}
