package gateway

import (
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/recorder"
)

// BenchmarkFanout measures what fan-out adds to the admin side of a
// four-eyes session: each 32 KiB chunk of host output is kept for late
// joiners and offered to every watcher (copyOutput's hub.broadcast; the
// recording and the network write are measured by the recorder's and
// BenchmarkBulkOutput). Watchers drain their
// queues on their own goroutines into io.Discard; "stalled" adds one
// watcher that never reads, which must not slow the admin down (it skips
// ahead and participant.lagged is recorded). Run with
//
//	go test -run '^$' -bench Fanout -benchtime 2000x ./gateway/
//
// The "admin" variants add what copyOutput does before the broadcast,
// recording the chunk (Session.Output: chunking, hashing, spooling): that
// is the admin-side throughput the four-eyes budget is about.
func BenchmarkFanout(b *testing.B) {
	for _, admin := range []bool{false, true} {
		for _, tc := range []struct {
			watchers int
			stalled  bool
		}{{1, false}, {5, false}, {20, false}, {20, true}} {
			name := fmt.Sprintf("watchers=%d", tc.watchers)
			if tc.stalled {
				name += "/stalled=1"
			}
			if admin {
				name = "admin/" + name
			}
			b.Run(name, func(b *testing.B) { benchFanout(b, tc.watchers, tc.stalled, admin) })
		}
	}
}

func benchFanout(b *testing.B, watchers int, stalled, record bool) {
	rec, err := recorder.New(recorder.Config{Gateway: "bench", SpoolDir: filepath.Join(b.TempDir(), "spool"), SpoolMaxBytes: 16 << 30, Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	sess, err := rec.Start(recorder.StartInfo{User: "alice", Host: "prod"})
	if err != nil {
		b.Fatal(err)
	}
	h := &hub{owner: "alice", pol: &config.ApprovalPolicy{Count: 1}, rec: sess, log: testLogger(), wake: make(chan struct{}, 1), notes: make(chan string, 16), closed: make(chan struct{}), state: stateActive}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < watchers; i++ {
		p := newParticipant(fmt.Sprintf("w%d", i), "", "", modeObserver)
		h.parts = append(h.parts, p)
		if stalled && i == 0 {
			continue // never drained
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.writeOutput(io.Discard, stop)
		}()
	}
	chunk := make([]byte, bufSize)
	for i := range chunk {
		chunk[i] = byte('a' + i%26)
	}
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if record {
			sess.Output(chunk)
		}
		h.broadcast(streamOut, chunk)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(len(chunk))*float64(b.N)/elapsed.Seconds()/1e6, "MB/s")
	close(stop)
	wg.Wait()
	h.mu.Lock()
	lagging := h.parts[0].lagging
	h.mu.Unlock()
	if stalled && b.N > queueChunks && !lagging {
		b.Error("the stalled watcher is not marked lagging")
	}
	if err := sess.End(0, nil); err != nil {
		b.Fatal(err)
	}
}
