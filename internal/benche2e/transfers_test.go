package benche2e

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Transfers of BENCH_E2E=transfers (issue 11): in a row, then at once.
const (
	serialTransfers     = 10
	concurrentTransfers = 5
)

// transfers sends ten 500 MB outputs in a row and five at once through
// foureyes, then checks that every session completed, that ClickHouse
// holds every byte (sum of the output events' data of those sessions
// equals the bytes sent), that the spool never reached its cap and that
// no session's recording failed.
func (e *env) transfers(b *testing.B) {
	fe := e.legs[2]
	command := "head -c " + strconv.Itoa(bulkBytes) + " /dev/zero"
	loadBefore := loadavg()

	// The gateway's spool size, sampled while the transfers run.
	var maxSpool float64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if v, err := e.stack.scrape("spool_bytes"); err == nil && v > maxSpool {
					maxSpool = v
				}
			}
		}
	}()

	start := time.Now()
	var serial []time.Duration
	for range serialTransfers {
		d, _ := bulkOnce(b, fe.client(false, command))
		serial = append(serial, d)
	}
	serialWall := time.Since(start)

	start = time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, concurrentTransfers)
	for range concurrentTransfers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := fe.client(false, command).Command(context.Background())
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("ssh: %v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	concurrentWall := time.Since(start)
	close(errs)
	for err := range errs {
		b.Error(err)
	}
	drained := e.stack.drain(b)
	close(stop)
	<-sampled
	loadAfter := loadavg()
	if b.Failed() {
		b.FailNow()
	}

	ctx := context.Background()
	var sessions, failedSessions uint64
	var bytesOut uint64
	row := e.stack.db.QueryRow(ctx, `SELECT count(), countIf(exit_status != 0 OR interrupted != 0), sum(bytes_out)
		FROM foureyes.sessions FINAL WHERE user = 'alice' AND kind = 'exec'`)
	if err := row.Scan(&sessions, &failedSessions, &bytesOut); err != nil {
		b.Fatal(err)
	}
	// Summed one session at a time from data_len (the length ClickHouse
	// computed at insert) and deduplicated by (session, seq) without
	// FINAL: reading 7.5 GB of data in one query ran past the client's
	// read timeout, and 500 MB in events of 256 KiB past ClickHouse's
	// memory limit.
	ids, err := e.stack.db.Query(ctx, `SELECT DISTINCT session FROM foureyes.sessions WHERE user = 'alice' AND kind = 'exec'`)
	if err != nil {
		b.Fatal(err)
	}
	var sessionIDs []string
	for ids.Next() {
		var id string
		if err := ids.Scan(&id); err != nil {
			b.Fatal(err)
		}
		sessionIDs = append(sessionIDs, id)
	}
	if err := ids.Err(); err != nil {
		b.Fatal(err)
	}
	ids.Close()
	var stored uint64
	for _, id := range sessionIDs {
		var n uint64
		if err := e.stack.db.QueryRow(ctx, `SELECT sum(n) FROM (SELECT seq, data_len AS n FROM foureyes.events
			WHERE session = ? AND type = 'output' LIMIT 1 BY seq)`, id).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n != uint64(bulkBytes) {
			b.Errorf("session %s: %d output bytes in ClickHouse; want %d", id, n, bulkBytes)
		}
		stored += n
	}
	const n = serialTransfers + concurrentTransfers
	sent := uint64(n) * uint64(bulkBytes)
	spoolCap := float64(spoolMaxBytes)
	failures := e.stack.metric(b, "recording_failures_total")

	fmt.Printf("\n### BENCH_E2E=transfers, %s, nproc %d, load average before / after: %s / %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), nprocs(), loadBefore, loadAfter)
	fmt.Printf("%d in a row: %v (median %v, %.0f MB/s); %d at once: %v (%.0f MB/s together); drained %v after the last\n",
		serialTransfers, serialWall.Round(time.Millisecond), median(serial), float64(bulkBytes)/median(serial).Seconds()/1e6,
		concurrentTransfers, concurrentWall.Round(time.Millisecond), float64(concurrentTransfers*bulkBytes)/concurrentWall.Seconds()/1e6, drained.Round(time.Millisecond))
	fmt.Printf("sessions recorded %d (non-zero exit or interrupted: %d); output bytes sent %d, in ClickHouse events %d, sessions.bytes_out %d\n",
		sessions, failedSessions, sent, stored, bytesOut)
	fmt.Printf("spool peak %.0f MiB of %.0f MiB; throttles %v (%.1f s); recording failures %v\n",
		maxSpool/(1<<20), spoolCap/(1<<20), e.stack.metric(b, "throttles_total"), e.stack.metric(b, "throttled_seconds_total"), failures)
	b.ReportMetric(maxSpool/(1<<20), "spool-peak-MiB")

	if sessions != n || failedSessions != 0 {
		b.Errorf("%d exec sessions recorded, %d failed; want %d, 0", sessions, failedSessions, n)
	}
	if stored != sent {
		b.Errorf("output bytes in ClickHouse = %d; want %d (sent)", stored, sent)
	}
	if maxSpool >= spoolCap {
		b.Errorf("spool reached %.0f bytes, its cap %.0f", maxSpool, spoolCap)
	}
	if failures != 0 {
		b.Errorf("recording_failures_total = %v; want 0", failures)
	}
}
