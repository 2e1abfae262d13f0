package recorder

import (
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns this process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBulkChunkCPU measures the CPU seconds per GB of bulk terminal
// output (16 KiB writes of log-like text, as the gateway's copier hands
// them over) for fixed 16 KiB output events and for chunks that grow
// under bulk output (Config.BulkChunkBytes, the default): record (chunk,
// chain, spool write and fsync) and drain (spool read, lz4, publish to
// kfake over TCP; the broker runs in this process, so its CPU is counted
// too). CPU per GB, not MB/s, is the figure to compare on a shared
// machine.
func BenchmarkBulkChunkCPU(b *testing.B) {
	for _, leg := range []struct {
		name string
		bulk int
	}{{"events=16KiB", 16 << 10}, {"events=bulk", 0}} {
		b.Run(leg.name, func(b *testing.B) {
			const total = 256 << 20
			out := terminalOutput(16 << 10)
			var rec, drain time.Duration
			var events int64
			for i := 0; i < b.N; i++ {
				br := startBroker(b, "127.0.0.1:0", "")
				r, err := newRecorder(Config{Gateway: "gw-bench", SpoolDir: b.TempDir(), SpoolMaxBytes: 1 << 40, BulkChunkBytes: leg.bulk,
					Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, options{})
				if err != nil {
					b.Fatal(err)
				}
				s, err := r.Start(StartInfo{User: "alice"})
				if err != nil {
					b.Fatal(err)
				}
				c0 := cpuTime(b)
				for range total / len(out) {
					s.Output(out)
				}
				if err := s.End(0, nil); err != nil {
					b.Fatal(err)
				}
				if err := r.spool.sync(); err != nil {
					b.Fatal(err)
				}
				c1 := cpuTime(b)
				events += r.spool.stats().events
				timedDrain(b, r, br.Addr(), "lz4")
				c2 := cpuTime(b)
				rec += c1 - c0
				drain += c2 - c1
				r.Close()
				br.Close()
			}
			gb := float64(total) * float64(b.N) / 1e9
			b.ReportMetric(rec.Seconds()/gb, "record-cpu-s/GB")
			b.ReportMetric(drain.Seconds()/gb, "drain-cpu-s/GB")
			b.ReportMetric(float64(events)/float64(b.N), "events")
		})
	}
}
