package query

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/event"
)

// longSignedSession stores a signed session id of n output events (more
// than one window, so that play and export read its second window after
// the check), its sessions row and, when ended, its gateway stream.
// It returns the stored stream.
func longSignedSession(t *testing.T, conn driver.Conn, signer *event.Signer, id string, n int, ended bool) []event.Event {
	t.Helper()
	r := newRec(id, "alice", "demo-prod", "shell", t0)
	for i := range n {
		r.at(time.Duration(i+1)*10*time.Millisecond, event.Output, "", "genuine line\r\n", nil)
	}
	if ended {
		r.end(time.Duration(n+1)*10*time.Millisecond, "0")
	}
	evs := signStream(r.evs, signer, 1000)
	insertEvents(t, conn, evs)
	if ended { // a gateway stream that ended would say the open one was cut off
		insertEvents(t, conn, gwStream("gw-"+id, signer, t0.Add(-time.Minute), nil, evs))
	}
	if !ended { // the row ingest writes for an open session: its start's
		insertSessions(t, conn, 0, r.openRow())
		return evs
	}
	last := evs[len(evs)-1]
	row := r.summary()
	row.LastSeq, row.LastHash = last.Seq, last.Hash.String()
	row.Ended = last.Timestamp().UTC()
	insertSessions(t, conn, last.Seq, row)
	return evs
}

// TestReplayStopsAtChangeAfterCheck is the regression test of a
// time-of-check/time-of-use hole: play and export checked a stream in
// one walk and displayed a second, unchecked walk, read page by page
// while the replay went on. A database writer who stored a forged copy of
// a later event after the check (with a stored hash sorting first, or
// the genuine hash), or an event after the end, had it played and
// exported with no warning and exit status 0. The display walk now
// verifies as it goes: it stops before the first event that is not the
// checked one, warns on stderr, exits 1 and, for export, ends the file
// with a marker saying it is not verified.
func TestReplayStopsAtChangeAfterCheck(t *testing.T) {
	conn := testConn(t)
	signer, pub := signedTestKey(t)
	st := NewStore(conn, WithTrustedKeys(pub))
	clock := func() time.Time { return t0.Add(2 * time.Hour) }
	st.now = clock
	const forgedText = "\x1b[31mFORGED: alice ran rm -rf /srv/records\x1b[0m\r\n"

	tests := []struct {
		name string
		// forge returns the row the writer stores after the check.
		forge func(evs []event.Event) event.Event
	}{
		{"copy whose hash sorts first", func(evs []event.Event) event.Event {
			f := outputAtOrAfter(evs, 8500)
			f.Data, f.Hash = []byte(forgedText), event.Hash{}
			return f
		}},
		{"copy with the genuine hash", func(evs []event.Event) event.Event {
			f := outputAtOrAfter(evs, 8500)
			f.Data = []byte(forgedText)
			return f
		}},
		{"copy chained to its predecessor", func(evs []event.Event) event.Event {
			f := outputAtOrAfter(evs, 8500)
			f.Data = []byte(forgedText)
			f.Hash = event.ComputeHash(&f)
			return f
		}},
		{"event after the end", func(evs []event.Event) event.Event {
			end := evs[len(evs)-1]
			f := event.Event{V: event.Version, Session: end.Session, Seq: end.Seq + 1, Time: end.Time + 1, Type: event.Output,
				Gateway: end.Gateway, Data: []byte(forgedText), Class: end.Class, Retention: end.Retention, Prev: end.Hash}
			f.Hash = event.ComputeHash(&f)
			return f
		}},
	}
	for i, tt := range tests {
		for _, verb := range []string{"play", "export"} {
			t.Run(tt.name+"/"+verb, func(t *testing.T) {
				id := strings.ReplaceAll(tt.name, " ", "-") + "-" + verb
				evs := longSignedSession(t, conn, signer, id, 9000, true)
				if res := runCLI(st, "verify", id); res.code != ExitOK {
					t.Fatalf("verify before: %+v", res)
				}
				forged := tt.forge(evs)
				res := runAfterCheck(t, st, clock, func() { insertEvents(t, conn, []event.Event{forged}) }, verb, id)
				if strings.Contains(res.stdout, "FORGED") {
					t.Errorf("%s showed the row stored after the check (exit %d, stderr %q)", verb, res.code, res.stderr)
				}
				if !strings.Contains(res.stdout, "genuine line") {
					t.Errorf("%s showed nothing of what was checked", verb)
				}
				if res.code != ExitFailure || !strings.Contains(res.stderr, "WARNING: this recording does NOT verify") ||
					!strings.Contains(res.stderr, "changed while") {
					t.Errorf("%s: exit %d, stderr %q; want exit %d and the warning naming the change", verb, res.code, res.stderr, ExitFailure)
				}
				if verb == "export" {
					lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
					if last := lines[len(lines)-1]; !strings.Contains(last, `,"m","foureyes: NOT VERIFIED`) {
						t.Errorf("export's last line %q; want the marker saying it is not verified", last)
					}
				}
				if r := runCLI(st, "verify", id); r.code != ExitFailure {
					t.Errorf("verify after the forged row (case %d): %+v; want it to fail", i, r)
				}
			})
		}
	}

	// A session still being written: what arrives after the check is not
	// shown (nothing vouches for it yet), and that is no failure.
	t.Run("open session", func(t *testing.T) {
		conn := testConn(t) // no gateway stream that stopped
		st := NewStore(conn, WithTrustedKeys(pub))
		st.now = clock
		evs := longSignedSession(t, conn, signer, "open", 9000, false)
		last := evs[len(evs)-1]
		next := event.Event{V: event.Version, Session: "open", Seq: last.Seq + 1, Time: last.Time + 1, Type: event.Output,
			Gateway: last.Gateway, Data: []byte("written after the check\r\n"), Class: last.Class, Retention: last.Retention, Prev: last.Hash}
		next.Hash = event.ComputeHash(&next)
		res := runAfterCheck(t, st, clock, func() { insertEvents(t, conn, []event.Event{next}) }, "play", "open")
		if res.code != ExitOK || strings.Contains(res.stdout, "written after the check") || strings.Contains(res.stderr, "WARNING") ||
			!strings.Contains(res.stderr, "still being written") {
			t.Errorf("play of an open session: exit %d, stderr %q; want exit 0, a note, and nothing after the check", res.code, res.stderr)
		}
	})
}

// outputAtOrAfter returns a copy of the first output event of evs at or
// after seq.
func outputAtOrAfter(evs []event.Event, seq uint64) event.Event {
	for _, e := range evs {
		if e.Seq >= seq && e.Type == event.Output {
			e.Data = append([]byte(nil), e.Data...)
			return e
		}
	}
	panic("no output event")
}

// runAfterCheck runs the CLI with args and calls change once the check
// has walked the stream: at the first page of the second walk, before
// that walk reads the session's second window.
func runAfterCheck(t *testing.T, st *Store, clock func() time.Time, change func(), args ...string) result {
	t.Helper()
	var checkPages int
	st.onPage = func(int) { checkPages++ }
	if res := runCLI(st, "verify", args[len(args)-1]); res.code != ExitOK {
		t.Fatalf("verify before: %+v", res)
	}
	pages := 0
	st.onPage = func(int) {
		if pages++; pages == checkPages+1 {
			change()
		}
	}
	defer func() { st.onPage = nil }()
	var out, errOut bytes.Buffer
	c := &cli{st: st, stdout: &out, stderr: &errOut, now: clock, sleep: func(context.Context, time.Duration) error { return nil }}
	code := c.run(context.Background(), args)
	if pages <= checkPages+1 {
		t.Fatalf("%v read %d pages, the check %d: the change came after the replay", args, pages, checkPages)
	}
	return result{code, out.String(), errOut.String()}
}

// TestReplayCheck holds second walks to the check of a stream: what is
// shown, and where and why the walk stops.
func TestReplayCheck(t *testing.T) {
	stored := shellSession("s1", t0).events() // seqs 0..8, 8 the end
	last := uint64(len(stored) - 1)
	check := func(evs []event.Event) *checkedRead {
		v := event.NewStreamVerifier(nil)
		for i := range evs {
			v.Add(&evs[i])
		}
		rd := &checkedRead{events: uint64(len(evs))}
		rd.in.Stream = v.Result()
		rd.first.seq, rd.first.hash = evs[0].Seq, evs[0].Hash
		return rd
	}
	copyOf := func() []event.Event { return shellSession("s1", t0).events() }
	altered := func(i int) []event.Event {
		evs := copyOf()
		evs[i].Data = []byte("FORGED\r\n")
		return evs
	}
	rechained := func(i int) []event.Event { // replaced, as a merge that kept a forged copy would
		evs := altered(i)
		evs[i].Hash = event.ComputeHash(&evs[i])
		return evs
	}
	without := func(i int) []event.Event { evs := copyOf(); return append(evs[:i], evs[i+1:]...) }
	after := func(evs []event.Event) []event.Event {
		end := evs[len(evs)-1]
		e := event.Event{V: event.Version, Session: "s1", Seq: end.Seq + 1, Time: end.Time + 1, Type: event.Output, Gateway: "gw1",
			Data: []byte("later\r\n"), Class: "production", Retention: 90, Prev: end.Hash}
		e.Hash = event.ComputeHash(&e)
		return append(evs, e)
	}
	open := copyOf()[:last]
	tests := []struct {
		name      string
		checked   []event.Event
		walk      []event.Event
		conflicts []uint64
		shown     uint64 // events shown
		stopAt    int64  // seq of the *changedError, -1 for none
		more      bool
	}{
		{"same stream", stored, copyOf(), nil, last + 1, -1, false},
		{"altered, same hash", stored, altered(3), nil, 3, 3, false},
		{"replaced, rechained: caught at the next", stored, rechained(3), nil, 4, 4, false},
		{"replaced last", stored, rechained(int(last)), nil, last, int64(last), false},
		{"missing", stored, without(3), nil, 3, 3, false},
		{"missing first", stored, without(0), nil, 0, 1, false},
		{"tail gone", stored, copyOf()[:5], nil, 5, 5, false},
		{"conflict", stored, copyOf(), []uint64{3}, 0, 3, false},
		{"after the end", stored, after(copyOf()), nil, last + 1, int64(last + 1), false},
		{"open: later events not shown", open, after(copyOf()[:last]), nil, last, -1, true},
		{"past the check's break: shown under its verdict", altered(3), altered(3), nil, last + 1, -1, false},
		{"before the check's break: checked", altered(5), func() []event.Event { evs := altered(5); evs[1].Actor = "x"; return evs }(), nil, 1, 1, false},
		{"conflict past the check's break", altered(3), altered(3), []uint64{5}, last + 1, -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := check(tt.checked)
			rc := newReplayCheck(rd, nil)
			var (
				shown uint64
				err   error
			)
			if err = rc.page(tt.conflicts); err == nil {
				for i := range tt.walk {
					if err = rc.add(&tt.walk[i]); err != nil {
						break
					}
					shown++
				}
			}
			if err == nil || errors.Is(err, errPastCheck) {
				err = rc.end()
			}
			var chg *changedError
			stopAt := int64(-1)
			if errors.As(err, &chg) {
				stopAt = int64(chg.Seq)
			} else if err != nil {
				t.Fatalf("err = %v; want a *changedError or nil", err)
			}
			if shown != tt.shown || stopAt != tt.stopAt || rc.more != tt.more {
				t.Errorf("shown %d, stopped at %d (%v), more %v; want %d, %d, %v", shown, stopAt, err, rc.more, tt.shown, tt.stopAt, tt.more)
			}
		})
	}
}
