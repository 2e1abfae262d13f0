package query

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/foureyes/foureyes/event"
)

// A walk reads a stream in windows of windowSeqs seqs: first the size of
// every event's data in the window (a few bytes per event), then the
// events themselves in pages of at most pageBytes of data (or one seq,
// if a single event is larger). Every audit read (verify, show, play,
// export) therefore holds at most one page of events at a time, whatever
// the session's size (docs/storage.md, "Memory of audit reads").
const (
	windowSeqs = 8192
	pageBytes  = 4 << 20
)

// maxConflicts bounds the conflicting seqs a walk remembers.
const maxConflicts = 100

// walkStats is what walkEvents saw besides the events.
type walkStats struct {
	// Conflicts lists (at most maxConflicts) seqs stored as copies that
	// differ (in content or stored hash), ascending.
	Conflicts []uint64
	Events    uint64 // distinct seqs read (passed to fn unless it failed)
}

// eventColumns is the select list scanned by walkEvents.
const eventColumns = "seq, ts_ns, type, gateway, actor, data, meta, class, retention_days, version, prev_hash, hash"

// walkEvents calls fn for the events of session id in seq order, one per
// seq, reading windowSeqs seqs at a time from events and held_events (a
// held copy and its original dedup like Kafka redeliveries; among
// conflicting copies the one with the smallest hash is passed, so the
// answer is repeatable). The event passed to fn is only valid during the
// call. A gap of absent seqs costs one extra query, whatever its size.
func (s *Store) walkEvents(ctx context.Context, id string, fn func(e *event.Event) error) (walkStats, error) {
	return s.walkPages(ctx, id, func(page []event.Event, _ []uint64) error {
		for i := range page {
			if err := fn(&page[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// walkPages is walkEvents one deduplicated page at a time: fn gets the
// page's events in seq order, one per seq, and the seqs of the page whose
// copies conflict, before any of them is used. The page is only valid
// during the call.
func (s *Store) walkPages(ctx context.Context, id string, fn func(page []event.Event, conflicts []uint64) error) (walkStats, error) {
	var (
		st   walkStats
		page []event.Event
		from uint64
		cuts []uint64
	)
	for {
		to := from + windowSeqs
		if to < from {
			to = ^uint64(0)
		}
		var err error
		cuts, err = s.pageCuts(ctx, id, from, to, cuts[:0])
		if err != nil {
			return st, err
		}
		if len(cuts) == 0 {
			next, ok, err := s.nextSeq(ctx, id, from)
			if err != nil || !ok {
				return st, err
			}
			from = next
			continue
		}
		cuts = append(cuts, to)
		for i := 0; i+1 < len(cuts); i++ {
			page, err = s.readPage(ctx, id, cuts[i], cuts[i+1], page[:0])
			if err != nil {
				return st, err
			}
			if s.onPage != nil {
				s.onPage(len(page))
			}
			var conflicts []uint64
			page, conflicts = dedupEvents(page)
			for _, c := range conflicts {
				if len(st.Conflicts) < maxConflicts {
					st.Conflicts = append(st.Conflicts, c)
				}
			}
			st.Events += uint64(len(page))
			if err := fn(page, conflicts); err != nil {
				return st, err
			}
			clear(page) // drop the data of this page before reading the next
		}
		if to == ^uint64(0) {
			return st, nil
		}
		from = to
	}
}

// pageCuts appends to cuts the first seq of every page of the window
// [from, to): pages of at most pageBytes of data, a seq's copies in one
// page. It appends nothing when the window holds no event.
func (s *Store) pageCuts(ctx context.Context, id string, from, to uint64, cuts []uint64) ([]uint64, error) {
	const where = " WHERE session = ? AND seq >= ? AND seq < ?"
	// data_len (ingest migration 9), not length(data): a window of bulk
	// output is up to 8192 × 256 KiB of data.
	rows, err := s.conn.Query(ctx, "SELECT seq, sum(data_len) AS n FROM (SELECT seq, data_len FROM events"+where+
		" UNION ALL SELECT seq, data_len FROM held_events"+where+") GROUP BY seq ORDER BY seq", id, from, to, id, from, to)
	if err != nil {
		return cuts, fmt.Errorf("query: events of %s: %w", id, err)
	}
	defer rows.Close()
	var (
		acc  uint64
		seen bool
	)
	for rows.Next() {
		var seq, n uint64
		if err := rows.Scan(&seq, &n); err != nil {
			return cuts, fmt.Errorf("query: events of %s: scan: %w", id, err)
		}
		switch {
		case !seen:
			cuts = append(cuts, from)
			seen = true
		case acc+n > pageBytes && acc > 0:
			cuts = append(cuts, seq)
			acc = 0
		}
		acc += n + 256 // the other columns
	}
	return cuts, rows.Err()
}

// readPage appends the stored rows of seqs [from, to) to buf.
func (s *Store) readPage(ctx context.Context, id string, from, to uint64, buf []event.Event) ([]event.Event, error) {
	const where = " WHERE session = ? AND seq >= ? AND seq < ?"
	rows, err := s.conn.Query(ctx, "SELECT "+eventColumns+" FROM events"+where+" UNION ALL SELECT "+eventColumns+" FROM held_events"+where,
		id, from, to, id, from, to)
	if err != nil {
		return buf, fmt.Errorf("query: events of %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := s.scanEvent(ctx, rows, id)
		if err != nil {
			return buf, err
		}
		buf = append(buf, e)
	}
	if err := rows.Err(); err != nil {
		return buf, fmt.Errorf("query: events of %s: %w", id, err)
	}
	return buf, nil
}

// nextSeq returns the smallest stored seq at or after from (ok false when
// there is none).
func (s *Store) nextSeq(ctx context.Context, id string, from uint64) (uint64, bool, error) {
	var (
		next uint64
		n    uint64
	)
	err := s.conn.QueryRow(ctx, `SELECT min(seq), count() FROM (
		SELECT seq FROM events WHERE session = ? AND seq >= ? UNION ALL SELECT seq FROM held_events WHERE session = ? AND seq >= ?)`,
		id, from, id, from).Scan(&next, &n)
	if err != nil {
		return 0, false, fmt.Errorf("query: events of %s: %w", id, err)
	}
	return next, n > 0, nil
}

// dedupEvents sorts evs by seq (then hash), keeps one event per seq and
// reports the seqs whose copies differ in any field the hash chain
// covers, or in the stored hash. Among copies with different hashes the
// one with the smallest hash is kept; among copies with the same hash,
// one whose content recomputes to it (the genuine one, when stored), so
// a forged copy that kept the genuine hash is never the one shown,
// whatever order ClickHouse returned them in.
func dedupEvents(evs []event.Event) ([]event.Event, []uint64) {
	byKey := func(a, b event.Event) int {
		if c := cmp.Compare(a.Seq, b.Seq); c != 0 {
			return c
		}
		return bytes.Compare(a.Hash[:], b.Hash[:])
	}
	if !slices.IsSortedFunc(evs, byKey) {
		slices.SortFunc(evs, byKey)
	}
	var conflicts []uint64
	out := evs[:0]
	for i := range evs {
		e := &evs[i]
		n := len(out)
		if n == 0 || out[n-1].Seq != e.Seq {
			out = append(out, *e)
			continue
		}
		kept := &out[n-1]
		if sameEvent(kept, e) {
			continue
		}
		if len(conflicts) == 0 || conflicts[len(conflicts)-1] != e.Seq {
			conflicts = append(conflicts, e.Seq)
		}
		if kept.Hash == e.Hash && event.ComputeHash(kept) != kept.Hash && event.ComputeHash(e) == e.Hash {
			*kept = *e
		}
	}
	clear(evs[len(out):]) // drop references held by the removed copies
	return out, conflicts
}

// sameEvent reports whether a and b, two stored copies of one event, are
// identical: every field the hash chain covers, and the stored hash.
func sameEvent(a, b *event.Event) bool {
	return a.Hash == b.Hash && a.Prev == b.Prev && a.Seq == b.Seq && a.Time == b.Time && a.V == b.V &&
		a.Type == b.Type && a.Session == b.Session && a.Gateway == b.Gateway && a.Actor == b.Actor &&
		a.Class == b.Class && a.Retention == b.Retention && bytes.Equal(a.Data, b.Data) && maps.Equal(a.Meta, b.Meta)
}
