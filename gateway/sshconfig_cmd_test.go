package gateway

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/guard"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
)

// hostBlocks returns the Host aliases of an ssh_config text, in order.
func hostBlocks(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if name, ok := strings.CutPrefix(line, "Host "); ok {
			out = append(out, name)
		}
	}
	return out
}

// configVerb runs `ssh USER@bastion config ARGS…` and returns its output.
func (f *fixture) configVerb(t *testing.T, user string, args ...string) string {
	t.Helper()
	res := f.run(user, append([]string{"config"}, args...)...)
	if res.Exit != 0 {
		t.Fatalf("%s: config exit %d; stderr %q", user, res.Exit, res.Stderr)
	}
	return res.Stdout
}

// knownHostsHint returns the known_hosts line the config verb prints in
// its header ("#   ALIAS KEYTYPE BASE64").
func knownHostsHint(t *testing.T, text string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^#   (\S+ ssh-ed25519 \S+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no known_hosts line in the header:\n%s", text)
	}
	return m[1] + "\n"
}

// includingConfig writes a main ssh_config that Includes the verb's
// output (saved as foureyes.conf) and adds, for every host, the key of
// user and a known_hosts file holding only the line the verb printed:
// what a person does with the output. It returns the main file's path.
func (f *fixture) includingConfig(t *testing.T, user, verbOutput string) string {
	t.Helper()
	dir := t.TempDir()
	inc := filepath.Join(dir, "foureyes.conf")
	known := filepath.Join(dir, "known_hosts")
	main := filepath.Join(dir, "config")
	files := map[string]string{
		inc:   verbOutput,
		known: knownHostsHint(t, verbOutput),
		main: "Include " + inc + "\n\nHost *\n    IdentityFile " + f.keys[user] + "\n    IdentitiesOnly yes\n    UserKnownHostsFile " + known +
			"\n    StrictHostKeyChecking yes\n    BatchMode yes\n    ConnectTimeout 20\n",
	}
	for path, text := range files {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return main
}

// sshF runs the stock ssh with -F cfg and returns its exit status,
// stdout and stderr.
func sshF(t *testing.T, cfg string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", append([]string{"-F", cfg}, args...)...)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), o.String(), e.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, o.String(), e.String()
}

// TestSSHConfigVerb: `config` prints one block per host the user may
// reach — the bastion as HostName and Port, the target in the user name,
// the bastion's known_hosts name as HostKeyAlias — and nothing for hosts
// she may not reach. Used through Include with the printed known_hosts
// line only, the stock ssh reaches each host by its plain name, the
// bastion's key checked (a forged key is refused). The listing is
// recorded as sshconfig.list.
func TestSSHConfigVerb(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	host, port, _ := net.SplitHostPort(f.addr)
	alice := f.configVerb(t, "alice")
	if got, want := hostBlocks(alice), []string{"badkey", "demo", "demo-prod", "down"}; !slices.Equal(got, want) {
		t.Errorf("alice's hosts = %v; want %v", got, want)
	}
	alias := "[" + host + "]:" + port
	block := "\nHost demo\n    HostName " + host + "\n    Port " + port + "\n    User alice+demo\n    HostKeyAlias " + alias + "\n"
	if !strings.Contains(alice, block) {
		t.Errorf("no block\n%s\nin:\n%s", block, alice)
	}
	if !strings.Contains(alice, "Host demo-prod\n    # four-eyes:") {
		t.Errorf("demo-prod is not marked four-eyes:\n%s", alice)
	}
	wantKey := alias + " " + authorizedKey(f.srv.hostSigner.PublicKey()) + "\n"
	if got := knownHostsHint(t, alice); got != wantKey {
		t.Errorf("known_hosts hint = %q; want %q", got, wantKey)
	}
	// bob may reach demo only; carol (auditor) no host at all.
	if got := hostBlocks(f.configVerb(t, "bob")); !slices.Equal(got, []string{"demo"}) {
		t.Errorf("bob's hosts = %v; want [demo]", got)
	}
	carol := f.configVerb(t, "carol")
	if got := hostBlocks(carol); len(got) != 0 || !strings.Contains(carol, "# carol may reach no host.") {
		t.Errorf("carol's config lists %v:\n%s", got, carol)
	}

	cfg := f.includingConfig(t, "alice", alice)
	if code, out, errOut := sshF(t, cfg, "demo", "--", "echo", "via-include"); code != 0 || out != "via-include\n" {
		t.Fatalf("ssh -F (Include) demo: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	ids := f.spy.find(func(i recorder.StartInfo) bool {
		return i.User == "alice" && i.Host == "demo" && i.Command == "echo via-include"
	})
	if len(ids) != 1 {
		t.Errorf("%d recordings of the command run through the Include; want 1", len(ids))
	}
	// The bastion's key is what is checked: a forged one is refused.
	_, forged := sshtest.Keygen(t, t.TempDir(), "forged")
	known := filepath.Join(filepath.Dir(cfg), "known_hosts")
	if err := os.WriteFile(known, []byte(alias+" "+authorizedKey(forged)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := sshF(t, cfg, "demo", "--", "true"); code != 255 || !strings.Contains(errOut, "Host key verification failed") {
		t.Errorf("with a forged bastion key: exit %d, stderr %q; want 255 and Host key verification failed", code, errOut)
	}

	evs := f.gatewayEvents(event.SSHConfigList)
	for _, want := range []map[string]string{
		{"user": "alice", "hosts": "badkey,demo,demo-prod,down", "omitted": "0", "prefix": ""},
		{"user": "bob", "hosts": "demo", "omitted": "0"},
		{"user": "carol", "hosts": "", "omitted": "0"},
	} {
		if e, ok := findEvent(evs, event.SSHConfigList, want); !ok || e.Actor != want["user"] || !strings.HasPrefix(e.Meta["remote"], "127.0.0.1:") {
			t.Errorf("no sshconfig.list %v in %v", want, metas(evs))
		}
	}
}

// TestSSHConfigVerbOptions: --prefix names the aliases; with
// gateway.public_address the blocks point there (HostName, Port and the
// HostKeyAlias); bad arguments and an unsafe prefix are refused with the
// usage and recorded as access.denied, and print no block.
func TestSSHConfigVerbOptions(t *testing.T) {
	f := newFixture(t, fixtureOptions{publicAddress: "bastion.example.org:2022"})
	out := f.configVerb(t, "bob", "--prefix", "fe-")
	want := "\nHost fe-demo\n    HostName bastion.example.org\n    Port 2022\n    User bob+demo\n    HostKeyAlias [bastion.example.org]:2022\n"
	if !strings.Contains(out, want) || len(hostBlocks(out)) != 1 {
		t.Errorf("config --prefix fe- with public_address:\n%s\nwant the block\n%s", out, want)
	}
	if out := f.configVerb(t, "bob", "--prefix=x."); !slices.Equal(hostBlocks(out), []string{"x.demo"}) {
		t.Errorf("--prefix=x. gives %v", hostBlocks(out))
	}
	refusals := []struct{ name, args, reason string }{
		{"unknown flag", "--all", "config: bad arguments"},
		{"prefix without value", "--prefix", "config: bad arguments"},
		{"pattern in prefix", "--prefix '*'", "unsafe"},
		{"token in prefix", "--prefix %h", "unsafe"},
		{"option-like prefix", "--prefix=-oProxyCommand=x", "unsafe"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			res := f.run("bob", "config "+tt.args)
			if res.Exit != 1 || res.Stdout != "" || !strings.Contains(res.Stderr, "config:") {
				t.Errorf("config %s: exit %d, stdout %q, stderr %q; want 1, nothing printed and a message", tt.args, res.Exit, res.Stdout, res.Stderr)
			}
		})
	}
	denied := f.gatewayEvents(event.AccessDenied)
	for _, tt := range refusals {
		found := false
		for _, e := range denied {
			found = found || e.Meta["user"] == "bob" && e.Meta["command"] == guard.SafeName("config "+tt.args, 256) &&
				(strings.Contains(e.Meta["reason"], tt.reason) || tt.reason == "unsafe" && strings.Contains(e.Meta["reason"], "safely"))
		}
		if !found {
			t.Errorf("%s: no access.denied for %q in %v", tt.name, "config "+tt.args, metas(denied))
		}
	}
}

// TestSSHConfigVerbUnsafeHostNames: host names that ssh_config would
// read as something else — a newline starting a ProxyCommand directive,
// a %-token, a pattern, a comment, a quote, an option — are left out
// with an escaped comment and a message, never written as a directive;
// the stock ssh reads the output and finds no ProxyCommand. Safe hosts
// are still listed.
func TestSSHConfigVerbUnsafeHostNames(t *testing.T) {
	evil := []string{"x\nProxyCommand=touch${IFS}pwned", "pct%h", "star*", "bang!", "hash#x", "q\"uote", "-oProxyCommand=x", "comma,x"}
	f := newFixture(t, fixtureOptions{editConfig: func(y string) string {
		i := strings.Index(y, "  - {name: down,")
		line := y[i : i+strings.Index(y[i:], "\n")+1]
		for _, name := range evil {
			quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(name) + `"`
			y += strings.Replace(line, "name: down", "name: "+quoted, 1)
		}
		return y
	}})
	res := f.run("alice", "config")
	if res.Exit != 0 {
		t.Fatalf("config: exit %d, stderr %q", res.Exit, res.Stderr)
	}
	if got, want := hostBlocks(res.Stdout), []string{"badkey", "demo", "demo-prod", "down"}; !slices.Equal(got, want) {
		t.Errorf("hosts = %v; want %v", got, want)
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "Host ") && !strings.HasPrefix(line, "    ") {
			t.Errorf("line outside a comment or block: %q", line)
		}
		if strings.Contains(line, "ProxyCommand") && !strings.HasPrefix(line, "# Left out: ") {
			t.Errorf("ProxyCommand outside a comment: %q", line)
		}
	}
	if n := strings.Count(res.Stdout, "# Left out: "); n != len(evil) {
		t.Errorf("%d hosts noted as left out; want %d:\n%s", n, len(evil), res.Stdout)
	}
	if !strings.Contains(res.Stderr, "8 host(s) left out") {
		t.Errorf("stderr %q does not say hosts were left out", res.Stderr)
	}
	// What ssh makes of it: no ProxyCommand for any name.
	cfg := filepath.Join(t.TempDir(), "c")
	if err := os.WriteFile(cfg, []byte(res.Stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, alias := range []string{"demo", "x", "pct", "star", "anything"} {
		code, out, errOut := sshF(t, cfg, "-G", alias)
		if code != 0 || strings.Contains(out, "proxycommand") {
			t.Errorf("ssh -G %s: exit %d, stderr %q, proxycommand set:\n%s", alias, code, errOut, out)
		}
	}
	e, ok := findEvent(f.gatewayEvents(event.SSHConfigList), event.SSHConfigList, map[string]string{"user": "alice", "omitted": "8"})
	if !ok || e.Meta["hosts"] != "badkey,demo,demo-prod,down" {
		t.Errorf("sshconfig.list = %v, %v; want 8 omitted", e.Meta, ok)
	}
}

// TestWriteSSHConfigRefusesUnsafeInput: a user name, bastion address or
// path ssh_config would read as more than itself is refused, nothing
// written.
func TestWriteSSHConfigRefusesUnsafeInput(t *testing.T) {
	cfg := &config.Config{Users: []config.User{{Name: "a%h"}, {Name: "alice"}}}
	tests := []struct {
		name, user string
		o          SSHConfigOptions
	}{
		{"token in user name", "a%h", SSHConfigOptions{Host: "127.0.0.1", Port: "2222"}},
		{"token in bastion host", "alice", SSHConfigOptions{Host: "b%h", Port: "2222"}},
		{"zone in bastion address", "alice", SSHConfigOptions{Host: "fe80::1%eth0", Port: "2222"}},
		{"space in bastion host", "alice", SSHConfigOptions{Host: "a b", Port: "2222"}},
		{"bad port", "alice", SSHConfigOptions{Host: "127.0.0.1", Port: "22 x"}},
		{"newline in identity path", "alice", SSHConfigOptions{Host: "127.0.0.1", IdentityFile: "/k\nProxyCommand=x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if _, err := WriteSSHConfig(&b, cfg, tt.user, tt.o); !errors.Is(err, ErrUnsafeSSHConfig) || b.Len() != 0 {
				t.Errorf("WriteSSHConfig = %v, wrote %q; want ErrUnsafeSSHConfig and nothing", err, b.String())
			}
		})
	}
	var b strings.Builder
	if _, err := WriteSSHConfig(&b, cfg, "alice", SSHConfigOptions{Host: "::1", IdentityFile: `/a b/100%/k"`}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "# alice may reach no host.") || !strings.Contains(b.String(), "port 22.") {
		t.Errorf("output:\n%s", b.String())
	}
}
