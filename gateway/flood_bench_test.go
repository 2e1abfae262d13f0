package gateway

import (
	"context"
	"net"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// floodConns is how many unauthenticated connections
// BenchmarkLoginUnderFlood holds open.
const floodConns = 2000

// floodLogins is how many legitimate logins each leg measures.
const floodLogins = 50

// BenchmarkLoginUnderFlood measures a legitimate `ssh alice@bastion demo
// -- true` (process start to exit), idle and while 2,000 unauthenticated
// connections are held open and failed logins stream in from other
// sources. It reports p50 and p99 in ms. The flood comes from
// 127.0.1.1… (per-source limits apply: 16 each by default) and the
// failures from 127.0.2.1…, so the legitimate client's 127.0.0.1 is not
// a flooded source. Run it with
//
//	go test -run '^$' -bench LoginUnderFlood -benchtime 1x ./gateway/
func BenchmarkLoginUnderFlood(b *testing.B) {
	f := newFixture(b, fixtureOptions{noPublish: true})
	// The held connections must outlive the measurement.
	f.reconfigure(b, func(c *config.Config) { c.Limits.LoginGrace = 10 * time.Minute })
	for _, leg := range []string{"idle", "flood"} {
		b.Run(leg, func(b *testing.B) {
			if leg == "flood" {
				stop := startFlood(b, f)
				defer stop()
			}
			var lat []time.Duration
			for i := 0; i < b.N; i++ {
				for j := 0; j < floodLogins; j++ {
					start := time.Now()
					res := sshtest.Run(b, f.client("alice", false, "demo", "--", "true"))
					lat = append(lat, time.Since(start))
					if res.Exit != 0 {
						b.Fatalf("legitimate login under %s: %+v", leg, res)
					}
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(f.srv.gate.Unauthenticated()), "unauth-conns")
		})
	}
}

// startFlood opens floodConns connections that send an SSH version line
// and then nothing, and starts two workers failing logins with a wrong
// key from rotating sources. stop closes everything and waits.
func startFlood(b *testing.B, f *fixture) (stop func()) {
	b.Helper()
	perSource := f.cfg.Limits.MaxUnauthenticatedPerSource
	var conns []net.Conn
	for i := 0; i < floodConns; i++ {
		src := net.IPv4(127, 0, 1+byte(i/perSource/250), 1+byte(i/perSource%250))
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: timeout}
		c, err := d.Dial("tcp", f.addr)
		if err != nil {
			b.Fatalf("flood connection %d: %v", i, err)
		}
		c.Write([]byte("SSH-2.0-flood\r\n"))
		conns = append(conns, c)
	}
	waitFor(b, "flood connections admitted", func() bool { return f.srv.gate.Unauthenticated() >= floodConns })
	stranger, _ := sshtest.Keygen(b, b.TempDir(), "stranger")
	wrong := gossh.PublicKeys(sshtest.Signer(b, stranger))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var failed sync.Map
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				src := "127.0.2." + strconv.Itoa(1+(w*127+i)%250)
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: timeout}
				c, err := d.DialContext(ctx, "tcp", f.addr)
				if err != nil {
					continue
				}
				cc, _, _, err := gossh.NewClientConn(c, f.addr, &gossh.ClientConfig{
					User: "mallory" + strconv.Itoa(i), Auth: []gossh.AuthMethod{wrong},
					HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: timeout,
				})
				if err == nil {
					cc.Close()
					failed.Store("accepted", true)
				}
				c.Close()
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
		if _, bad := failed.Load("accepted"); bad {
			b.Error("a wrong key logged in")
		}
	}
}
