package gateway

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"
	gossh "golang.org/x/crypto/ssh"
)

// benchPlaybook returns a playbook of 20 tasks of the kinds an
// installation runs: facts once, then directories, copies, templates,
// commands and raw commands in turn.
func benchPlaybook() string {
	var b strings.Builder
	b.WriteString("- hosts: all\n  gather_facts: false\n  tasks:\n")
	b.WriteString("    - name: task 0\n      setup:\n        gather_subset: [min]\n")
	tasks := []string{
		"file:\n        path: \"{{ dest_dir }}/{{ inventory_hostname }}-%d\"\n        state: directory",
		"copy:\n        src: payload.bin\n        dest: \"{{ dest_dir }}/{{ inventory_hostname }}-%d.bin\"",
		"template:\n        src: motd.j2\n        dest: \"{{ dest_dir }}/{{ inventory_hostname }}-%d.motd\"",
		"command: echo task-%d",
		"raw: echo task-%d",
	}
	for i := 1; i < 20; i++ {
		fmt.Fprintf(&b, "    - name: task %d\n      "+tasks[i%len(tasks)]+"\n", i, i)
	}
	return b.String()
}

// median returns the median of ds.
func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkAnsiblePlaybook runs a 20-task playbook against one host (the
// in-process sshtarget, which runs commands with /bin/sh -c: the test
// machine's OpenSSH sshd runs them through root's login shell, whose
// ~/.bashrc costs seconds per command), directly and through the bastion (the host named in the user
// name, the whole recording pipeline up to kfake running), with the same
// ssh_config options (ControlMaster on, SFTP transfers), interleaved, and
// reports the median of each and their ratio. Each run includes its
// master's login, as a fresh `ansible-playbook` on a laptop does.
func BenchmarkAnsiblePlaybook(b *testing.B) {
	requireAnsible(b)
	f := newFixture(b, fixtureOptions{})
	h, ok := f.cfg.Host("demo")
	if !ok {
		b.Fatal("no host demo")
	}
	hostKey, err := config.ParseHostKey(h.HostKey)
	if err != nil {
		b.Fatal(err)
	}
	a := newAnsibleSetup(b,
		sshHost{Alias: "direct", Addr: h.Address, User: "root", Identity: filepath.Join(f.dir, "data", "upstream_ed25519"), HostKey: hostKey},
		sshHost{Alias: "bastion", Addr: f.addr, User: "alice" + TargetSep + "demo", Identity: f.keys["alice"], HostKey: f.srv.hostSigner.PublicKey()})
	a.quiet = true
	a.limit = 10 * time.Minute // a loaded machine; never a speed assertion
	a.write(b, "payload.bin", strings.Repeat("payload line for the benchmark\n", 2048))
	a.write(b, "motd.j2", testTemplate)
	a.write(b, "inventory", "[all]\ndirect\nbastion\n")
	a.write(b, "bench.yml", benchPlaybook())
	dest := b.TempDir()
	run := func(alias string) time.Duration {
		start := time.Now()
		res := a.runPlaybook(b, "inventory", "bench.yml", alias, "dest_dir="+dest)
		d := time.Since(start)
		if res.exit != 0 || !strings.Contains(res.out, "ok=20 ") {
			b.Fatalf("playbook on %s: exit %d\n%s", alias, res.exit, res.out)
		}
		return d
	}
	var direct, bastion []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		direct = append(direct, run("direct"))
		bastion = append(bastion, run("bastion"))
	}
	b.StopTimer()
	d, g := median(direct), median(bastion)
	b.ReportMetric(d.Seconds(), "direct-s")
	b.ReportMetric(g.Seconds(), "bastion-s")
	b.ReportMetric(g.Seconds()/d.Seconds(), "ratio")
}

// BenchmarkUpstreamChannel measures what an upstream login per channel
// costs against the OpenSSH sshd: a new connection, login and session
// channel per run (what the bastion does for each client channel), against
// a new session channel on one connection kept open. No command runs: the
// test machine's sshd runs every command through root's login shell, whose
// ~/.bashrc costs seconds and would hide the difference.
func BenchmarkUpstreamChannel(b *testing.B) {
	f := newFixture(b, fixtureOptions{sshd: true, noPublish: true})
	h, ok := f.cfg.Host("real")
	if !ok {
		b.Fatal("no host real")
	}
	ctx := context.Background()
	openClose := func(c *gossh.Client) {
		s, err := c.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
	b.Run("login-per-channel", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c, err := f.srv.dialUpstream(ctx, h)
			if err != nil {
				b.Fatal(err)
			}
			openClose(c)
			c.Close()
		}
	})
	b.Run("shared-connection", func(b *testing.B) {
		c, err := f.srv.dialUpstream(ctx, h)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			openClose(c)
		}
	})
}
