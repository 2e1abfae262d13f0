package ingest

import (
	"strconv"
	"strings"

	"github.com/foureyes/foureyes/event"
)

// sessionRow holds the values of one sessions row (see sessionColumns).
// ReplacingMergeTree(version) keeps the row with the highest version, the
// seq of the event that produced it: the end row replaces the start row.
type sessionRow struct {
	session     string
	version     uint64
	kind        string
	user        string
	host        string
	login       string
	remote      string
	gateway     string
	started     int64 // unix seconds of startedNs
	startedNs   int64
	endedNs     int64 // 0 while open
	exitStatus  int32 // -1 when unknown (open, or not reported)
	interrupted uint8
	command     string
	bytesIn     uint64
	bytesOut    uint64
	approvers   []string
	reason      string
	lastSeq     uint64
	lastHash    string
	class       string
	retention   uint16
}

// sessionRowOf returns the sessions row produced by e, and false for event
// types that do not produce one. Missing or malformed Meta values leave
// their column at its zero value (exit_status -1); they never reject the
// event, which is already sealed in its chain.
func sessionRowOf(e *event.Event) (sessionRow, bool) {
	if e.Type != event.SessionStart && e.Type != event.SessionEnd {
		return sessionRow{}, false
	}
	m := e.Meta
	r := sessionRow{
		session:    e.Session,
		version:    e.Seq,
		kind:       m["kind"],
		user:       m["user"],
		host:       m["host"],
		login:      m["login"],
		remote:     m["remote"],
		gateway:    m["gateway"],
		startedNs:  e.Time,
		exitStatus: -1,
		command:    m["command"],
		approvers:  splitList(m["approvers"]),
		reason:     m["reason"],
		lastSeq:    e.Seq,
		lastHash:   e.Hash.String(),
		class:      e.Class,
		retention:  e.Retention,
	}
	if r.gateway == "" {
		r.gateway = e.Gateway
	}
	if e.Type == event.SessionEnd {
		r.endedNs = e.Time
		r.startedNs = startOf(e)
		if v, err := strconv.ParseInt(m["exit_status"], 10, 32); err == nil {
			r.exitStatus = int32(v)
		}
		if m["interrupted"] == "true" {
			r.interrupted = 1
		}
		r.bytesIn, _ = strconv.ParseUint(m["bytes_in"], 10, 64)
		r.bytesOut, _ = strconv.ParseUint(m["bytes_out"], 10, 64)
	}
	r.started = r.startedNs / 1e9
	return r, true
}

// startOf returns the start time of the session an end event closes: Meta
// started_ns, else the end time minus Meta duration_ms, else the end time.
// The start row and the end row must share a partition (same started day)
// for ReplacingMergeTree to collapse them, so the gateway always sends
// started_ns; the fallbacks keep a malformed end event visible.
func startOf(e *event.Event) int64 {
	if v, err := strconv.ParseInt(e.Meta["started_ns"], 10, 64); err == nil && v > 0 && v <= e.Time {
		return v
	}
	if d, err := strconv.ParseInt(e.Meta["duration_ms"], 10, 64); err == nil && d >= 0 && d < e.Time/1e6 {
		return e.Time - d*1e6
	}
	return e.Time
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	parts := strings.Split(s, ",")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
