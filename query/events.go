package query

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/event"
)

// eventChunk is the largest chunk events collects rows in.
const eventChunk = 8192

// Events returns the events of session id ordered by seq, one per seq:
// copies redelivered by Kafka and not yet merged away by ClickHouse are
// dropped at query time (among conflicting copies the one with the
// smallest hash, so the answer is repeatable — Verify reports the
// conflict). It returns ErrNotFound when the session has no events.
func (s *Store) Events(ctx context.Context, id string) ([]event.Event, error) {
	evs, _, err := s.events(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, s.notFound(ctx, id)
	}
	return evs, nil
}

// events reads every stored row of session id and deduplicates them by
// seq in Go. On ClickHouse 18.16 "ORDER BY seq LIMIT 1 BY seq" costs the
// server seven times the plain read (it sorts the whole session);
// sorting parts that are already in seq order and dropping neighbours is
// nearly free here, and finds the conflicting copies in the same pass. It
// returns the events and, in ascending order, the seqs stored as copies
// that differ.
func (s *Store) events(ctx context.Context, id string) ([]event.Event, []uint64, error) {
	// held_events holds the copies of held sessions whose partitions
	// retention dropped; a copy and its original dedup like redeliveries.
	const cols = "seq, ts_ns, type, gateway, actor, data, meta, class, retention_days, version, prev_hash, hash"
	rows, err := s.conn.Query(ctx, "SELECT "+cols+" FROM events WHERE session = ? UNION ALL SELECT "+cols+" FROM held_events WHERE session = ?", id, id)
	if err != nil {
		return nil, nil, fmt.Errorf("query: events of %s: %w", id, err)
	}
	defer rows.Close()
	var (
		// Rows are collected in chunks and joined once: growing one slice
		// of 100k events by doubling cost more than the query itself.
		chunks [][]event.Event
		cur    []event.Event
	)
	for rows.Next() {
		if len(cur) == cap(cur) {
			if len(cur) > 0 {
				chunks = append(chunks, cur)
			}
			cur = make([]event.Event, 0, min(max(2*cap(cur), 64), eventChunk))
		}
		e, err := s.scanEvent(ctx, rows, id)
		if err != nil {
			return nil, nil, err
		}
		cur = append(cur, e)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("query: events of %s: %w", id, err)
	}
	out := cur
	if len(chunks) > 0 {
		n := len(cur)
		for _, c := range chunks {
			n += len(c)
		}
		out = make([]event.Event, 0, n)
		for _, c := range chunks {
			out = append(out, c...)
		}
		out = append(out, cur...)
	}
	out, conflicts := dedupEvents(out)
	return out, conflicts, nil
}

// scanEvent reads the current events row (the columns of eventCols in
// order) of session id. A malformed stored meta or hash cannot be shown
// faithfully: the event is kept with that field zeroed, and logged, so
// that verification names its seq.
func (s *Store) scanEvent(ctx context.Context, rows driver.Rows, id string) (event.Event, error) {
	e := event.Event{Session: id}
	if err := s.scanInto(ctx, rows, &e); err != nil {
		return e, fmt.Errorf("query: events of %s: scan: %w", id, err)
	}
	return e, nil
}

// scanInto reads the current row into e: the columns lead point at (a
// query may select more in front, e.g. the session), then eventCols.
func (s *Store) scanInto(ctx context.Context, rows driver.Rows, e *event.Event, lead ...any) error {
	var typ, data, meta, prev, hash string
	if err := rows.Scan(append(lead, &e.Seq, &e.Time, &typ, &e.Gateway, &e.Actor, &data, &meta, &e.Class, &e.Retention, &e.V, &prev, &hash)...); err != nil {
		return err
	}
	id := e.Session
	e.Type = event.Type(typ)
	if data != "" {
		e.Data = []byte(data)
	}
	var err error
	if e.Meta, err = event.ParseMeta(meta); err != nil {
		s.log.WarnContext(ctx, "stored meta does not parse", "session", id, "seq", e.Seq, "err", err)
	}
	if e.Prev, err = event.ParseStoredHash(prev); err != nil {
		s.log.WarnContext(ctx, "stored prev_hash does not parse", "session", id, "seq", e.Seq, "err", err)
	}
	if e.Hash, err = event.ParseStoredHash(hash); err != nil {
		s.log.WarnContext(ctx, "stored hash does not parse", "session", id, "seq", e.Seq, "err", err)
	}
	return nil
}
