package chaos

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/query"
)

// queryTimeout bounds one round of queries.
const queryTimeout = 30 * time.Second

// pipeline is the converged state of a scenario's pipeline, as read back
// through the raw tables and through the query package.
type pipeline struct {
	streams  map[string]*stream         // raw aggregates by session id
	events   map[string][]event.Event   // query.Store.Events by session id
	sessions map[string]query.Session   // query.Store.Sessions by session id
	byTag    map[string]string          // scripted session tag → session id
	gateways map[string][]query.Session // "gateway" streams by gateway id
	total    uint64                     // distinct events in all streams
	dupRows  uint64                     // raw rows beyond one per (session, seq)
}

// waitRecorded waits until each exec session of rs is stored whole.
func (s *stack) waitRecorded(rs ...*sessionResult) {
	s.t.Helper()
	waitFor(s.t, "sessions recorded", s.opt.convergeTimeout(), func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		defer cancel()
		streams, err := s.db.streams(ctx)
		if err != nil {
			return false, err.Error()
		}
		byCommand := execStreams(streams)
		for _, r := range rs {
			ids := byCommand[r.command]
			if len(ids) != 1 || !streams[ids[0]].complete() {
				return false, fmt.Sprintf("session %s: streams %v", r.tag, describe(streams, ids))
			}
		}
		return true, ""
	})
}

// convergence reports whether everything the stack produced is stored:
// the ingest group committed every message in Kafka (which covers streams
// nobody counts, like a gateway stream reopened after a spool failure),
// every stream whole, one "gateway" stream per gateway start, every exec
// session found and as many shell streams as typists.
func (s *stack) convergence() (bool, string) {
	if lag, err := groupLag(s.brokerAddr, group); err != nil || lag != 0 {
		return false, fmt.Sprintf("ingest group lag %d (%v)", lag, err)
	}
	return s.settled(false)
}

// settled is convergence; with openGateways the streams of running
// gateways may be open (and are not counted).
func (s *stack) settled(openGateways bool) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	streams, err := s.db.streams(ctx)
	if err != nil {
		return false, err.Error()
	}
	var incomplete []string
	gateways, shells, typists := 0, 0, 0
	for id, st := range streams {
		if !st.complete() && !(openGateways && st.kind == "gateway") {
			incomplete = append(incomplete, id)
		}
		switch {
		case st.kind == "gateway" && !st.reopened:
			gateways++
		case st.kind == "shell":
			shells++
		}
	}
	byCommand := execStreams(streams)
	var missing []string
	for _, r := range s.sessions {
		switch r.kind {
		case "exec":
			if len(byCommand[r.command]) == 0 {
				missing = append(missing, r.tag)
			}
		case "shell":
			typists++
		}
	}
	ok := len(incomplete) == 0 && len(missing) == 0 && (openGateways || gateways == s.gatewayStarts) && shells >= typists
	sort.Strings(incomplete)
	return ok, fmt.Sprintf("%d streams; incomplete: %s; gateway streams %d of %d; shell streams %d of %d; exec sessions not stored: %v",
		len(streams), describe(streams, incomplete), gateways, s.gatewayStarts, shells, typists, missing)
}

// execStreams maps exec commands to the ids of their streams.
func execStreams(streams map[string]*stream) map[string][]string {
	out := map[string][]string{}
	for id, st := range streams {
		if st.kind == "exec" {
			out[st.command] = append(out[st.command], id)
		}
	}
	return out
}

// describe lists the first few of ids with their aggregates.
func describe(streams map[string]*stream, ids []string) string {
	var parts []string
	for i, id := range ids {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("… %d more", len(ids)-i))
			break
		}
		parts = append(parts, streams[id].String())
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// checkPipeline stops the gateways (ending every stream), waits until the
// pipeline has converged and checks the scenario-independent invariants
// (see the package documentation). Every violation is reported; the test
// stops after them.
func (s *stack) checkPipeline() *pipeline {
	t := s.t
	t.Helper()
	s.stopGateways()
	start := time.Now()
	waitFor(t, "pipeline converged", s.opt.convergeTimeout(), s.convergence)
	t.Logf("pipeline converged %v after the gateways stopped", time.Since(start).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 5*queryTimeout)
	defer cancel()
	streams, err := s.db.streams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store, err := s.db.store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{streams: streams, events: map[string][]event.Event{}, sessions: map[string]query.Session{},
		byTag: map[string]string{}, gateways: map[string][]query.Session{}}

	// Every stream: whole in storage, once per seq through the query path,
	// and a verified chain.
	for id, st := range streams {
		if !st.complete() {
			t.Errorf("stream %v is not whole", st)
		}
		p.total += st.distinct
		p.dupRows += st.rows - st.distinct
		evs, err := store.Events(ctx, id)
		if err != nil {
			t.Errorf("Events(%s): %v", id, err)
			continue
		}
		p.events[id] = evs
		if got, want := uint64(len(evs)), st.endSeq+1; got != want {
			t.Errorf("Events(%s) = %d events; want %d (one per seq)", id, got, want)
		}
		for i := range evs {
			if evs[i].Seq != uint64(i) {
				t.Errorf("Events(%s)[%d].Seq = %d; want %d", id, i, evs[i].Seq, i)
				break
			}
			if evs[i].Type == event.SessionEnd && i != len(evs)-1 {
				t.Errorf("Events(%s): session.end at seq %d of %d", id, i, len(evs))
			}
		}
		if n := len(evs); n > 0 && evs[n-1].Type != event.SessionEnd {
			t.Errorf("Events(%s): last event is %s; want session.end", id, evs[n-1].Type)
		}
		res, err := store.Verify(ctx, id)
		switch {
		case err != nil:
			t.Errorf("Verify(%s): %v", id, err)
		case !res.OK():
			t.Errorf("Verify(%s): %v", id, res.Break)
		case res.Open || !res.Summary || len(res.Conflicts) > 0 || res.Events != len(evs):
			t.Errorf("Verify(%s) = %+v; want closed, with a summary, no conflicts, %d events", id, res, len(evs))
		}
	}

	// Sessions: each stream exactly once, closed, with its last seq.
	list, err := store.Sessions(ctx, query.Filter{Kind: query.KindAll, Limit: query.MaxLimit})
	if err != nil {
		t.Fatalf("Sessions: %v", err)
	}
	for _, ss := range list {
		st := streams[ss.ID]
		switch {
		case st == nil:
			t.Errorf("Sessions lists %s, which has no events", ss.ID)
			continue
		case p.sessions[ss.ID].ID != "":
			t.Errorf("Sessions lists %s twice", ss.ID)
		case ss.Open:
			t.Errorf("Sessions: %s is open", ss.ID)
		case ss.LastSeq != st.endSeq:
			t.Errorf("Sessions: %s last seq %d; want %d", ss.ID, ss.LastSeq, st.endSeq)
		}
		p.sessions[ss.ID] = ss
	}
	if len(p.sessions) != len(streams) {
		t.Errorf("Sessions lists %d sessions; the events table has %d", len(p.sessions), len(streams))
	}

	s.checkScripted(p)
	t.Logf("pipeline: %d streams, %d events, %d raw duplicate rows (redeliveries; the query path hides them)",
		len(streams), p.total, p.dupRows)
	if t.Failed() {
		t.FailNow()
	}
	return p
}

// checkScripted finds every scripted session's recording and checks it
// against what its client saw; every other stream must be a gateway's own.
func (s *stack) checkScripted(p *pipeline) {
	t := s.t
	t.Helper()
	byCommand := execStreams(p.streams)
	inputs := map[string][]byte{}
	for id, st := range p.streams {
		if st.kind == "shell" {
			inputs[id] = concat(p.events[id], event.Input)
		}
	}
	accounted := map[string]bool{}
	for _, r := range s.sessions {
		var ids []string
		switch r.kind {
		case "exec":
			ids = byCommand[r.command]
		case "shell":
			for id, in := range inputs {
				if bytes.Contains(in, []byte("echo "+r.tag+" ")) {
					ids = append(ids, id)
				}
			}
		}
		if len(ids) != 1 {
			t.Errorf("session %s (%s via %s, exit %d): recorded as %v; want exactly one stream", r.tag, r.kind, r.gateway, r.exit, ids)
			continue
		}
		id := ids[0]
		accounted[id] = true
		p.byTag[r.tag] = id
		evs, st, sess := p.events[id], p.streams[id], p.sessions[id]
		if len(evs) == 0 {
			continue // reported above
		}
		if st.gateway != r.gateway {
			t.Errorf("session %s: recorded by gateway %q; it went through %q", r.tag, st.gateway, r.gateway)
		}
		end := evs[len(evs)-1]
		out := concat(evs, event.Output)
		switch r.want {
		case wantComplete:
			switch {
			case r.exit != 0:
				t.Errorf("session %s: client exit %d; stderr %q", r.tag, r.exit, r.stderr.Bytes())
			case r.kind == "exec" && r.stderr.Len() > 0:
				t.Errorf("session %s: stderr %q; want none", r.tag, r.stderr.Bytes())
			case end.Meta["interrupted"] == "true" || sess.Interrupted:
				t.Errorf("session %s: end marked interrupted: %v", r.tag, end.Meta)
			case sess.ExitStatus != 0:
				t.Errorf("session %s: recorded exit status %d; want 0", r.tag, sess.ExitStatus)
			case r.kind == "exec" && !bytes.Equal(out, r.stdout.Bytes()):
				t.Errorf("session %s: recorded output (%d bytes) differs from the client's (%d bytes) at byte %d",
					r.tag, len(out), r.stdout.Len(), mismatch(out, r.stdout.Bytes()))
			}
		case wantInterrupted:
			switch {
			case end.Meta["interrupted"] != "true" || !sess.Interrupted:
				t.Errorf("session %s: end not marked interrupted: %v", r.tag, end.Meta)
			case end.Meta["last_durable_seq"] != strconv.FormatUint(end.Seq-1, 10):
				t.Errorf("session %s: last_durable_seq %q; the end is seq %d", r.tag, end.Meta["last_durable_seq"], end.Seq)
			}
			if got := r.stdout.Bytes(); r.kind == "exec" && mismatch(out, got) < min(len(out), len(got)) {
				t.Errorf("session %s: recorded output (%d bytes) and the client's (%d bytes) differ at byte %d; one must be a prefix of the other",
					r.tag, len(out), len(got), mismatch(out, got))
			}
		}
	}
	for id, st := range p.streams {
		switch {
		case accounted[id]:
		case st.kind == "gateway" && st.reopened:
			// Reopened after a recording failure; complete like any stream.
		case st.kind == "gateway":
			p.gateways[st.gateway] = append(p.gateways[st.gateway], p.sessions[id])
		default:
			t.Errorf("stream %v belongs to no scripted session", st)
		}
	}
	n := 0
	for _, g := range p.gateways {
		n += len(g)
	}
	if n != s.gatewayStarts {
		t.Errorf("%d gateway streams; want %d, one per gateway start", n, s.gatewayStarts)
	}
}

// concat joins the Data of the events of type typ.
func concat(evs []event.Event, typ event.Type) []byte {
	var b []byte
	for i := range evs {
		if evs[i].Type == typ {
			b = append(b, evs[i].Data...)
		}
	}
	return b
}

// mismatch returns the index of the first byte where a and b differ, or
// the length of the shorter when one is a prefix of the other.
func mismatch(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
