package recorder

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/foureyes/foureyes/event"
)

// summaryKeys are the session.start Meta keys copied into session.end, so
// that a summary row can be built from the end event alone.
var summaryKeys = []string{"user", "host", "login", "remote", "kind", "command"}

// maxSummaryField bounds each summary field a session's state keeps (and
// so every checkpoint repeats, and its session.end copies). A longer value
// — an exec command can be as long as the gateway allows — is kept as its
// first maxSummaryField bytes plus KEY_bytes (the full length) and
// KEY_sha256; the whole value stays in session.start. This keeps a
// checkpoint's size independent of what users send.
const maxSummaryField = 1024

// summaryFields returns the bounded summary fields of a session.start's
// Meta.
func summaryFields(meta map[string]string) map[string]string {
	f := make(map[string]string, len(summaryKeys))
	for _, k := range summaryKeys {
		v, ok := meta[k]
		if !ok {
			continue
		}
		if len(v) > maxSummaryField {
			sum := sha256.Sum256([]byte(v))
			f[k+"_bytes"] = strconv.Itoa(len(v))
			f[k+"_sha256"] = hex.EncodeToString(sum[:])
			v = v[:maxSummaryField]
		}
		f[k] = v
	}
	return f
}

// sessionState is what the spool knows about an open session: enough to
// write its session.end (continuing the hash chain) without its earlier
// events. The spool keeps one per open session, updates it on every
// append under spool.mu, and writes all of them as the checkpoint at the
// head of every segment.
//
// The json tags serve the checkpoints of earlier builds (frame kind 'C');
// this build writes the binary form (checkpoint.go).
type sessionState struct {
	ID        string            `json:"id"`
	Gateway   string            `json:"gateway"`
	Class     string            `json:"class"`
	Retention uint16            `json:"retention_days"`
	StartedNS int64             `json:"started_ns"`
	Fields    map[string]string `json:"fields,omitempty"` // summaryKeys values
	NextSeq   uint64            `json:"next_seq"`
	LastHash  event.Hash        `json:"last_hash"`
	LastTime  int64             `json:"last_ns"`
	BytesIn   int64             `json:"bytes_in"`
	BytesOut  int64             `json:"bytes_out"`

	// fail cancels the live Session; nil for sessions found in recovery.
	fail func(error) `json:"-"`
	// bp is the session's part of the spool's backlog (backpressure.go).
	bp backlog `json:"-"`
}

// newState returns the state of a session opened by start.
func newState(start *event.Event) *sessionState {
	st := &sessionState{
		ID:        start.Session,
		Gateway:   start.Gateway,
		Class:     start.Class,
		Retention: start.Retention,
		StartedNS: start.Time,
		Fields:    summaryFields(start.Meta),
	}
	return st
}

// apply advances st past e.
func (st *sessionState) apply(e *event.Event) {
	st.NextSeq = e.Seq + 1
	st.LastHash = e.Hash
	st.LastTime = e.Time
	in, out := event.Traffic(e)
	st.BytesIn += in
	st.BytesOut += out
}

// endMeta returns the Meta of a session.end: extra, then the summary
// fields and counters (which extra may not override).
func endMeta(fields map[string]string, startedNS, endNS int64, exitStatus int, bytesIn, bytesOut int64, extra map[string]string) map[string]string {
	m := make(map[string]string, len(extra)+len(fields)+5)
	for k, v := range extra {
		m[k] = v
	}
	for k, v := range fields {
		m[k] = v
	}
	m["exit_status"] = strconv.Itoa(exitStatus)
	m["duration_ms"] = strconv.FormatInt(max(0, endNS-startedNS)/1e6, 10)
	m["bytes_in"] = strconv.FormatInt(bytesIn, 10)
	m["bytes_out"] = strconv.FormatInt(bytesOut, 10)
	m["started_ns"] = strconv.FormatInt(startedNS, 10)
	return m
}
