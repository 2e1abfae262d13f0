package query

import (
	"context"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// TestSearchOutputStripsEscapes checks that colour codes between words
// do not hide output, that the hit's line is the matching line, and that
// an output search is bounded by its window.
func TestSearchOutputStripsEscapes(t *testing.T) {
	conn := testConn(t)
	st := NewStore(conn)
	r := newRec("o1", "alice", "db1", "shell", t0)
	r.at(time.Second, event.Output, "", "$ psql\r\n\x1b[31mERROR\x1b[0m:  1051 (42S02): Unknown table\r\nnext line\r\n", nil)
	r.end(2*time.Second, "0")
	store(t, conn, r)
	ctx := context.Background()
	for _, tc := range []struct {
		f    SearchFilter
		want int
	}{
		{SearchFilter{Output: "error: 1051", Host: "db1"}, 1},
		{SearchFilter{Output: "unknown TABLE", Since: t0}, 1},
		{SearchFilter{Output: "unknown table", Since: t0.Add(time.Hour)}, 0},
		{SearchFilter{Output: "unknown table", Host: "db2"}, 0},
	} {
		p, err := st.Search(ctx, tc.f)
		if err != nil {
			t.Fatalf("%+v: %v", tc.f, err)
		}
		if len(p.Hits) != tc.want {
			t.Fatalf("Search(%+v) = %+v; want %d hits", tc.f, p, tc.want)
		}
		if tc.want > 0 && p.Hits[0].Line != "ERROR:  1051 (42S02): Unknown table" {
			t.Errorf("line = %q", p.Hits[0].Line)
		}
	}
}
