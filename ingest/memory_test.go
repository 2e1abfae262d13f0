package ingest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// TestIngestBoundsMemoryByBytes: large events are inserted in batches cut
// by bytes, and the bytes held between fetch and an acknowledged insert
// never exceed BatchBytes, however many rows BatchRows would allow.
// Before the byte budget, 100k rows of 16 KiB output chunks were held
// twice over (the decoded queue and the batch): 1-2 GB of RSS.
func TestIngestBoundsMemoryByBytes(t *testing.T) {
	f := newFixture(t, 1)
	var c event.Chain
	evs := make([]event.Event, 64)
	for i := range evs {
		evs[i] = event.Event{V: event.Version, Session: sid("big"), Time: baseTime + int64(i), Type: event.Output, Gateway: "gw1",
			Data: bytes.Repeat([]byte{byte(i)}, 256<<10), Class: "production", Retention: 90}
		c.Seal(&evs[i])
	}
	produceEvents(t, f.addr, testTopic, evs)
	f.cfg.BatchRows = 100000
	f.cfg.BatchBytes = 1 << 20
	in := New(f.conn, f.cfg)
	startIngester(t, in)
	waitFor(t, "all events inserted", 60*time.Second, func() bool { return f.distinctEvents(t) == uint64(len(evs)) })
	if brk := event.Verify(readEvents(t, f.conn, f.db, sid("big"))); brk != nil {
		t.Fatalf("stored chain does not verify: %v", brk)
	}
	st := in.Stats()
	if st.PeakBytes > f.cfg.BatchBytes || st.PeakBytes == 0 {
		t.Errorf("PeakBytes = %d; want at most BatchBytes %d", st.PeakBytes, f.cfg.BatchBytes)
	}
	// 16 MiB in batches of at most half a MiB.
	if st.Batches < 32 {
		t.Errorf("Batches = %d; want at least 32 (cut by bytes, not by rows)", st.Batches)
	}
}

func TestBudgetLetsOneOversizedRecordThrough(t *testing.T) {
	b := newBudget(10)
	if !b.acquire(t.Context(), 25) {
		t.Fatal("an oversized record alone must pass")
	}
	b.release(25)
	if !b.acquire(t.Context(), 6) || b.peakBytes() != 25 {
		t.Fatalf("peak = %d; want 25", b.peakBytes())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if b.acquire(ctx, 6) {
		t.Fatal("acquire past the budget did not wait")
	}
}
