package query

import (
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

func TestDedupEvents(t *testing.T) {
	h := func(b byte) event.Hash { return event.Hash{b} }
	ev := func(seq uint64, hash byte) event.Event { return event.Event{Seq: seq, Hash: h(hash)} }
	// Copies with the genuine stored hash but other content: a conflict,
	// and the copy that recomputes to the hash is the one kept, whatever
	// the order ClickHouse returned them in.
	genuine := shellSession("s1", t0).events()
	out := genuine[4] // output
	data := out
	data.Data = []byte("FORGED\r\n")
	meta := genuine[5] // resize
	meta.Meta = maps.Clone(meta.Meta)
	meta.Meta["cols"] = "1"
	typ := out
	typ.Type = event.Input
	when := out
	when.Time++
	tests := []struct {
		name      string
		in        []event.Event
		want      []event.Event
		conflicts []uint64
	}{
		{"same hash, other data", []event.Event{data, out}, []event.Event{out}, []uint64{4}},
		{"same hash, other data, genuine first", []event.Event{out, data}, []event.Event{out}, []uint64{4}},
		{"same hash, other meta", []event.Event{meta, genuine[5], meta}, []event.Event{genuine[5]}, []uint64{5}},
		{"same hash, other type and time", []event.Event{typ, when, out}, []event.Event{out}, []uint64{4}},
		{"same hash, both forged", []event.Event{out, data, typ}, []event.Event{out}, []uint64{4}},
		{"identical copies", []event.Event{out, out}, []event.Event{out}, nil},
		{"empty", nil, nil, nil},
		{"sorted unique", []event.Event{ev(0, 1), ev(1, 2)}, []event.Event{ev(0, 1), ev(1, 2)}, nil},
		{"two parts", []event.Event{ev(0, 1), ev(1, 2), ev(2, 3), ev(1, 2), ev(2, 3)}, []event.Event{ev(0, 1), ev(1, 2), ev(2, 3)}, nil},
		{"conflict keeps smallest hash", []event.Event{ev(0, 1), ev(1, 9), ev(1, 4), ev(1, 9)}, []event.Event{ev(0, 1), ev(1, 4)}, []uint64{1}},
		{"several conflicts", []event.Event{ev(3, 1), ev(3, 2), ev(0, 5), ev(0, 6)}, []event.Event{ev(0, 5), ev(3, 1)}, []uint64{0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, conflicts := dedupEvents(tt.in)
			if len(got) == 0 && len(tt.want) == 0 {
				got = tt.want
			}
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(conflicts, tt.conflicts) {
				t.Fatalf("dedupEvents = %v, %v; want %v, %v", got, conflicts, tt.want, tt.conflicts)
			}
		})
	}
}

// TestSameHashCopyIsAConflict is the regression test of a silent merge:
// a copy of an event stored with the genuine prev and hash but other data
// was taken for the same event (dedup compared stored hashes only), so
// verify said OK while the forged copy sat in the table, to be shown as
// soon as ClickHouse returned it first (after a merge, or in another part
// order). On the old code verify exits 0.
func TestSameHashCopyIsAConflict(t *testing.T) {
	conn := testConn(t)
	signer, pub := signedTestKey(t)
	r := shellSession("s1", t0)
	s1 := signStream(r.evs, signer, 3)
	insertEvents(t, conn, s1)
	insertEvents(t, conn, gwStream("gw-a", signer, t0.Add(-time.Minute), nil, s1))
	end := s1[len(s1)-1]
	row := r.summary()
	row.Ended, row.LastSeq, row.LastHash = end.Timestamp().UTC(), end.Seq, end.Hash.String()
	insertSessions(t, conn, end.Seq, row)
	st := NewStore(conn, WithTrustedKeys(pub))
	st.now = func() time.Time { return t0.Add(2 * time.Hour) }
	if res := runCLI(st, "verify", "s1"); res.code != ExitOK {
		t.Fatalf("verify before: %+v", res)
	}

	var forged event.Event
	for _, e := range s1 {
		if e.Type == event.Output && strings.Contains(string(e.Data), "logout") {
			forged = e
		}
	}
	forged.Data = []byte("FORGED logout\r\n")
	insertEvents(t, conn, []event.Event{forged}) // same seq, prev and hash

	res := runCLI(st, "verify", "s1")
	if res.code != ExitFailure || !strings.Contains(res.stdout, "conflicting copies stored for seq") {
		t.Errorf("verify with a same-hash forged copy = %+v; want FAILED naming the conflicting copies", res)
	}
	res = runCLI(st, "play", "s1")
	if strings.Contains(res.stdout, "FORGED") || !strings.Contains(res.stderr, "WARNING: this recording does NOT verify") ||
		!strings.Contains(res.stderr, "conflicting copies") {
		t.Errorf("play with a same-hash forged copy: stdout %q stderr %q; want the genuine copy under the warning", res.stdout, res.stderr)
	}
}
