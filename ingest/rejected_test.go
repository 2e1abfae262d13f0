package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// TestGarbageGoesToRejected interleaves undecodable messages with real
// events: the garbage lands in the rejected table, the events all arrive
// and the offsets move past both.
func TestGarbageGoesToRejected(t *testing.T) {
	f := newFixture(t, 2)
	evs, _ := workload("g", 3, 1, 30)
	garbage := map[string]string{
		"not json":       "\x00\xffnot json at all",
		"empty":          "",
		"no session":     `{"v":1,"type":"output","ts":5}`,
		"future version": `{"v":9,"session":"x","type":"output","ts":5}`,
		"after 2106":     `{"v":1,"session":"x","type":"output","ts":9000000000000000000}`,
		"bad hash":       `{"v":1,"session":"x","type":"output","ts":5,"hash":"zz"}`,
		"truncated":      `{"v":1,"session":"x","ty`,
	}
	var keys []string
	var values [][]byte
	i, added := 0, 0
	for _, g := range garbage {
		keys, values = append(keys, "garbage"), append(values, []byte(g))
		added++
		for ; i < len(evs)*added/len(garbage); i++ {
			b, err := event.Marshal(&evs[i])
			if err != nil {
				t.Fatal(err)
			}
			keys, values = append(keys, evs[i].Session), append(values, b)
		}
	}
	produce(t, f.addr, testTopic, keys, values)
	in := New(f.conn, f.cfg)
	startIngester(t, in)
	total := int64(len(values))
	waitFor(t, "everything committed", 60*time.Second, func() bool { return committed(t, f.addr, f.cfg.Group, testTopic, 2) == total })

	if n := f.distinctEvents(t); n != uint64(len(evs)) {
		t.Fatalf("events = %d; want %d", n, len(evs))
	}
	rows, err := f.conn.Query(context.Background(), "SELECT topic, partition, offset, error, raw FROM "+f.db+".rejected")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var topic, msg, raw string
		var partition int32
		var offset int64
		if err := rows.Scan(&topic, &partition, &offset, &msg, &raw); err != nil {
			t.Fatal(err)
		}
		if topic != testTopic || partition < 0 || partition > 1 || offset < 0 || !strings.HasPrefix(msg, "event: ") {
			t.Errorf("rejected row = %q %d %d %q", topic, partition, offset, msg)
		}
		seen[raw] = true
	}
	for name, g := range garbage {
		if !seen[g] {
			t.Errorf("%s: not in the rejected table", name)
		}
	}
	if got := in.Stats().Rejected; got != uint64(len(garbage)) {
		t.Errorf("Stats().Rejected = %d; want %d", got, len(garbage))
	}
}
