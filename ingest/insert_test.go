package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestInsertEventsInBlocks inserts a batch larger than insertBlockRows:
// every row arrives, in one part (the server joins the blocks of one
// INSERT), with the columns of each row kept together across blocks.
func TestInsertEventsInBlocks(t *testing.T) {
	srv := sharedServer(t)
	conn, db := newDatabase(t, srv)
	ctx := context.Background()
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES "+db+".events"); err != nil {
		t.Fatal(err)
	}
	rows := 2*insertBlockRows + 123
	_, values := benchEvents(rows)
	b := newBatch(rows)
	for i, v := range values {
		rec := decode(kafka.Message{Offset: int64(i), Value: v}, time.Time{})
		b.add(&rec)
	}
	in := New(conn, Config{Brokers: []string{"unused:1"}, Database: db})
	if err := in.insertEvents(ctx, &b.events); err != nil {
		t.Fatal(err)
	}
	var n, mismatched, parts uint64
	// benchEvents spreads events over 1000 sessions round-robin: event i
	// is seq i/1000 of session i%1000.
	if err := conn.QueryRow(ctx, "SELECT count(), countIf(toUInt64(substring(session, 25)) + seq * 1000 != toUInt64(ts_ns - ?)) FROM "+db+".events",
		baseTime).Scan(&n, &mismatched); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = 'events' AND active", db).Scan(&parts); err != nil {
		t.Fatal(err)
	}
	if n != uint64(rows) || mismatched != 0 || parts != 1 {
		t.Errorf("inserted %d rows in blocks of %d: stored %d rows, %d with columns out of step, in %d parts; want %d, 0, 1 part",
			rows, insertBlockRows, n, mismatched, parts, rows)
	}
}
