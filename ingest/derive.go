package ingest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/foureyes/foureyes/cmdline"
	"github.com/foureyes/foureyes/event"
)

// DefaultSearchSessions is how many sessions' reconstruction state ingest
// keeps in memory by default (Config.SearchSessions).
const DefaultSearchSessions = 4096

// searchTypes are the event types that feed the search tables; every
// other type only advances its session's seq. Kept as a SQL list too
// (searchTypesSQL) for rebuilding a session's state from ClickHouse.
var searchTypes = map[string]bool{}

// searchTypesSQL is searchTypes as a SQL list of string literals.
var searchTypesSQL string

func init() {
	types := []event.Type{event.SessionStart, event.Input, event.Exec, event.InputBlind, event.ApprovalGrant,
		event.ApprovalDeny, event.ApprovalView, event.ParticipantJoin, event.SessionTerminate, event.WindowGrant,
		event.WindowDeny, event.Transfer, event.FileOp, event.ApprovalRefused}
	quoted := make([]string, len(types))
	for i, t := range types {
		searchTypes[string(t)] = true
		quoted[i] = "'" + string(t) + "'" // constants: letters, dots
	}
	searchTypesSQL = strings.Join(quoted, ", ")
}

// searchState is what ingest remembers of one session to fill the search
// tables: where its hash chain stands, the line editors and the
// participant roles already recorded.
type searchState struct {
	// next is the seq expected next and last the hash of the event before
	// it (zeros at seq 0). Only an event with seq next and prev last is
	// derived from: the events are not signed one by one, and a forged
	// seq must not move the state (a seq far ahead once made every later
	// genuine event look delivered again).
	next uint64
	last event.Hash
	// triedAt is next+1 when a rebuild last ended short of the seq it was
	// asked for (the stored chain stops there); 0 otherwise. A gap at the
	// same place is not rebuilt again: the store would answer the same.
	triedAt          uint64
	rec              cmdline.Reconstructor
	host, user, kind string
	seen             map[string]bool // name + "\x00" + role recorded
	used             uint64          // the deriver's batch number when last fed
	ended            bool
	// unusable: rebuilding the session from the store failed on its
	// content (not an outage); nothing more is derived from it until it
	// is forgotten (evicted, or ingest restarts).
	unusable bool
}

// deriver fills the commands and participants rows of each batch from its
// events. Kafka delivers a session's events in order (one partition per
// session), so the state of a session follows its stream; a session whose
// state is missing (ingest restarted, a rebalance, an eviction) or that
// skipped ahead is rebuilt from its earlier events in ClickHouse, which
// earlier batches inserted before committing. It is used by the Run
// goroutine only.
type deriver struct {
	max      int
	sessions map[string]*searchState
	batch    uint64
	scratch  []cmdline.Command
	// rebuild reads the stored events of sessions with a seq below
	// before[session] and calls feed for each, in session and seq order,
	// copies included, with Seq, Prev and Hash set; the other fields are
	// needed for the searchTypes only.
	rebuild func(ctx context.Context, before map[string]uint64, feed func(e *event.Event)) error
	// gaveUp, if set, is told of a session made unusable and why.
	gaveUp func(session string, err error)
	// skipped counts the events whose search rows were not derived.
	skipped uint64
}

func newDeriver(max int) *deriver {
	return &deriver{max: max, sessions: map[string]*searchState{}}
}

// derive appends to b the commands and participants rows of its events.
func (d *deriver) derive(ctx context.Context, b *batch) error {
	d.batch++
	c := &b.events
	// Sessions to rebuild: unknown and not starting at seq 0, or known
	// but skipping ahead of what this process saw.
	// The batch is in session order (sortBySession): a row whose session
	// is the previous row's needs no map lookup.
	var before map[string]uint64
	checked := map[string]bool{}
	for i := range c.session {
		id := c.session[i]
		if (i > 0 && id == c.session[i-1]) || checked[id] {
			continue
		}
		checked[id] = true
		st := d.sessions[id]
		if st != nil && st.unusable {
			continue
		}
		if (st == nil && c.seq[i] > 0) || (st != nil && c.seq[i] > st.next && st.triedAt != st.next+1) {
			if before == nil {
				before = map[string]uint64{}
			}
			before[id] = c.seq[i]
			delete(d.sessions, id)
		}
	}
	if len(before) > 0 {
		if err := d.rebuildStates(ctx, before); err != nil {
			return err
		}
	}
	var e event.Event
	var st *searchState
	for i := range c.session {
		if i == 0 || c.session[i] != c.session[i-1] {
			st = d.state(c.session[i])
		}
		if st.unusable {
			st.used = d.batch
			d.skipped++
			continue
		}
		seq := c.seq[i]
		st.used = d.batch
		if seq < st.next {
			continue // delivered again: its rows were made already
		}
		if seq != st.next || c.prevHash[i] != string(st.last[:]) {
			d.skipped++ // does not follow the chain (forged, or after a gap): derive nothing, move nothing
			continue
		}
		st.next = seq + 1
		copy(st.last[:], c.hash[i])
		if c.typ[i] == string(event.SessionEnd) {
			st.ended = true
		}
		if !searchTypes[c.typ[i]] {
			continue
		}
		if err := rowEvent(c, i, &e); err != nil {
			continue // a meta that does not parse: the event is stored; no search rows
		}
		d.feed(st, &e, b)
	}
	d.evict()
	return nil
}

// rowEvent fills e from row i of c. The strings and data are copies: the
// row's share the Kafka message (decoder), and the search state keeps
// some of them (the line editors are keyed by actor) past the batch.
func rowEvent(c *eventCols, i int, e *event.Event) error {
	*e = event.Event{Session: strings.Clone(c.session[i]), Seq: c.seq[i], Time: c.tsNs[i], Type: event.Type(strings.Clone(c.typ[i])),
		Actor: strings.Clone(c.actor[i]), Data: bytes.Clone(c.data[i]), Class: strings.Clone(c.class[i]), Retention: c.retention[i]}
	if c.meta[i] == "{}" || c.meta[i] == "" {
		return nil
	}
	m, err := event.ParseMeta(c.meta[i])
	e.Meta = m
	return err
}

func (d *deriver) state(id string) *searchState {
	st := d.sessions[id]
	if st == nil {
		st = &searchState{seen: map[string]bool{}}
		d.sessions[strings.Clone(id)] = st // id may share a Kafka message (decoder)
	}
	return st
}

// feed updates st with e and appends e's rows to b (nil b: rebuilding,
// state only).
func (d *deriver) feed(st *searchState, e *event.Event, b *batch) {
	switch e.Type {
	case event.SessionStart:
		st.host, st.user, st.kind = e.Meta["host"], e.Meta["user"], e.Meta["kind"]
	case event.Transfer, event.FileOp:
		if b != nil {
			b.commands = append(b.commands, fileRowOf(st, e))
		}
	}
	if name, role := roleOf(e); name != "" {
		d.participant(st, e, b, name, role)
	}
	// A session under an approval window was approved by the window's
	// reviewers: --approver finds it, not only the window's recording.
	for _, name := range windowApprovers(e) {
		d.participant(st, e, b, name, roleApproved)
	}
	d.scratch = st.rec.Feed(e, d.scratch[:0])
	if b != nil {
		for i := range d.scratch {
			b.commands = append(b.commands, commandRowOf(st, e, &d.scratch[i]))
		}
	}
}

// maxSeen bounds the (name, role) pairs a session's state remembers,
// and so its participants rows: a real session has an owner, a few peers
// and reviewers, each in a few roles.
const maxSeen = 256

// participant appends the participants row of (name, role) for e's
// session, once per session.
func (d *deriver) participant(st *searchState, e *event.Event, b *batch, name, role string) {
	k := name + "\x00" + role
	if st.seen[k] {
		return
	}
	if len(st.seen) >= maxSeen {
		d.skipped++ // a session naming this many people is forged: no more rows, no more memory
		return
	}
	st.seen[k] = true
	if b != nil {
		b.participants = append(b.participants, participantRow{session: e.Session, name: name, role: role,
			seq: e.Seq, ts: e.Time / 1e9, tsNs: e.Time, host: st.host, user: st.user, kind: st.kind,
			class: e.Class, retention: e.Retention})
	}
}

// rebuildStates rebuilds the state of the sessions in before from their
// stored events. An outage's error is returned (the caller retries the
// batch); a failure caused by what a session holds is not: the sessions
// are rebuilt one by one and each one whose own rebuild fails that way
// is made unusable, so that one session's content never stops ingest.
func (d *deriver) rebuildStates(ctx context.Context, before map[string]uint64) error {
	err := d.rebuildSome(ctx, before)
	if err == nil || !contentError(err) {
		return err
	}
	for id, seq := range before {
		err := d.rebuildSome(ctx, map[string]uint64{id: seq})
		switch {
		case err == nil:
		case contentError(err):
			d.giveUp(id, err)
		default:
			return err
		}
	}
	return nil
}

// giveUp makes the state of session id unusable.
func (d *deriver) giveUp(id string, err error) {
	st := d.state(id)
	st.unusable, st.used = true, d.batch
	if d.gaveUp != nil {
		d.gaveUp(id, err)
	}
}

// contentError reports whether err is the server refusing a query for
// what it carries (the query too large, a value it cannot parse or
// type), which retrying cannot fix. Every other error — the connection, a
// timeout, access, memory, parts, a code this list does not name — is
// taken for an outage and retried until it passes: the safe side, since
// content errors stop a session's search rows for good.
func contentError(err error) bool {
	return hasCode(err, codeCannotParseText, codeTypeMismatch, codeSyntaxError, codeCannotParseNumber, codeTooLargeStringSize)
}

// rebuildSome rebuilds the sessions in before, all or none.
func (d *deriver) rebuildSome(ctx context.Context, before map[string]uint64) error {
	for id := range before {
		st := d.state(id)
		st.used = d.batch
	}
	if d.rebuild == nil {
		return nil
	}
	// The state follows the stored chain from seq 0 as derive follows a
	// live one: a stored copy that does not chain is passed over, and the
	// state stops where the chain does.
	err := d.rebuild(ctx, before, func(e *event.Event) {
		st := d.sessions[e.Session]
		if st == nil || e.Seq >= before[e.Session] || e.Seq != st.next || e.Prev != st.last {
			return
		}
		st.next, st.last = e.Seq+1, e.Hash
		if searchTypes[string(e.Type)] {
			d.feed(st, e, nil)
		}
	})
	if err != nil {
		// Half-rebuilt states must not pass for whole ones on the retry.
		for id := range before {
			delete(d.sessions, id)
		}
		return err
	}
	for id, seq := range before {
		if st := d.sessions[id]; st.next < seq {
			st.triedAt = st.next + 1
		}
	}
	return nil
}

// evict forgets ended sessions and, over max, the least recently fed.
func (d *deriver) evict() {
	for id, st := range d.sessions {
		if st.ended {
			delete(d.sessions, id)
		}
	}
	if len(d.sessions) <= d.max {
		return
	}
	type aged struct {
		id   string
		used uint64
	}
	all := make([]aged, 0, len(d.sessions))
	for id, st := range d.sessions {
		all = append(all, aged{id, st.used})
	}
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(a.used, b.used) })
	// Down to 90%, so that eviction does not run on every batch.
	for _, a := range all[:len(all)-d.max*9/10] {
		delete(d.sessions, a.id)
	}
}

// rebuildChunk bounds the session ids of one rebuild query.
const rebuildChunk = 500

// rebuildFromStore reads the events of the sessions in before with a seq
// below their entry, in session and seq order, every stored copy: the
// chain's columns of all, the content of the search types only.
func (in *Ingester) rebuildFromStore(ctx context.Context, before map[string]uint64, feed func(e *event.Event)) error {
	ids := make([]string, 0, len(before))
	for id := range before {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	start := time.Now()
	for lo := 0; lo < len(ids); lo += rebuildChunk {
		chunk := ids[lo:min(lo+rebuildChunk, len(ids))]
		if err := in.rebuildChunk(ctx, chunk, feed); err != nil {
			return err
		}
	}
	in.log.Debug("search state rebuilt from stored events", "sessions", len(ids), "took", time.Since(start))
	return nil
}

func (in *Ingester) rebuildChunk(ctx context.Context, ids []string, feed func(e *event.Event)) error {
	search := "type IN (" + searchTypesSQL + ")"
	q := "SELECT session, seq, ts_ns, type, if(" + search + ", actor, ''), if(" + search + ", data, ''), if(" + search +
		", meta, ''), class, retention_days, prev_hash, hash FROM " + in.cfg.Database + ".events WHERE session IN ? ORDER BY session, seq"
	set := clickhouse.GroupSet{Value: make([]any, len(ids))}
	for i, id := range ids {
		set.Value[i] = id
	}
	rows, err := in.conn.Query(ctx, q, set)
	if err != nil {
		return fmt.Errorf("ingest: rebuild search state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e          event.Event
			typ, meta  string
			data       string
			retention  uint16
			prev, hash string
		)
		if err := rows.Scan(&e.Session, &e.Seq, &e.Time, &typ, &e.Actor, &data, &meta, &e.Class, &retention, &prev, &hash); err != nil {
			return fmt.Errorf("ingest: rebuild search state: %w", err)
		}
		e.Type, e.Data, e.Retention = event.Type(typ), []byte(data), retention
		if e.Prev, err = event.ParseStoredHash(prev); err != nil {
			continue // not a stored hash: the chain stops before it
		}
		if e.Hash, err = event.ParseStoredHash(hash); err != nil {
			continue
		}
		if meta != "{}" && meta != "" {
			if e.Meta, err = event.ParseMeta(meta); err != nil {
				e.Type = "" // chained, but no search rows (as derive does)
			}
		}
		feed(&e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ingest: rebuild search state: %w", err)
	}
	return nil
}
