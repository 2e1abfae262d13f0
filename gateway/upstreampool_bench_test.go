package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// BenchmarkPooledChannels measures exec channels per second over ONE
// client connection through the bastion (each channel recorded: an
// `exec true` on the in-process host, output relayed, exit status back),
// with the upstream login kept for the connection (pooled) and with a new
// upstream login per channel (login-per-channel, the gateway before the
// pool). The in-process host logs in fast; OpenSSH's sshd costs ~100 ms
// per login more (BenchmarkUpstreamChannel, BenchmarkPoolLease).
func BenchmarkPooledChannels(b *testing.B) {
	f := newFixture(b, fixtureOptions{noPublish: true})
	for _, mode := range []struct {
		name string
		off  bool
	}{{"login-per-channel", true}, {"pooled", false}} {
		b.Run(mode.name, func(b *testing.B) {
			f.srv.poolOff.Store(mode.off)
			c, err := f.dial("alice"+TargetSep+"demo", gossh.PublicKeys(sshtestSigner(b, f.keys["alice"])))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s, err := c.NewSession()
				if err != nil {
					b.Fatal(err)
				}
				if out, err := s.Output("true"); err != nil {
					b.Fatalf("exec: %v %q", err, out)
				}
				s.Close()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "channels/s")
		})
	}
}

// BenchmarkPoolLease measures what a channel costs the gateway against
// OpenSSH's sshd: take a lease from a client connection's pool, open and
// close a session channel, release — against a new login per channel
// (dialUpstream, as before the pool). No command runs: this machine's
// sshd runs every command through root's login shell, whose ~/.bashrc
// costs seconds.
func BenchmarkPoolLease(b *testing.B) {
	f := newFixture(b, fixtureOptions{sshd: true, noPublish: true})
	h, ok := f.cfg.Host("real")
	if !ok {
		b.Fatal("no host real")
	}
	ctx := context.Background()
	openClose := func(c *gossh.Client) {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			b.Fatal(err)
		}
		go gossh.DiscardRequests(reqs)
		ch.Close()
	}
	for _, mode := range []struct {
		name string
		off  bool
	}{{"login-per-channel", true}, {"pooled", false}} {
		b.Run(mode.name, func(b *testing.B) {
			f.srv.poolOff.Store(mode.off)
			cs := &connState{pool: newUpstreamPool(f.srv)}
			defer cs.pool.close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l, err := f.srv.leaseUpstream(ctx, cs, h)
				if err != nil {
					b.Fatal(err)
				}
				openClose(l.client())
				l.release()
			}
			b.StopTimer()
			logins, _ := cs.pool.stats()
			if mode.off {
				logins = b.N
			}
			b.ReportMetric(float64(logins)/float64(b.N), "logins/channel")
		})
	}
}

// BenchmarkAnsibleUpstreamLogins runs the 20-task playbook of
// BenchmarkAnsiblePlaybook through the bastion (ControlMaster on, SFTP
// transfers) with a new upstream login per channel and with the pool,
// interleaved; each run starts its own master. It reports the median wall
// time and the upstream logins per run (counted by a relay in front of
// the host). The host is the in-process sshtarget, whose login is cheap;
// against OpenSSH's sshd each login saved is ~100 ms
// (BenchmarkPoolLease).
func BenchmarkAnsibleUpstreamLogins(b *testing.B) {
	requireAnsible(b)
	f := newFixture(b, fixtureOptions{})
	lc := f.countLogins(b, "demo")
	a := newAnsibleSetup(b,
		sshHost{Alias: "bastion", Addr: f.addr, User: "alice" + TargetSep + "demo", Identity: f.keys["alice"], HostKey: f.srv.hostSigner.PublicKey()})
	a.quiet = true
	a.limit = 10 * time.Minute // a loaded machine; never a speed assertion
	a.write(b, "payload.bin", strings.Repeat("payload line for the benchmark\n", 2048))
	a.write(b, "motd.j2", testTemplate)
	a.write(b, "inventory", "[all]\nbastion\n")
	a.write(b, "bench.yml", benchPlaybook())
	dest := b.TempDir()
	run := func(off bool) (time.Duration, int) {
		f.srv.poolOff.Store(off)
		before := lc.logins()
		start := time.Now()
		res := a.runPlaybook(b, "inventory", "bench.yml", "bastion", "dest_dir="+dest)
		d := time.Since(start)
		if res.exit != 0 || !strings.Contains(res.out, "ok=20 ") {
			b.Fatalf("playbook: exit %d\n%s", res.exit, res.out)
		}
		a.stopMasters()
		return d, lc.logins() - before
	}
	var perChannel, pooled []time.Duration
	var loginsOff, loginsOn int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, n := run(true)
		perChannel, loginsOff = append(perChannel, d), loginsOff+n
		d, n = run(false)
		pooled, loginsOn = append(pooled, d), loginsOn+n
	}
	b.StopTimer()
	b.ReportMetric(median(perChannel).Seconds(), "per-channel-s")
	b.ReportMetric(median(pooled).Seconds(), "pooled-s")
	b.ReportMetric(float64(loginsOff)/float64(b.N), "per-channel-logins/run")
	b.ReportMetric(float64(loginsOn)/float64(b.N), "pooled-logins/run")
}
