package ingest

import (
	"context"
	"fmt"

	"github.com/foureyes/foureyes/event"
)

// backfillChunk is the number of sessions replayed per round.
const backfillChunk = 500

// BackfillSearch fills the commands and participants tables from the
// events already stored, for data ingested before the search tables
// existed (schema version 7). It replays every session of the sessions
// table through the reconstruction ingest uses; the rows are the ones
// ingest would have made, so running it again, or while ingest runs,
// only adds duplicates that deduplication collapses. Held copies
// (held_events) are not replayed. It returns the number of sessions
// replayed.
func (in *Ingester) BackfillSearch(ctx context.Context) (int, error) {
	rows, err := in.conn.Query(ctx, "SELECT DISTINCT session FROM "+in.cfg.Database+".sessions ORDER BY session")
	if err != nil {
		return 0, fmt.Errorf("ingest: backfill: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("ingest: backfill: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("ingest: backfill: %w", err)
	}
	done := 0
	for lo := 0; lo < len(ids); lo += backfillChunk {
		chunk := ids[lo:min(lo+backfillChunk, len(ids))]
		d := newDeriver(len(chunk))
		b := newBatch(0)
		err := in.rebuildChunk(ctx, chunk, func(e *event.Event) {
			st := d.state(e.Session)
			if e.Seq < st.next && st.next > 0 {
				return // a duplicate the query did not collapse
			}
			st.next = e.Seq + 1
			d.feed(st, e, b)
		})
		if err != nil {
			return done, err
		}
		if err := in.insertCommands(ctx, b.commands); err != nil {
			return done, err
		}
		if err := in.insertParticipants(ctx, b.participants); err != nil {
			return done, err
		}
		done += len(chunk)
		in.log.Info("search tables backfilled", "sessions", done, "of", len(ids), "commands", len(b.commands), "participants", len(b.participants))
	}
	return done, nil
}
