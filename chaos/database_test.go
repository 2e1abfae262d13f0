package chaos

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/ingest"
	"github.com/foureyes/foureyes/query"
)

// database is the test's own view of ClickHouse. It connects on demand and
// drops a connection pool after an error, so that it survives the server's
// restarts. It is used from the test goroutine only.
type database struct {
	addr, name string
	conn       driver.Conn
}

// get returns a connected pool.
func (d *database) get(ctx context.Context) (driver.Conn, error) {
	if d.conn != nil {
		return d.conn, nil
	}
	conn, err := ingest.Connect(ctx, config.ClickHouse{Addr: d.addr, Database: d.name})
	if err != nil {
		return nil, err
	}
	d.conn = conn
	return conn, nil
}

// failed drops the pool after err, for a fresh one on the next call.
func (d *database) failed(err error) error {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
	return err
}

// close releases the pool.
func (d *database) close() {
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
}

// store returns a query.Store over the pool: the auditor's dedup path.
func (d *database) store(ctx context.Context) (*query.Store, error) {
	conn, err := d.get(ctx)
	if err != nil {
		return nil, err
	}
	return query.NewStore(conn), nil
}

// stream is what the raw events table holds about one session stream,
// duplicates included.
type stream struct {
	id       string
	rows     uint64 // rows, with redelivered copies
	distinct uint64 // distinct seqs
	minSeq   uint64
	maxSeq   uint64
	ends     uint64 // distinct seqs of type session.end
	endSeq   uint64 // the seq of the session.end, when ends == 1
	// From the session.start meta: "" until it is stored.
	kind, command, gateway string
	// reopened marks a gateway stream opened after the previous one's
	// recording failed (meta previous_stream), not by a gateway start.
	reopened bool
}

// complete reports whether the stream is whole: a session.end, and every
// seq from 0 to it.
func (st *stream) complete() bool {
	return st.ends == 1 && st.minSeq == 0 && st.maxSeq == st.endSeq && st.distinct == st.endSeq+1
}

// String describes the stream for failure messages.
func (st *stream) String() string {
	return fmt.Sprintf("%s(kind=%s gw=%s rows=%d distinct=%d seq=%d..%d ends=%d end=%d)",
		st.id, st.kind, st.gateway, st.rows, st.distinct, st.minSeq, st.maxSeq, st.ends, st.endSeq)
}

// streams reads the per-session aggregates of the events table.
func (d *database) streams(ctx context.Context) (map[string]*stream, error) {
	conn, err := d.get(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT session, count(), uniqExact(seq), min(seq), max(seq),
		uniqExactIf(seq, type = 'session.end'), maxIf(seq, type = 'session.end'), anyIf(meta, type = 'session.start')
		FROM events GROUP BY session`)
	if err != nil {
		return nil, d.failed(fmt.Errorf("chaos: read events: %w", err))
	}
	defer rows.Close()
	out := map[string]*stream{}
	for rows.Next() {
		st := &stream{}
		var meta string
		if err := rows.Scan(&st.id, &st.rows, &st.distinct, &st.minSeq, &st.maxSeq, &st.ends, &st.endSeq, &meta); err != nil {
			return nil, d.failed(fmt.Errorf("chaos: scan events: %w", err))
		}
		if meta != "" {
			var m map[string]string
			if err := json.Unmarshal([]byte(meta), &m); err != nil {
				return nil, fmt.Errorf("chaos: session.start meta of %s: %w", st.id, err)
			}
			st.kind, st.command, st.gateway = m["kind"], m["command"], m["gateway"]
			st.reopened = m["previous_stream"] != ""
		}
		out[st.id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, d.failed(fmt.Errorf("chaos: read events: %w", err))
	}
	return out, nil
}

// count returns the number of distinct (session, seq) in the events table.
func (d *database) count(ctx context.Context) (uint64, error) {
	conn, err := d.get(ctx)
	if err != nil {
		return 0, err
	}
	var n uint64
	if err := conn.QueryRow(ctx, `SELECT uniqExact(session, seq) FROM events`).Scan(&n); err != nil {
		return 0, d.failed(fmt.Errorf("chaos: count events: %w", err))
	}
	return n, nil
}

// rows returns the number of rows in the events table, duplicates included:
// cheaper than count, for polling.
func (d *database) rows(ctx context.Context) (uint64, error) {
	conn, err := d.get(ctx)
	if err != nil {
		return 0, err
	}
	var n uint64
	if err := conn.QueryRow(ctx, `SELECT count() FROM events`).Scan(&n); err != nil {
		return 0, d.failed(fmt.Errorf("chaos: count rows: %w", err))
	}
	return n, nil
}
