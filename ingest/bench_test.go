package ingest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/event"
)

// benchEvents returns n sealed output events of 200 bytes spread over
// 1000 sessions, marshalled, with their keys.
func benchEvents(n int) (keys []string, values [][]byte) {
	const sessions = 1000
	chains := make([]event.Chain, sessions)
	keys, values = make([]string, n), make([][]byte, n)
	data := make([]byte, 200)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	for i := 0; i < n; i++ {
		s := i % sessions
		e := event.Event{V: event.Version, Session: fmt.Sprintf("0b0f6a8e-1c1e-4a57-9d53-%012d", s), Time: baseTime + int64(i),
			Type: event.Output, Gateway: "gw1", Data: data, Class: "production", Retention: 90}
		// The shape of real sessions: a start, then about 1% input (a
		// command line each, which the search tables reconstruct).
		switch {
		case i < sessions:
			e.Type, e.Data, e.Actor = event.SessionStart, nil, "alice"
			e.Meta = map[string]string{"user": "alice", "host": "db" + strconv.Itoa(s%50), "kind": "shell"}
		case i%100 == 0:
			e.Type, e.Data, e.Actor = event.Input, []byte("ls -la /var/log/postgresql\r"), "alice"
		}
		chains[s].Seal(&e)
		b, err := event.Marshal(&e)
		if err != nil {
			panic(err)
		}
		keys[i], values[i] = e.Session, b
	}
	return keys, values
}

// BenchmarkIngest measures Kafka → ClickHouse throughput: b.N events
// (1000 sessions; 200-byte output, 1% command input, so the search tables
// get their rows) are produced first, then timed from the first fetched
// message (after the group join) until ClickHouse acknowledged them all,
// with the collector set as the ingest process sets it (benchGC).
//
//	go test -run '^$' -bench Ingest -benchtime 1000000x ./ingest/
func BenchmarkIngest(b *testing.B) {
	srv := sharedServer(b)
	conn, db := newDatabase(b, srv)
	addr := startBroker(b, testTopic, 6)
	keys, values := benchEvents(b.N)
	produce(b, addr, testTopic, keys, values)
	keys, values = nil, nil

	in := New(conn, Config{Brokers: []string{addr}, Topic: testTopic, Group: "bench", Database: db,
		BatchRows: benchBatchRows, BatchBytes: benchBatchBytes(), BatchInterval: benchBatchInterval(), Logger: testLogger(b)})
	if n, err := strconv.Atoi(os.Getenv("INGEST_BENCH_WORKERS")); err == nil {
		in.insertWorkers = n
	}
	b.StopTimer()
	b.ResetTimer()
	startIngester(b, in)
	for in.Stats().Fetched == 0 {
		time.Sleep(time.Millisecond)
	}
	chPID := serverPID(b, srv.Dir)
	goCPU0, chCPU0, chBg0 := processCPU(b, "self"), processCPU(b, chPID), threadsCPU(b, chPID, "BackgrProcPool")
	runtime.GC() // the generated values are garbage now
	live0 := liveHeap()
	benchGC(b, in.cfg.BatchBytes, live0)
	stopProfile := profileWindow(b)
	b.StartTimer()
	start := time.Now()
	var peakLive uint64
	for in.Stats().Events < uint64(b.N) {
		time.Sleep(2 * time.Millisecond)
		peakLive = max(peakLive, liveHeap())
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stopProfile()
	goCPU, chCPU := processCPU(b, "self")-goCPU0, processCPU(b, chPID)-chCPU0
	chBg := threadsCPU(b, chPID, "BackgrProcPool") - chBg0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/float64(in.Stats().Batches), "events/insert")
	// The live heap the ingest added at its peak (measured after each GC;
	// the broker's copy of the topic is in the baseline): about half the
	// RSS it needs with GOGC=100.
	b.ReportMetric(float64(peakLive-min(peakLive, live0))/(1<<20), "live-MiB")
	// CPU per event does not depend on what else the machine runs:
	// 2 cores / (go + ch) bounds the throughput of a quiet 2-core machine.
	b.ReportMetric(float64(goCPU.Nanoseconds())/float64(b.N), "go-cpu-ns/event")
	b.ReportMetric(float64(chCPU.Nanoseconds())/float64(b.N), "ch-cpu-ns/event")
	// Of which ClickHouse's background pool (merges of the inserted
	// parts) rather than the INSERTs themselves.
	b.ReportMetric(float64(chBg.Nanoseconds())/float64(b.N), "ch-merge-ns/event")
}

// benchGC sets the collector as `foureyes ingest` sets it (GCPercent
// and MemoryLimit; cmd/foureyes/gc.go), unless GOGC or GOMEMLIMIT
// is set for a sweep, and restores Go's defaults when b ends. The limit
// is raised by base, the live heap before the ingest starts: the
// in-process broker's copy of the topic, which in production lives in
// another process.
func benchGC(b *testing.B, batchBytes int64, base uint64) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	gc := debug.SetGCPercent(GCPercent)
	limit := debug.SetMemoryLimit(MemoryLimit(batchBytes) + int64(base))
	b.Cleanup(func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	})
}

// profileWindow starts a CPU profile of the timed part of BenchmarkIngest
// when INGEST_BENCH_CPUPROFILE names a file (go test's -cpuprofile also
// covers generating and producing the events), and returns its stop.
func profileWindow(tb testing.TB) func() {
	path := os.Getenv("INGEST_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		tb.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			tb.Fatal(err)
		}
	}
}

// liveHeap returns the heap bytes live after the last GC.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// serverPID returns the pid of the clickhouse-server child whose command
// line names dir.
func serverPID(tb testing.TB, dir string) string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmd, []byte("clickhouse")) && bytes.Contains(cmd, []byte(dir)) {
			return e.Name()
		}
	}
	tb.Fatalf("no clickhouse-server process for %s", dir)
	return ""
}

// threadsCPU returns the user+system CPU time of the threads of pid named
// comm (ClickHouse names its threads: TCPHandler, BackgrProcPool, …).
func threadsCPU(tb testing.TB, pid, comm string) time.Duration {
	tasks, err := os.ReadDir("/proc/" + pid + "/task")
	if err != nil {
		tb.Fatal(err)
	}
	var sum time.Duration
	for _, t := range tasks {
		name, err := os.ReadFile("/proc/" + pid + "/task/" + t.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(name)) != comm {
			continue // a thread that ended meanwhile, or another kind
		}
		if d, err := statCPU("/proc/" + pid + "/task/" + t.Name() + "/stat"); err == nil {
			sum += d // else the thread ended meanwhile
		}
	}
	return sum
}

// processCPU returns the user+system CPU time of /proc/PID ("self" for
// this process, which includes the in-process broker).
func processCPU(tb testing.TB, pid string) time.Duration {
	d, err := statCPU("/proc/" + pid + "/stat")
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// statCPU returns utime+stime of a /proc stat file.
func statCPU(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields, in clock ticks (100 Hz on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// BenchmarkInsertEvents compares the column-wise append used by ingest with
// row-wise Append, 100k events per insert.
//
//	go test -run '^$' -bench InsertEvents -benchtime 10x ./ingest/
func BenchmarkInsertEvents(b *testing.B) {
	srv := sharedServer(b)
	conn, db := newDatabase(b, srv)
	const rows = 100000
	_, values := benchEvents(rows)
	batch := newBatch(rows)
	for i, v := range values {
		rec := decode(kafka.Message{Offset: int64(i), Value: v}, time.Time{})
		batch.add(&rec)
	}
	in := New(conn, Config{Brokers: []string{"unused:1"}, Database: db})
	ctx := context.Background()
	b.Run("columns", func(b *testing.B) {
		for b.Loop() {
			if err := in.insertEvents(ctx, &batch.events); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("rows", func(b *testing.B) {
		c := &batch.events
		for b.Loop() {
			bt, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".events ("+eventColumns+")")
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < c.len(); i++ {
				if err := bt.Append(c.session[i], c.seq[i], time.Unix(c.ts[i], 0), c.tsNs[i], c.typ[i], c.gateway[i], c.actor[i], c.data[i],
					c.meta[i], c.class[i], c.retention[i], c.version[i], c.prevHash[i], c.hash[i]); err != nil {
					b.Fatal(err)
				}
			}
			if err := bt.Send(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkDecode measures the per-message CPU cost of the decoder
// goroutine (wire decode, meta JSON, hex hashes): a session.start (meta)
// and an output event (most of the stream).
func BenchmarkDecode(b *testing.B) {
	_, values := benchEvents(1001)
	for _, c := range []struct {
		name  string
		value []byte
	}{{"start", values[0]}, {"output", values[1000]}} {
		for _, checked := range []bool{false, true} {
			name := c.name
			if checked {
				name += "-classes" // with the retention checks of a configured ingest
			}
			b.Run(name, func(b *testing.B) {
				m := kafka.Message{Value: c.value}
				now := time.Now()
				var d decoder
				if checked {
					d.limits = newLimits(map[string]uint16{"production": 90, "logs": 3}, func() time.Time { return time.Unix(0, baseTime) })
				}
				b.ReportAllocs()
				for b.Loop() {
					if rec := d.decode(m, now); rec.rejected != nil {
						b.Fatal(rec.rejected.err)
					}
				}
			})
		}
	}
}

// benchBatchBytes and benchBatchInterval are the batch settings
// BenchmarkIngest runs with: the defaults, unless INGEST_BENCH_BATCH_BYTES
// or INGEST_BENCH_BATCH_INTERVAL (a duration) set them for a sweep
// (INGEST_BENCH_WORKERS sets the number of insert workers).
func benchBatchBytes() int64 {
	n, _ := strconv.ParseInt(os.Getenv("INGEST_BENCH_BATCH_BYTES"), 10, 64)
	return n
}

func benchBatchInterval() time.Duration {
	d, _ := time.ParseDuration(os.Getenv("INGEST_BENCH_BATCH_INTERVAL"))
	return d
}

// benchBatchRows is the batch size BenchmarkIngest runs with: the default.
var benchBatchRows = DefaultBatchRows

// BenchmarkDerive measures the Run goroutine's search derivation per
// event (1000 sessions' streams as BenchmarkIngest makes them, in batches
// of 10000 sorted by session), without the store: every session starts
// at seq 0 in the benchmark's events.
func BenchmarkDerive(b *testing.B) {
	const n = 100000
	_, values := benchEvents(n)
	var dec decoder
	recs := make([]record, n)
	for i := range values {
		recs[i] = dec.decode(kafka.Message{Value: values[i]}, time.Time{})
	}
	var spare eventCols
	batches := make([]*batch, 0, n/10000)
	for lo := 0; lo < n; lo += 10000 {
		bt := newBatch(10000)
		for i := lo; i < lo+10000; i++ {
			bt.add(&recs[i])
		}
		bt.events.sortBySession(&spare)
		batches = append(batches, bt)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d := newDeriver(DefaultSearchSessions)
		for _, bt := range batches {
			bt.commands, bt.participants = bt.commands[:0], bt.participants[:0]
			if err := d.derive(ctx, bt); err != nil {
				b.Fatal(err)
			}
		}
		if len(batches[len(batches)-1].commands) == 0 {
			b.Fatal("no commands derived")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}
