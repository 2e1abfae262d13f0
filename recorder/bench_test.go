package recorder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// benchRecorder opens a recorder on a temporary disk directory with a
// spool limit that the benchmark cannot reach.
func benchRecorder(b *testing.B) *Recorder { return benchRecorderWith(b, options{}) }

// benchRecorderWith is benchRecorder with options o.
func benchRecorderWith(b *testing.B, o options) *Recorder {
	b.Helper()
	r, err := newRecorder(Config{Gateway: "gw-bench", SpoolDir: b.TempDir(), SpoolMaxBytes: 1 << 40, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

// BenchmarkSessionOutput measures bulk output throughput (4 KiB writes,
// default chunks: 16 KiB growing to 256 KiB under this bulk) into the
// spool, including the final fsync.
func BenchmarkSessionOutput(b *testing.B) {
	r := benchRecorder(b)
	s, err := r.Start(StartInfo{User: "alice"})
	if err != nil {
		b.Fatal(err)
	}
	p := make([]byte, 4096)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Output(p)
	}
	if err := s.End(0, nil); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSessionInput measures one keystroke: Input of one byte (it
// must not wait for fsync).
func BenchmarkSessionInput(b *testing.B) {
	r := benchRecorder(b)
	s, err := r.Start(StartInfo{User: "alice"})
	if err != nil {
		b.Fatal(err)
	}
	key := []byte{'a'}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Input("alice", key)
	}
	b.StopTimer()
	if err := s.End(0, nil); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSpoolGroupCommit measures events/s from concurrent sessions
// (100-byte records) until all are fsync'd.
func BenchmarkSpoolGroupCommit(b *testing.B) {
	r := benchRecorder(b)
	data := make([]byte, 100)
	var id atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		s, err := r.Start(StartInfo{ID: fmt.Sprint("s", id.Add(1)), User: "alice"})
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if err := s.Record(event.AuditQuery, "alice", data, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := r.spool.sync(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkSessionEnd measures Start plus End, which waits for its fsync.
func BenchmarkSessionEnd(b *testing.B) {
	r := benchRecorder(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := r.Start(StartInfo{User: "alice"})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.End(0, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublish measures draining a full spool (16 sessions of input
// events, about 300 bytes of JSON each) to kfake over TCP.
func BenchmarkPublish(b *testing.B) {
	for _, comp := range []string{"none", "lz4"} {
		b.Run(comp, func(b *testing.B) {
			br := startBroker(b, "127.0.0.1:0", "")
			r := benchRecorder(b)
			var sessions []*Session
			for i := 0; i < 16; i++ {
				s, err := r.Start(StartInfo{User: "alice"})
				if err != nil {
					b.Fatal(err)
				}
				sessions = append(sessions, s)
			}
			data := make([]byte, 60)
			for i := 0; i < b.N; i++ {
				sessions[i%16].Input("alice", data)
			}
			if err := r.spool.sync(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/timedDrain(b, r, br.Addr(), comp).Seconds(), "events/s")
		})
	}
}

// timedDrain publishes r's durable spool to the broker at addr with
// compression comp and returns how long Kafka took to acknowledge all of
// it; the benchmark timer restarts at the first send.
func timedDrain(b *testing.B, r *Recorder, addr, comp string) time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	go r.Publish(ctx, PublisherConfig{Brokers: []string{addr}, Compression: comp})
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer dcancel()
	if err := r.Drain(dctx); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// terminalOutput returns n bytes that look like a busy terminal: log lines
// with timestamps, numbers and colour escapes (compression measured on
// zeros would flatter every codec).
func terminalOutput(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "\x1b[32m2026-12-04T03:%02d:%02d.%03dZ\x1b[0m INFO  worker-%d request id=%08x path=/api/v1/items/%d status=%d bytes=%d dur=%dms\r\n",
			i/60%60, i%60, i*7%1000, i%16, uint32(i*2654435761), i*31%100000, []int{200, 200, 200, 404, 500}[i%5], i*97%65536, i*13%900)
	}
	return b.Bytes()[:n]
}

// BenchmarkPublishOutput measures draining bulk terminal output (16 KiB
// output events of log-like text) to kfake over TCP, in MB/s of output.
func BenchmarkPublishOutput(b *testing.B) {
	for _, comp := range []string{"none", "lz4", "zstd"} {
		b.Run(comp, func(b *testing.B) {
			br := startBroker(b, "127.0.0.1:0", "")
			// 16 KiB events, as this benchmark always measured (bulk
			// chunks would make them 256 KiB: BenchmarkBulkChunkCPU).
			r, err := newRecorder(Config{Gateway: "gw-bench", SpoolDir: b.TempDir(), SpoolMaxBytes: 1 << 40, BulkChunkBytes: 16 << 10,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { r.Close() })
			s, err := r.Start(StartInfo{User: "alice"})
			if err != nil {
				b.Fatal(err)
			}
			out := terminalOutput(16 << 10)
			const total = 256 << 20
			for range total / len(out) {
				s.Output(out)
			}
			s.End(0, nil)
			if err := r.spool.sync(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(total)/1e6/timedDrain(b, r, br.Addr(), comp).Seconds(), "MB/s")
		})
	}
}
