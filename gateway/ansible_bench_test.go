package gateway

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"
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

// BenchmarkAnsiblePlaybook runs a 20-task playbook against one OpenSSH
// sshd, directly and through the bastion (the host named in the user
// name, the whole recording pipeline up to kfake running), with the same
// ssh_config options (ControlMaster on, SFTP transfers), interleaved, and
// reports the median of each and their ratio. One run of each warms the
// masters and Ansible's caches first.
func BenchmarkAnsiblePlaybook(b *testing.B) {
	requireAnsible(b)
	f := newFixture(b, fixtureOptions{sshd: true})
	h, ok := f.cfg.Host("real")
	if !ok {
		b.Fatal("no host real")
	}
	sshdKey, err := config.ParseHostKey(h.HostKey)
	if err != nil {
		b.Fatal(err)
	}
	a := newAnsibleSetup(b,
		sshHost{Alias: "direct", Addr: h.Address, User: h.Login, Identity: filepath.Join(f.dir, "data", "upstream_ed25519"), HostKey: sshdKey},
		sshHost{Alias: "bastion", Addr: f.addr, User: "alice" + TargetSep + "real", Identity: f.keys["alice"], HostKey: f.srv.hostSigner.PublicKey()})
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
	run("direct")
	run("bastion")
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
