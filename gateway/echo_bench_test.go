package gateway

import (
	"bytes"
	"io"
	"sort"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// echoSamples is the number of keystroke round trips per leg and
// iteration of BenchmarkEchoComponent.
const echoSamples = 3000

// BenchmarkEchoComponent measures one keystroke's round trip from an
// in-process x/crypto client, through a terminal session, to `cat` on the
// in-process target and back: directly, and through the gateway with
// recording and publishing to kfake running. No ssh client process and no
// client pty are on the path, so the gateway's share stands out. It
// reports p50, p99 and p99.9 in µs, and for the gateway leg what it adds
// to the direct leg's percentiles.
func BenchmarkEchoComponent(b *testing.B) {
	f := newFixture(b, fixtureOptions{})
	cmd := "stty raw -echo; echo START; exec cat"
	legs := []struct {
		name string
		dial func() *gossh.Client
		cmd  string
	}{
		{"direct", func() *gossh.Client {
			c, err := gossh.Dial("tcp", f.target.Addr(), &gossh.ClientConfig{User: "root",
				Auth:            []gossh.AuthMethod{gossh.PublicKeys(sshtest.Signer(b, f.dir+"/data/upstream_ed25519"))},
				HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: timeout})
			if err != nil {
				b.Fatal(err)
			}
			return c
		}, cmd},
		{"gateway", func() *gossh.Client {
			c, err := f.dial("alice")
			if err != nil {
				b.Fatal(err)
			}
			return c
		}, "demo -- " + cmd},
	}
	direct := map[string]float64{}
	for _, leg := range legs {
		b.Run(leg.name, func(b *testing.B) {
			var rtts []time.Duration
			for i := 0; i < b.N; i++ {
				rtts = append(rtts, echoLoop(b, leg.dial(), leg.cmd)...)
			}
			sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
			for _, p := range []struct {
				name string
				q    int // per mille
			}{{"p50", 500}, {"p99", 990}, {"p99.9", 999}} {
				v := float64(rtts[len(rtts)*p.q/1000].Nanoseconds()) / 1e3
				b.ReportMetric(v, p.name+"-µs")
				if leg.name == "direct" {
					direct[p.name] = v
				} else if d, ok := direct[p.name]; ok {
					b.ReportMetric(v-d, "added-"+p.name+"-µs")
				}
			}
		})
	}
}

// echoLoop opens a terminal session running cmd on c, waits for START,
// and times echoSamples one-byte round trips.
func echoLoop(b *testing.B, c *gossh.Client, cmd string) []time.Duration {
	b.Helper()
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		b.Fatal(err)
	}
	in, err := s.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(cmd); err != nil {
		b.Fatal(err)
	}
	var seen []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(seen, []byte("START\n")) { // raw: no \r added
		n, err := out.Read(buf)
		if err != nil {
			b.Fatalf("before START: %v (got %q)", err, seen)
		}
		seen = append(seen, buf[:n]...)
	}
	// stty ran before START: from here the terminal is raw, without echo.
	keys := []byte("abcdefghijklmnopqrstuvwxyz")
	rtts := make([]time.Duration, 0, echoSamples)
	b.ResetTimer()
	for i := 0; i < echoSamples; i++ {
		k := keys[i%len(keys) : i%len(keys)+1]
		start := time.Now()
		if _, err := in.Write(k); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(out, buf[:1]); err != nil {
			b.Fatal(err)
		}
		rtts = append(rtts, time.Since(start))
		if buf[0] != k[0] {
			b.Fatalf("echo %q; want %q", buf[:1], k)
		}
	}
	b.StopTimer()
	in.Write([]byte{4}) // ^D: cat ends
	return rtts
}
