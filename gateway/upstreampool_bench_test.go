package gateway

import (
	"context"
	"testing"

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
