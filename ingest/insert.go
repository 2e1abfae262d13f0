package ingest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// insertStage names the inserts of one batch, done in this order.
type insertStage int

const (
	stageEvents insertStage = iota
	stageSessions
	stageCommands
	stageParticipants
	stageRejected
	stageDone
)

// insert writes every row of b, retrying failed inserts with capped
// exponential backoff until ClickHouse acknowledges them or ctx is done.
// Stages already acknowledged are not repeated on a retry. b must have
// been prepared (sorted and derived). Several inserts may run at once.
func (in *Ingester) insert(ctx context.Context, b *batch) error {
	wait := in.backoffMin
	for stage := stageEvents; stage < stageDone; {
		err := in.insertStage(ctx, b, stage)
		if err == nil {
			stage++
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		in.counters.insertErrors.Add(1)
		in.log.Warn("insert failed; retrying the batch", "rows", b.n, "stage", stage, "retry_in", wait, "err", err)
		if !sleep(ctx, jitter(wait)) {
			return ctx.Err()
		}
		wait = min(2*wait, in.backoffMax)
	}
	in.counters.events.Add(uint64(b.events.len()))
	in.counters.sessions.Add(uint64(len(b.sessions)))
	in.counters.commands.Add(uint64(len(b.commands)))
	in.counters.participants.Add(uint64(len(b.participants)))
	in.counters.rejected.Add(uint64(len(b.rejected)))
	in.counters.batches.Add(1)
	return nil
}

func (in *Ingester) insertStage(ctx context.Context, b *batch, stage insertStage) error {
	if in.insertFault != nil {
		if err := in.insertFault(b, stage); err != nil {
			return err
		}
	}
	settings, err := in.detect(ctx)
	if err != nil {
		return err
	}
	if settings != nil {
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(settings))
	}
	switch stage {
	case stageEvents:
		return in.insertEvents(ctx, &b.events)
	case stageSessions:
		return in.insertSessions(ctx, b.sessions)
	case stageCommands:
		return in.insertCommands(ctx, b.commands)
	case stageParticipants:
		return in.insertParticipants(ctx, b.participants)
	case stageRejected:
		return in.insertRejected(ctx, b.rejected)
	}
	return nil
}

// detect learns the server version and settings once, before the first
// insert, and returns the settings inserts carry; it is retried with the
// insert while the server is unreachable.
func (in *Ingester) detect(ctx context.Context) (clickhouse.Settings, error) {
	in.detectMu.Lock()
	defer in.detectMu.Unlock()
	if in.detected {
		return in.insertSettings, nil
	}
	version, err := ServerVersion(ctx, in.conn)
	if err != nil {
		return nil, err
	}
	f := detectFeatures(version)
	// Newer servers refuse an INSERT block that spans more than 100
	// partitions by default; a backlog of many days would then fail
	// forever. 18.16 has neither the limit nor the setting.
	var n uint64
	if err := in.conn.QueryRow(ctx, "SELECT count() FROM system.settings WHERE name = 'max_partitions_per_insert_block'").Scan(&n); err != nil {
		return nil, fmt.Errorf("ingest: read settings: %w", err)
	}
	if n > 0 {
		in.insertSettings = clickhouse.Settings{"max_partitions_per_insert_block": 0}
	}
	in.log.Info("clickhouse server", "version", version, "ttl", f.TTL, "codecs", f.Codecs)
	in.detected = true
	return in.insertSettings, nil
}

// insertBlockRows bounds the rows of one native-protocol data block. The
// server allocates each received block whole; blocks of 100k rows (tens of
// MiB) cost ClickHouse 18.16 several times the CPU of the same rows sent as
// blocks of 8k (page faults and copies, measured in BENCHMARKS.md). The
// blocks of one INSERT still become one part.
const insertBlockRows = 8192

// insertBlockBytes bounds the event data of one block, so that the
// client's block buffer stays small whatever the event sizes.
const insertBlockBytes = 4 << 20

func (in *Ingester) insertEvents(ctx context.Context, c *eventCols) error {
	if c.len() == 0 {
		return nil
	}
	b, err := in.conn.PrepareBatch(ctx, "INSERT INTO "+in.cfg.Database+".events ("+eventColumns+")")
	if err != nil {
		return fmt.Errorf("ingest: insert events: %w", err)
	}
	defer b.Close()
	for lo := 0; lo < c.len(); {
		hi, size := lo, 0
		for hi < c.len() && hi-lo < insertBlockRows && (hi == lo || size+len(c.data[hi]) <= insertBlockBytes) {
			size += len(c.data[hi])
			hi++
		}
		block := c.slice(lo, hi)
		lo = hi
		for i, col := range block.columns() {
			if err := b.Column(i).Append(col); err != nil {
				return fmt.Errorf("ingest: insert events: column %d: %w", i, err)
			}
		}
		if err := b.Flush(); err != nil {
			return fmt.Errorf("ingest: insert events: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("ingest: insert events: %w", err)
	}
	return nil
}

func (in *Ingester) insertSessions(ctx context.Context, rows []sessionRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := in.conn.PrepareBatch(ctx, "INSERT INTO "+in.cfg.Database+".sessions ("+sessionColumns+")")
	if err != nil {
		return fmt.Errorf("ingest: insert sessions: %w", err)
	}
	defer b.Close()
	for i := range rows {
		r := &rows[i]
		err := b.Append(r.session, r.version, r.kind, r.user, r.host, r.login, r.remote, r.gateway,
			time.Unix(r.started, 0), r.startedNs, r.endedNs, r.exitStatus, r.interrupted, r.command,
			r.bytesIn, r.bytesOut, r.approvers, r.reason, r.lastSeq, r.lastHash, r.class, r.retention)
		if err != nil {
			return fmt.Errorf("ingest: insert sessions: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("ingest: insert sessions: %w", err)
	}
	return nil
}

func (in *Ingester) insertCommands(ctx context.Context, rows []commandRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := in.conn.PrepareBatch(ctx, "INSERT INTO "+in.cfg.Database+".commands ("+commandColumns+")")
	if err != nil {
		return fmt.Errorf("ingest: insert commands: %w", err)
	}
	defer b.Close()
	for i := range rows {
		r := &rows[i]
		err := b.Append(r.session, r.seq, r.idx, time.Unix(r.ts, 0), r.tsNs, r.kind, r.host, r.user, r.actor,
			r.typists, r.approximate, r.blind, r.line, r.detail, r.class, r.retention)
		if err != nil {
			return fmt.Errorf("ingest: insert commands: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("ingest: insert commands: %w", err)
	}
	return nil
}

func (in *Ingester) insertParticipants(ctx context.Context, rows []participantRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := in.conn.PrepareBatch(ctx, "INSERT INTO "+in.cfg.Database+".participants ("+participantColumns+")")
	if err != nil {
		return fmt.Errorf("ingest: insert participants: %w", err)
	}
	defer b.Close()
	for i := range rows {
		r := &rows[i]
		err := b.Append(r.session, r.name, r.role, r.seq, time.Unix(r.ts, 0), r.tsNs, r.host, r.user, r.kind, r.class, r.retention)
		if err != nil {
			return fmt.Errorf("ingest: insert participants: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("ingest: insert participants: %w", err)
	}
	return nil
}

func (in *Ingester) insertRejected(ctx context.Context, rows []rejectedRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := in.conn.PrepareBatch(ctx, "INSERT INTO "+in.cfg.Database+".rejected ("+rejectedColumns+")")
	if err != nil {
		return fmt.Errorf("ingest: insert rejected: %w", err)
	}
	defer b.Close()
	for i := range rows {
		r := &rows[i]
		if err := b.Append(r.topic, r.partition, r.offset, r.err, r.raw, r.at); err != nil {
			return fmt.Errorf("ingest: insert rejected: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("ingest: insert rejected: %w", err)
	}
	return nil
}

// jitter returns d spread uniformly over [d/2, d) so that several ingest
// processes do not retry in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// sleep waits for d and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
