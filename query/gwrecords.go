package query

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/foureyes/foureyes/event"
)

// gatewayLog is what one gateway stream (kind "gateway") records about
// other streams and about its predecessor: the starts and ends of every
// stream of its gateway (stream.started, stream.ended) and the anchor in
// its session.start (anchor_stream, anchor_seq, anchor_hash: a sealed
// point of the previous gateway stream). Its memory grows with the number
// of streams recorded, not with their size.
type gatewayLog struct {
	stream string
	anchor *anchorRef
	// started and ended map a recorded stream to the seq of the record in
	// this gateway stream.
	started map[string]uint64
	ended   map[string]endRecord
	// keep maps a recorded stream to the earliest time its class lets
	// retention remove it (start day + retention_days + slack).
	keep map[string]time.Time
}

// anchorRef names a sealed point of the previous gateway stream.
type anchorRef struct {
	stream string
	seq    uint64
	hash   string
}

// endRecord is a stream.ended record: the recorded stream's last event.
type endRecord struct {
	at       uint64 // seq of the record in the gateway stream
	lastSeq  uint64
	lastHash string
}

func newGatewayLog() *gatewayLog {
	return &gatewayLog{started: map[string]uint64{}, ended: map[string]endRecord{}, keep: map[string]time.Time{}}
}

func (g *gatewayLog) start(id string, e *event.Event) {
	g.stream = id
	m := e.Meta
	if m["anchor_stream"] == "" {
		return
	}
	seq, err := strconv.ParseUint(m["anchor_seq"], 10, 64)
	if err != nil {
		return
	}
	g.anchor = &anchorRef{stream: m["anchor_stream"], seq: seq, hash: m["anchor_hash"]}
}

func (g *gatewayLog) record(_ string, e *event.Event) {
	id := e.Meta["session"]
	if id == "" {
		return
	}
	switch e.Type {
	case event.StreamStarted:
		g.started[id] = e.Seq
		if days, err := strconv.Atoi(e.Meta["retention_days"]); err == nil && days > 0 {
			// Whole days go, the day after the last kept one; a day of
			// slack for time zones and the job's interval.
			y, m, d := e.Timestamp().UTC().Date()
			g.keep[id] = time.Date(y, m, d, 0, 0, 0, 0, time.UTC).AddDate(0, 0, days+1)
		}
	case event.StreamEnded:
		seq, err := strconv.ParseUint(e.Meta["last_seq"], 10, 64)
		if err != nil {
			return
		}
		g.ended[id] = endRecord{at: e.Seq, lastSeq: seq, lastHash: e.Meta["last_hash"]}
	}
}

// recordingStreams returns the ids of the streams that hold a
// stream.started or stream.ended record about session id. The records
// themselves are trusted only after their gateway stream verified.
func (s *Store) recordingStreams(ctx context.Context, id string) ([]string, error) {
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT session FROM (
		SELECT session, type, meta FROM events WHERE type IN ('stream.started', 'stream.ended')
		UNION ALL SELECT session, type, meta FROM held_events WHERE type IN ('stream.started', 'stream.ended'))
		WHERE visitParamExtractString(meta, 'session') = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("query: gateway records of %s: %w", id, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var gw string
		if err := rows.Scan(&gw); err != nil {
			return nil, fmt.Errorf("query: gateway records of %s: %w", id, err)
		}
		out = append(out, gw)
	}
	return out, rows.Err()
}

// checkRecorded compares the stream res of session id with what verified
// gateway streams record about it, adding problems to in. logs are the
// gateway logs of streams that verified, with the seq through which each
// is signed (records after it are not trusted).
func checkRecorded(in *Integrity, id string, res event.StreamResult, logs []*verifiedLog, now time.Time) {
	if res.Events == 0 && in.expired {
		for _, l := range logs {
			if keep, ok := l.log.keep[id]; ok && now.Before(keep) {
				in.problem("deleted: said to be removed by retention, but gateway stream %s records a start whose class keeps it until %s",
					printable(l.log.stream), keep.Format(time.DateOnly))
				return
			}
		}
		return // retention removed it, as its class says
	}
	for _, l := range logs {
		end, ok := l.log.ended[id]
		if !ok || (l.signed && end.at > l.signedThrough) {
			continue
		}
		switch {
		case res.Events == 0:
			in.problem("deleted: gateway stream %s records this stream ending at seq %d, but none of its events is stored", printable(l.log.stream), end.lastSeq)
		case res.LastSeq < end.lastSeq:
			in.problem("cut off: gateway stream %s records the end at seq %d, but the events stop at seq %d", printable(l.log.stream), end.lastSeq, res.LastSeq)
		case res.LastSeq > end.lastSeq:
			in.problem("events after the end: gateway stream %s records the end at seq %d, stored up to seq %d", printable(l.log.stream), end.lastSeq, res.LastSeq)
		case res.LastHash.String() != end.lastHash:
			in.problem("rewritten: gateway stream %s records the end at seq %d with hash %s, stored %s", printable(l.log.stream), end.lastSeq, shortHex(end.lastHash), shortHex(res.LastHash.String()))
		}
		return
	}
	for _, l := range logs {
		if at, ok := l.log.started[id]; ok && (!l.signed || at <= l.signedThrough) {
			if res.Events == 0 {
				in.problem("deleted: gateway stream %s records this stream's start, but none of its events is stored", printable(l.log.stream))
			}
			return
		}
	}
}

// verifiedLog is a gateway log whose stream verified.
type verifiedLog struct {
	log           *gatewayLog
	signed        bool // signatures were checked
	signedThrough uint64
}

// gatewayLogsOf verifies the gateway streams that record session id and
// returns their logs; a gateway stream that does not verify adds a
// problem to in instead.
func (s *Store) gatewayLogsOf(ctx context.Context, in *Integrity, id string) ([]*verifiedLog, error) {
	ids, err := s.recordingStreams(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []*verifiedLog
	for _, gw := range ids {
		if gw == id {
			continue
		}
		c := newStreamCheck(gw, s)
		st, err := s.walkEvents(ctx, gw, func(e *event.Event) error { c.add(e); return nil })
		if err != nil {
			return nil, err
		}
		gin := c.finish(st, Session{}, false, s.now())
		if !gin.OK() || c.gw == nil {
			in.problem("gateway stream %s, which records this stream, does not verify: %s", printable(gw), firstOr(gin.Problems, "not a gateway stream"))
			continue
		}
		out = append(out, &verifiedLog{log: c.gw, signed: c.keyed, signedThrough: signedThrough(gin.Stream)})
	}
	return out, nil
}

// signedThrough returns the last seq signatures cover (a trailing seal
// counts as covered).
func signedThrough(r event.StreamResult) uint64 {
	if r.LastType == event.ChainSeal && r.Signed && r.SignedThrough+1 == r.LastSeq {
		return r.LastSeq
	}
	return r.SignedThrough
}

func firstOr(list []string, def string) string {
	if len(list) > 0 {
		return list[0]
	}
	return def
}

// checkStopped adds a problem to in when the stream (of gateway gw, last
// event at lastNS) has no end although its gateway stopped cleanly after
// that event: a gateway ends every stream before its own stream ends
// (and the recorder ends the rest at close or at the next start), so
// such a stream had an end, and it was removed. The gateway stream's end
// is believed only when that stream verifies.
func (s *Store) checkStopped(ctx context.Context, in *Integrity, gw string, lastNS int64) error {
	const where = ` WHERE type = 'session.end' AND gateway = ? AND ts_ns > ?
		AND visitParamExtractString(meta, 'kind') = 'gateway' AND visitParamExtractString(meta, 'interrupted') != 'true'`
	rows, err := s.conn.Query(ctx, `SELECT session, ts_ns FROM (SELECT session, ts_ns FROM events`+where+
		` UNION ALL SELECT session, ts_ns FROM held_events`+where+`) ORDER BY ts_ns LIMIT 3`, gw, lastNS, gw, lastNS)
	if err != nil {
		return fmt.Errorf("query: gateway stops: %w", err)
	}
	type stop struct {
		id string
		ns int64
	}
	var stops []stop
	for rows.Next() {
		var st stop
		if err := rows.Scan(&st.id, &st.ns); err != nil {
			rows.Close()
			return fmt.Errorf("query: gateway stops: %w", err)
		}
		stops = append(stops, st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: gateway stops: %w", err)
	}
	for _, st := range stops {
		c := newStreamCheck(st.id, s)
		ws, err := s.walkEvents(ctx, st.id, func(e *event.Event) error { c.add(e); return nil })
		if err != nil {
			return err
		}
		gin := c.finish(ws, Session{}, false, s.now())
		if c.gw == nil {
			continue // not a gateway stream: a forged row
		}
		if !gin.OK() {
			in.problem("gateway stream %s, which ended after this stream's last event, does not verify: %s", printable(st.id), gin.Problems[0])
			return nil
		}
		in.problem("cut off: the stream has no end, but gateway %s stopped cleanly after its last event (gateway stream %s ended %s); its end was removed",
			printable(gw), printable(st.id), time.Unix(0, st.ns).UTC().Format(time.RFC3339))
		return nil
	}
	return nil
}
