package recorder

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/foureyes/foureyes/event"
)

// summaryKeys are the session.start Meta keys copied into session.end, so
// that a summary row can be built from the end event alone.
var summaryKeys = []string{"user", "host", "login", "remote", "kind", "command"}

// sessionState is what the spool knows about an open session: enough to
// write its session.end (continuing the hash chain) without its earlier
// events. The spool keeps one per open session, updates it on every
// append under spool.mu, and writes all of them as the checkpoint at the
// head of every segment.
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
}

// newState returns the state of a session opened by start.
func newState(start *event.Event) *sessionState {
	st := &sessionState{
		ID:        start.Session,
		Gateway:   start.Gateway,
		Class:     start.Class,
		Retention: start.Retention,
		StartedNS: start.Time,
		Fields:    make(map[string]string, len(summaryKeys)),
	}
	for _, k := range summaryKeys {
		if v, ok := start.Meta[k]; ok {
			st.Fields[k] = v
		}
	}
	return st
}

// apply advances st past e.
func (st *sessionState) apply(e *event.Event) {
	st.NextSeq = e.Seq + 1
	st.LastHash = e.Hash
	st.LastTime = e.Time
	switch e.Type {
	case event.Input:
		st.BytesIn += int64(len(e.Data))
	case event.Output:
		st.BytesOut += int64(len(e.Data))
	}
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

// encodeCheckpoint returns the checkpoint JSON of the open sessions,
// sorted by id.
func encodeCheckpoint(open map[string]*sessionState) ([]byte, error) {
	list := make([]*sessionState, 0, len(open))
	for _, st := range open {
		list = append(list, st)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	b, err := json.Marshal(checkpoint{Open: list})
	if err != nil {
		return nil, fmt.Errorf("recorder: checkpoint: %w", err)
	}
	return b, nil
}

// decodeCheckpoint decodes checkpoint JSON.
func decodeCheckpoint(b []byte) (map[string]*sessionState, error) {
	var c checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("recorder: checkpoint: %w", err)
	}
	open := make(map[string]*sessionState, len(c.Open))
	for _, st := range c.Open {
		if st == nil || st.ID == "" || st.NextSeq == 0 {
			return nil, fmt.Errorf("recorder: checkpoint: invalid session entry")
		}
		open[st.ID] = st
	}
	return open, nil
}

// checkpoint is the payload of a checkpoint frame.
type checkpoint struct {
	Open []*sessionState `json:"open"`
}
