package gateway

import (
	"context"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtest"
)

// Benchmarks compare the gateway with a direct OpenSSH connection to the
// same sshd, using the real ssh client. Run them with
//
//	go test -run '^$' -bench . -benchtime 1x ./gateway/
//
// Each iteration is a complete measurement; -benchtime 1x is enough.

// bulkBytes is what BenchmarkBulkOutput transfers per iteration.
const bulkBytes = 200 << 20

// BenchmarkBulkOutput measures steady-state output throughput (first
// byte to last) of `head -c 200M /dev/zero` with aes128-gcm, directly
// from sshd and through the gateway, which records every byte
// (exec_output_cap 0, as internal/benche2e runs it: the default cap would
// summarise all but the first MiB). It also reports this process's CPU
// seconds per GB: the gateway and recorder run here, ssh and sshd do
// not. The collector is set as the gateway process sets it (benchGC).
func BenchmarkBulkOutput(b *testing.B) {
	f := newFixture(b, fixtureOptions{sshd: true, noPublish: true, editConfig: func(y string) string {
		return y + "recording_policies:\n  - {hosts: [real], exec_output_cap: 0}\n"
	}})
	benchGC(b)
	sshdHost, _ := f.cfg.Host("real")
	cipher := []string{"-c", "aes128-gcm@openssh.com"}
	command := "head -c " + strconv.Itoa(bulkBytes) + " /dev/zero"
	legs := []struct {
		name string
		c    *sshtest.Client
	}{
		{"direct", &sshtest.Client{Addr: sshdHost.Address, User: sshdHost.Login, Key: f.dir + "/data/upstream_ed25519", Options: cipher, Args: []string{command}}},
		{"gateway", &sshtest.Client{Addr: f.addr, User: "alice", Key: f.keys["alice"], Options: cipher, Args: []string{"real", "--", command}}},
	}
	for _, leg := range legs {
		b.Run(leg.name, func(b *testing.B) {
			var total, cpu time.Duration
			for i := 0; i < b.N; i++ {
				c0 := processCPU(b)
				total += bulkOnce(b, leg.c)
				cpu += processCPU(b) - c0
			}
			b.ReportMetric(float64(bulkBytes)*float64(b.N)/total.Seconds()/1e6, "MB/s")
			// CPU per GB is robust on a loaded machine; MB/s is not.
			b.ReportMetric(cpu.Seconds()/(float64(bulkBytes)*float64(b.N)/1e9), "proc-cpu-s/GB")
		})
	}
}

// bulkOnce runs c and returns the time from its first output byte to EOF.
func bulkOnce(b *testing.B, c *sshtest.Client) time.Duration {
	cmd := c.Command(context.Background())
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 256<<10)
	n, err := io.ReadAtLeast(out, buf, 1)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var rest int64
	for {
		m, err := out.Read(buf)
		rest += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	if err := cmd.Wait(); err != nil {
		b.Fatal(err)
	}
	if got := int64(n) + rest; got != bulkBytes {
		b.Fatalf("received %d bytes; want %d", got, bulkBytes)
	}
	return elapsed
}

// benchGC sets the collector as `foureyes gateway` sets it (GCPercent;
// cmd/foureyes/gc.go), unless GOGC or GOMEMLIMIT is set for a sweep, and
// restores it when b ends.
func benchGC(b *testing.B) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	old := debug.SetGCPercent(GCPercent)
	b.Cleanup(func() { debug.SetGCPercent(old) })
}

// processCPU returns this process's user+system CPU time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// echoRounds is the number of keystroke round trips per iteration.
const echoRounds = 1000

// BenchmarkEchoRTT measures one keystroke's round trip through ssh -t:
// write a byte to the client's pty, wait for the remote `cat` (terminal
// in raw mode, no echo) to send it back. It reports p50 and p99 in µs.
func BenchmarkEchoRTT(b *testing.B) {
	f := newFixture(b, fixtureOptions{sshd: true, noPublish: true})
	sshdHost, _ := f.cfg.Host("real")
	command := "stty raw -echo; echo START; exec cat"
	legs := []struct {
		name string
		c    func() *sshtest.Client
	}{
		{"direct", func() *sshtest.Client {
			return &sshtest.Client{Addr: sshdHost.Address, User: sshdHost.Login, Key: f.dir + "/data/upstream_ed25519", TTY: true, Args: []string{command}}
		}},
		{"gateway", func() *sshtest.Client {
			return &sshtest.Client{Addr: f.addr, User: "alice", Key: f.keys["alice"], TTY: true, Args: []string{"real", "--", command}}
		}},
	}
	for _, leg := range legs {
		b.Run(leg.name, func(b *testing.B) {
			c := leg.c()
			c.Start(b)
			c.Expect("START", timeout)
			rtts := make([]time.Duration, 0, echoRounds*b.N)
			keys := "abcdefghijklmnopqrstuvwxyz"
			b.ResetTimer()
			for i := 0; i < b.N*echoRounds; i++ {
				k := keys[i%len(keys) : i%len(keys)+1]
				start := time.Now()
				c.Send(k)
				c.Expect(k, timeout)
				rtts = append(rtts, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(rtts, func(i, j int) bool { return rtts[i] < rtts[j] })
			b.ReportMetric(float64(rtts[len(rtts)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "p99-µs")
			c.Send("\x04") // ^D: cat ends
			c.Close()
		})
	}
}

// idleSessions is how many sessions BenchmarkIdleSessionMemory holds open.
const idleSessions = 32

// BenchmarkIdleSessionMemory opens idle interactive sessions on an
// in-process target, directly and through the gateway, and reports the
// heap per session; the difference is the gateway's share (the clients
// are ssh processes, the target's share is the same in both).
func BenchmarkIdleSessionMemory(b *testing.B) {
	f := newFixture(b, fixtureOptions{noPublish: true})
	direct := map[string]float64{}
	for _, leg := range []string{"direct", "gateway"} {
		b.Run(leg, func(b *testing.B) {
			var perSession float64
			for i := 0; i < b.N; i++ {
				perSession += idleHeap(b, f, leg == "gateway")
			}
			perSession /= float64(b.N)
			b.ReportMetric(perSession, "heap-B/session")
			if leg == "direct" {
				direct["target"] = perSession
			} else if d, ok := direct["target"]; ok {
				b.ReportMetric(perSession-d, "gateway-heap-B/session")
			}
		})
	}
}

// idleHeap opens idleSessions shells and returns the heap growth per
// session once they all show a prompt.
func idleHeap(b *testing.B, f *fixture, viaGateway bool) float64 {
	b.StopTimer()
	defer b.StartTimer()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	clients := make([]*sshtest.Client, idleSessions)
	for i := range clients {
		c := &sshtest.Client{Addr: f.target.Addr(), User: "root", Key: f.dir + "/data/upstream_ed25519", TTY: true}
		if viaGateway {
			c = &sshtest.Client{Addr: f.addr, User: "alice", Key: f.keys["alice"], TTY: true, Args: []string{"demo"}}
		}
		c.Start(b)
		clients[i] = c
	}
	for _, c := range clients {
		c.Expect("demo$ ", timeout)
	}
	time.Sleep(100 * time.Millisecond) // let chunk timers and buffers settle
	runtime.GC()
	runtime.ReadMemStats(&ms)
	after := ms.HeapAlloc
	for _, c := range clients {
		c.Send("exit\r")
		c.Wait()
	}
	return float64(int64(after)-int64(before)) / idleSessions
}
