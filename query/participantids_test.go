package query

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestSessionsByParticipantIDTable lists sessions by participant and
// approver when their ids outnumber the literal set, so that they travel
// as an external table (and, past its bound, as a subquery): the pages,
// counts and the whole listing equal the literal set's. The ids are hostile (quotes, backslashes, NUL,
// tabs, newlines) and each has a decoy session whose id a mangled copy
// would become, in which nobody took part: every id must arrive exactly.
// The auditor's ClickHouse user is read-only; so is the connection here.
func TestSessionsByParticipantIDTable(t *testing.T) {
	conn := testConn(t)
	ctx := context.Background()
	hostile := []string{"q'uote", `back\slash`, "nul\x00byte", "tab\tand\nnewline", `"dq"`, "'); DROP TABLE sessions; --", "ünï"}
	var rows []Session
	var bob, bobApproved []string // newest first
	for i := range 28 {
		id := fmt.Sprintf("%s-%02d", hostile[i%len(hostile)], i)
		rows = append(rows, Session{ID: id, Kind: "shell", User: "alice", Host: "db1", Started: t0.Add(time.Duration(i) * time.Hour), Open: true})
		bob = append([]string{id}, bob...)
		if i%2 == 0 {
			bobApproved = append([]string{id}, bobApproved...)
		}
	}
	for _, id := range []string{"q", "back", "nul", "tab", `\"dq\"-04`, "q''uote-00", `back\\slash-01`, "nul-02"} {
		rows = append(rows, Session{ID: id, Kind: "shell", User: "alice", Host: "db1", Started: t0.Add(100 * time.Hour), Open: true})
	}
	insertSessions(t, conn, 1, rows...)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO participants (session, name, role, ts, ts_ns)")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range bob {
		role := "typed"
		if slices.Contains(bobApproved, id) {
			role = "approved"
		}
		if err := b.Append(id, "bob", role, t0, t0.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	var db string
	if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	ro, err := clickhouse.Open(&clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     []string{shared.Server(t).Addr},
		Auth:     clickhouse.Auth{Database: db},
		Settings: clickhouse.Settings{"readonly": 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	st := NewStore(ro)

	defer func(n, m uint64) { maxLiteralSessions, maxTableSessions = n, m }(maxLiteralSessions, maxTableSessions)
	for _, limits := range [][2]uint64{{2000, 200_000}, {20, 200_000}, {10, 200_000}, {0, 200_000}, {10, 20}, {0, 0}} {
		maxLiteralSessions, maxTableSessions = limits[0], limits[1]
		for _, tc := range []struct {
			f    Filter
			want []string
		}{
			{Filter{Participant: "bob"}, bob},
			{Filter{Approver: "bob"}, bobApproved},
			{Filter{Participant: "bob", Approver: "bob"}, bobApproved},
			{Filter{Participant: "bob", Since: t0.Add(20 * time.Hour)}, bob[:8]},
		} {
			got, err := st.Sessions(ctx, tc.f)
			if err != nil {
				t.Fatalf("Sessions(%+v) with at most %d literal and %d table ids: %v", tc.f, maxLiteralSessions, maxTableSessions, err)
			}
			if ids := sessionIDsOf(got); !slices.Equal(ids, tc.want) {
				t.Errorf("Sessions(%+v) with at most %d literal and %d table ids = %q; want %q", tc.f, maxLiteralSessions, maxTableSessions, ids, tc.want)
			}
			// Page by 5: each page's ids and the count of the rest.
			f := tc.f
			f.Limit = 5
			for from := 0; from < len(tc.want); from += 5 {
				p, err := st.SessionsPage(ctx, f)
				if err != nil {
					t.Fatalf("SessionsPage(%+v): %v", f, err)
				}
				to := min(from+5, len(tc.want))
				if ids := sessionIDsOf(p.Sessions); !slices.Equal(ids, tc.want[from:to]) || p.More != len(tc.want)-to {
					t.Errorf("SessionsPage(%+v) with at most %d literal and %d table ids = %q, %d more; want %q, %d more",
						f, maxLiteralSessions, maxTableSessions, ids, p.More, tc.want[from:to], len(tc.want)-to)
					break
				}
				f.Before = p.Sessions[len(p.Sessions)-1].ID
			}
		}
	}
}

// sessionIDsOf returns the ids of list in order.
func sessionIDsOf(list []Session) []string {
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return ids
}
