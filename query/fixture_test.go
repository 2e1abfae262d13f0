package query

import (
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/foureyes/foureyes/event"
)

// t0 is the start of the fixture sessions.
var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// rec builds a sealed event stream for tests.
type rec struct {
	id, user, host, kind string
	start                time.Time
	chain                event.Chain
	evs                  []event.Event
}

func newRec(id, user, host, kind string, start time.Time) *rec {
	r := &rec{id: id, user: user, host: host, kind: kind, start: start}
	r.at(0, event.SessionStart, "", "", map[string]string{"user": user, "host": host, "login": "root",
		"remote": "192.0.2.7:50000", "gateway": "gw1", "kind": kind, "term": "xterm-256color", "cols": "80", "rows": "24"})
	return r
}

// at appends an event offset after the start.
func (r *rec) at(offset time.Duration, typ event.Type, actor, data string, meta map[string]string) *rec {
	e := event.Event{V: event.Version, Session: r.id, Time: r.start.Add(offset).UnixNano(), Type: typ, Gateway: "gw1",
		Actor: actor, Meta: maps.Clone(meta), Class: "production", Retention: 90}
	if data != "" {
		e.Data = []byte(data)
	}
	r.chain.Seal(&e)
	r.evs = append(r.evs, e)
	return r
}

// end appends the session.end event.
func (r *rec) end(offset time.Duration, exit string) *rec {
	return r.at(offset, event.SessionEnd, "", "", map[string]string{"exit_status": exit, "user": r.user, "host": r.host})
}

// events returns a deep copy of the stream.
func (r *rec) events() []event.Event {
	out := make([]event.Event, len(r.evs))
	for i, e := range r.evs {
		e.Data = append([]byte(nil), e.Data...)
		e.Meta = maps.Clone(e.Meta)
		out[i] = e
	}
	return out
}

// summary returns the sessions row ingest writes for the stream: the
// session.end's row, or while the stream has no end the session.start's
// (openRow).
func (r *rec) summary() Session {
	if r.evs[len(r.evs)-1].Type != event.SessionEnd {
		return r.openRow()
	}
	last := r.evs[len(r.evs)-1]
	s := Session{ID: r.id, Kind: r.kind, User: r.user, Host: r.host, Login: "root", Remote: "192.0.2.7:50000",
		Gateway: "gw1", Class: "production", RetentionDays: 90, Started: r.start, Open: true,
		LastSeq: last.Seq, LastHash: last.Hash.String(), Approvers: []string{}}
	for _, e := range r.evs {
		switch e.Type {
		case event.Exec:
			s.Command = string(e.Data)
		case event.Output:
			s.BytesOut += uint64(len(e.Data))
		case event.Input:
			s.BytesIn += uint64(len(e.Data))
		case event.SessionEnd:
			s.Open = false
			s.Ended = e.Timestamp().UTC()
			s.ExitStatus, _ = strconv.Atoi(e.Meta["exit_status"])
			s.Interrupted = e.Meta["interrupted"] == "true"
			if a := e.Meta["approvers"]; a != "" {
				s.Approvers = strings.Split(a, ",")
			}
			s.Reason = e.Meta["reason"]
		}
	}
	return s
}

// shellSession is a typical interactive session: alice types two
// commands, the window is resized, the shell prints.
func shellSession(id string, start time.Time) *rec {
	r := newRec(id, "alice", "demo-prod", "shell", start)
	r.at(100*time.Millisecond, event.Output, "", "alice@demo-prod:~$ ", nil)
	r.at(1*time.Second, event.Input, "alice", "ls -l", nil)
	r.at(1100*time.Millisecond, event.Input, "alice", "a\r", nil)
	r.at(1200*time.Millisecond, event.Output, "", "ls -la\r\ntotal 0\r\n\x1b]0;pwned\x07alice@demo-prod:~$ ", nil)
	r.at(2*time.Second, event.Resize, "alice", "", map[string]string{"cols": "120", "rows": "40"})
	r.at(3*time.Second, event.Input, "alice", "exit\r", nil)
	r.at(3100*time.Millisecond, event.Output, "", "logout\r\n", nil)
	return r.end(3200*time.Millisecond, "0")
}

// openRow returns the row ingest writes for the stream's session.start
// (ingest/sessionrow.go): version 0, the start's seq and hash, exit
// status -1, no bytes, and the fields of the start's meta.
func (r *rec) openRow() Session {
	st := r.evs[0]
	m := st.Meta
	s := Session{ID: r.id, Kind: m["kind"], User: m["user"], Host: m["host"], Login: m["login"], Remote: m["remote"],
		Gateway: m["gateway"], Command: m["command"], Reason: m["reason"], Class: st.Class, RetentionDays: int(st.Retention),
		Started: st.Timestamp().UTC(), Open: true, ExitStatus: -1, LastSeq: st.Seq, LastHash: st.Hash.String(),
		Approvers: splitNames(m["approvers"])}
	if s.Approvers == nil {
		s.Approvers = []string{}
	}
	if s.Gateway == "" {
		s.Gateway = st.Gateway
	}
	return s
}
