package query

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foureyes/foureyes/event"
)

// unsignedGrace is how old the unsigned tail of an open stream may be. The
// recorder seals a stream within signing.seal_interval (at most 1h) of an
// unsigned event and signs every end, also the ones it writes after a
// crash; an older unsigned tail was written by someone else.
const unsignedGrace = 2 * time.Hour

// Integrity is what an audit read can vouch for about one stream: the
// chain, the signatures, and the summary row against the chain.
type Integrity struct {
	// Stream is the verifier's result (chain, seals, end signature).
	Stream event.StreamResult
	// Conflicts lists seqs stored as copies that differ (content or hash).
	Conflicts []uint64
	// Problems are failures, each one sentence: what is wrong and where.
	Problems []string
	// Notes are caveats that are not failures.
	Notes []string
	// Signatures reports whether trusted keys were configured, so that
	// signatures were required.
	Signatures bool
	// expired is set when retention removed the stream (no events, and
	// expired_sessions knows it): gateway records of it are not a
	// deletion.
	expired bool
}

// OK reports whether the stream verified: no problem found.
func (i *Integrity) OK() bool { return len(i.Problems) == 0 }

func (i *Integrity) problem(format string, args ...any) {
	i.Problems = append(i.Problems, fmt.Sprintf(format, args...))
}

// streamCheck verifies one stream while it is walked and derives its
// summary from the chain (never from the sessions row).
type streamCheck struct {
	id    string
	v     *event.StreamVerifier
	keyed bool
	head  Session // from the chain
	start map[string]string
	// startEv is the session.start at seq 0 (without its data), nil
	// when the walk did not begin with one.
	startEv *event.Event
	end     map[string]string
	lastNS  int64
	outputs int
	// records of a gateway stream (kind "gateway"), nil otherwise.
	gw *gatewayLog
	n  uint64 // events added
	// now is the clock; expiredFront the first seq present when the
	// front of the stream was removed by retention (0: none).
	now          time.Time
	expiredFront uint64
	// dropped reports whether retention dropped a partition of events of
	// the class (days) before day (YYYYMMDD).
	dropped func(days uint16, day uint32) bool
}

// frontExpiredSlack is how close to its class' cutoff the first present
// event of a stream whose front is missing must be for the front to count
// as removed by retention (whole days are dropped, in the server's time
// zone, by a job that runs every retention.interval).
const frontExpiredSlack = 3 * 24 * time.Hour

// frontExpired reports whether events before e (the first present, seq >
// 0) were removed by retention: e's class drops whole days, and e lies
// within frontExpiredSlack of its cutoff. Removing the front of a stream
// earlier than its class allows is reported as missing events.
func (c *streamCheck) frontExpired(e *event.Event) bool {
	if e.Retention == 0 || c.now.IsZero() {
		return false
	}
	cutoff := c.now.Add(-time.Duration(e.Retention) * 24 * time.Hour)
	if !time.Unix(0, e.Time).Before(cutoff.Add(frontExpiredSlack)) {
		return false
	}
	y, m, d := time.Unix(0, e.Time).UTC().Date()
	return c.dropped != nil && c.dropped(e.Retention, uint32(y*10000+int(m)*100+d))
}

// droppedBefore reports whether the retention log records a drop of an
// events partition of class days before day.
func (s *Store) droppedBefore(days uint16, day uint32) bool {
	var n uint64
	err := s.conn.QueryRow(context.Background(), `SELECT count() FROM retention_log
		WHERE action = 'drop' AND tbl = 'events' AND retention_days = ? AND day < ?`, days, day).Scan(&n)
	if err != nil {
		s.log.Warn("retention log lookup failed", "err", err)
		return false
	}
	return n > 0
}

func newStreamCheck(id string, s *Store) *streamCheck {
	return &streamCheck{id: id, v: event.NewStreamVerifier(s.keys), keyed: s.keys.Len() > 0, head: Session{ID: id, Open: true},
		now: s.now(), dropped: s.droppedBefore}
}

// add takes the next event of the walk.
func (c *streamCheck) add(e *event.Event) {
	if c.n == 0 && e.Seq > 0 && c.frontExpired(e) {
		c.v.StartAt(e)
		c.expiredFront, c.head.Class = e.Seq, e.Class
	}
	c.n++
	c.v.Add(e)
	c.lastNS = e.Time
	applyHeader(&c.head, e)
	switch e.Type {
	case event.SessionStart:
		c.start = e.Meta
		if e.Seq == 0 && c.n == 1 {
			ev := *e
			ev.Data = nil
			c.startEv = &ev
		}
		if e.Meta["kind"] == "gateway" && c.gw == nil {
			c.gw = newGatewayLog()
		}
		if c.gw != nil {
			c.gw.start(c.id, e)
		}
	case event.SessionEnd:
		c.end = e.Meta
	case event.Output:
		if len(e.Data) > 0 {
			c.outputs++
		}
	case event.StreamStarted, event.StreamEnded:
		if c.gw != nil {
			c.gw.record(c.id, e)
		}
	}
}

// applyHeader updates a summary built from the chain with e.
func applyHeader(s *Session, e *event.Event) {
	switch e.Type {
	case event.SessionStart:
		m := e.Meta
		s.Kind, s.User, s.Host, s.Login, s.Remote = m["kind"], m["user"], m["host"], m["login"], m["remote"]
		s.Command = m["command"]
		s.Gateway, s.Class, s.RetentionDays = e.Gateway, e.Class, int(e.Retention)
		s.Started = e.Timestamp().UTC()
	case event.Exec:
		s.Command = string(e.Data)
	case event.ApprovalRequest:
		s.Reason = e.Meta["reason"]
	case event.Input, event.Output, event.Transfer, event.OutputSummary:
		in, out := event.Traffic(e)
		s.BytesIn += uint64(in)
		s.BytesOut += uint64(out)
	case event.SessionEnd:
		m := e.Meta
		s.Open = false
		s.Ended = e.Timestamp().UTC()
		s.ExitStatus, _ = strconv.Atoi(m["exit_status"])
		s.Interrupted = m["interrupted"] == "true"
		s.Approvers = splitNames(m["approvers"])
		if r, ok := m["reason"]; ok {
			s.Reason = r
		}
		if v, err := strconv.ParseUint(m["bytes_in"], 10, 64); err == nil {
			s.BytesIn = v
		}
		if v, err := strconv.ParseUint(m["bytes_out"], 10, 64); err == nil {
			s.BytesOut = v
		}
	}
	s.LastSeq, s.LastHash = e.Seq, e.Hash.String()
}

func splitNames(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// finish returns the verdict on the walked stream. summary is the
// sessions row (found false when there is none); now bounds the age of
// an unsigned tail.
func (c *streamCheck) finish(st walkStats, summary Session, found bool, now time.Time) Integrity {
	r := c.v.Result()
	in := Integrity{Stream: r, Conflicts: st.Conflicts, Signatures: c.keyed}
	if len(st.Conflicts) > 0 {
		in.problem("seq %s stored twice with different content (conflicting copies)", joinSeqs(st.Conflicts))
	}
	if r.Break != nil {
		in.problem("seq %d: %s", r.Break.Seq, r.Break.Reason)
	}
	if c.expiredFront > 0 {
		in.Notes = append(in.Notes, fmt.Sprintf("seqs 0..%d were removed by retention (class %s); verified from seq %d", c.expiredFront-1, printable(c.head.Class), c.expiredFront))
	}
	switch {
	case !c.keyed:
		in.Notes = append(in.Notes, "signatures not checked: no trusted signing keys are configured (signing.trusted_keys)")
	case r.Break != nil || r.Events == 0:
	case r.Ended && !r.EndSigned:
		in.problem("seq %d: the end is not signed by a trusted key (signatures stripped or the chain recomputed)", r.LastSeq)
	case !r.Ended && !c.signedToEnd(r):
		from := uint64(0)
		if r.Signed {
			from = r.SignedThrough + 1
		}
		age := now.Sub(time.Unix(0, c.lastNS))
		if age > unsignedGrace {
			in.problem("seqs %d..%d are not signed by a trusted key, though written %s ago (added or recomputed by someone without the key)", from, r.LastSeq, age.Round(time.Minute))
		} else {
			in.Notes = append(in.Notes, fmt.Sprintf("seqs %d..%d are not signed yet (the session is open)", from, r.LastSeq))
		}
	}
	if found {
		c.compareSummary(&in, summary)
	}
	return in
}

// signedToEnd reports whether signatures cover the stream to its last
// event (a trailing chain.seal needs none: it carries one).
func (c *streamCheck) signedToEnd(r event.StreamResult) bool {
	return r.Signed && (r.SignedThrough == r.LastSeq || r.SignedThrough+1 == r.LastSeq && r.LastType == event.ChainSeal)
}

// compareSummary reports every field where the sessions row claims
// something the chain does not say. An open row must be the row ingest
// writes from the session.start (openRowDiffs); such a row over an
// ended chain lags (the end's row has not arrived) and is a note, any
// other open row over an ended chain hides the end and is a problem.
func (c *streamCheck) compareSummary(in *Integrity, row Session) {
	h := &c.head
	var diffs []string
	diff := func(field, row, chain string) {
		if row != chain {
			diffs = append(diffs, fmt.Sprintf("%s %q (recording: %q)", field, printable(row), printable(chain)))
		}
	}
	if c.start != nil {
		for _, f := range []struct{ name, row string }{{"user", row.User}, {"host", row.Host}, {"login", row.Login}, {"kind", row.Kind}} {
			if v, ok := c.start[f.name]; ok {
				diff(f.name, f.row, v)
			}
		}
	}
	switch {
	case !row.Open && c.end == nil:
		if c.v.Result().Break == nil {
			diffs = append(diffs, fmt.Sprintf("ended (exit %s) but the recording has no end", exitText(&row)))
		}
	case row.Open:
		var od []string
		if c.startEv != nil {
			od = openRowDiffs(&row, c.startEv)
		}
		switch {
		case c.end == nil:
			diffs = append(diffs, od...)
		case c.startEv != nil && len(od) == 0:
			in.Notes = append(in.Notes, "the sessions row has not caught up with the end of the recording")
		default:
			diffs = append(diffs, "open but the recording ended")
			diffs = append(diffs, od...)
		}
	case c.end != nil:
		if _, ok := c.end["exit_status"]; ok {
			diff("exit", strconv.Itoa(row.ExitStatus), strconv.Itoa(h.ExitStatus))
		}
		diff("interrupted", strconv.FormatBool(row.Interrupted), strconv.FormatBool(h.Interrupted))
		diff("approvers", strings.Join(row.Approvers, ","), strings.Join(h.Approvers, ","))
		if _, ok := c.end["reason"]; ok || row.Reason != "" {
			diff("reason", row.Reason, c.end["reason"])
		}
		if cmd, ok := c.end["command"]; ok {
			diff("command", row.Command, cmd)
		}
		for _, f := range []struct {
			name string
			row  uint64
		}{{"bytes_in", row.BytesIn}, {"bytes_out", row.BytesOut}} {
			if v, ok := c.end[f.name]; ok {
				diff(f.name, strconv.FormatUint(f.row, 10), v)
			}
		}
		if !row.Ended.Equal(h.Ended) {
			diff("ended", row.Ended.Format(time.RFC3339Nano), h.Ended.Format(time.RFC3339Nano))
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		diffs = slices.Compact(diffs) // an open row's start fields are compared twice
		in.problem("the sessions row disagrees with the recording: %s", strings.Join(diffs, "; "))
	}
}
