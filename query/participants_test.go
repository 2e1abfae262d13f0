package query

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestSessionsByParticipant lists sessions by who took part and who
// approved, with the participants' session ids sent as a literal set (a
// few) and as an external table (many), held copies included; a name that took
// part nowhere lists nothing.
func TestSessionsByParticipant(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	for i, id := range []string{"p1", "p2", "p3"} {
		store(t, conn, shellSession(id, t0.Add(time.Duration(i)*time.Hour)))
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO participants (session, name, role, ts, ts_ns)")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][3]string{{"p1", "bob", "approved"}, {"p2", "bob", "typed"}, {"p3", "carol", "approved"}} {
		if err := b.Append(r[0], r[1], r[2], t0, t0.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	// carol's approval of p3 is also in the held copy.
	hb, err := conn.PrepareBatch(ctx, "INSERT INTO held_participants (session, name, role, ts, ts_ns)")
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.Append("p3", "carol", "approved", t0, t0.UnixNano()); err != nil {
		t.Fatal(err)
	}
	if err := hb.Send(); err != nil {
		t.Fatal(err)
	}
	st := NewStore(conn)
	defer func(n uint64) { maxLiteralSessions = n }(maxLiteralSessions)
	for _, maxLiteralSessions = range []uint64{2000, 0} {
		for _, tc := range []struct {
			f    Filter
			want []string
		}{
			{Filter{Participant: "bob"}, []string{"p2", "p1"}},
			{Filter{Approver: "bob"}, []string{"p1"}},
			{Filter{Approver: "carol"}, []string{"p3"}},
			{Filter{Participant: "bob", Approver: "carol"}, nil},
			{Filter{Participant: "nobody"}, nil},
			{Filter{Participant: "bob", Limit: 1}, []string{"p2"}},
		} {
			p, err := st.SessionsPage(ctx, tc.f)
			if err != nil {
				t.Fatalf("%+v: %v", tc.f, err)
			}
			var got []string
			for _, s := range p.Sessions {
				got = append(got, s.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("SessionsPage(%+v) with at most %d literal ids = %v; want %v", tc.f, maxLiteralSessions, got, tc.want)
			}
			if wantMore := tc.f.Limit == 1; (p.More == 1) != wantMore {
				t.Errorf("SessionsPage(%+v): more %d", tc.f, p.More)
			}
		}
	}
}
