package ingest

import (
	"testing"
	"time"
)

// TestRebalance adds a second ingester to the group and then stops the
// first one while events keep coming: both rebalances keep every event,
// and the group's offsets reach the end of the topic.
func TestRebalance(t *testing.T) {
	const partitions = 6
	f := newFixture(t, partitions)
	a, _ := workload("ra", 12, 0, 40)
	b, _ := workload("rb", 12, 0, 40)
	c, _ := workload("rc", 12, 0, 40)

	produceEvents(t, f.addr, testTopic, a)
	first := New(f.conn, f.cfg)
	r1 := startIngester(t, first)
	waitFor(t, "the first ingester to insert", 60*time.Second, func() bool { return first.Stats().Events > 0 })

	second := New(f.conn, f.cfg)
	startIngester(t, second)
	produceEvents(t, f.addr, testTopic, b)
	want := uint64(len(a) + len(b))
	waitFor(t, "A and B inserted by the pair", 60*time.Second, func() bool { return f.distinctEvents(t) == want })
	waitFor(t, "A and B committed", 60*time.Second, func() bool {
		return committed(t, f.addr, f.cfg.Group, testTopic, partitions) == int64(want)
	})

	r1.stop(t)
	produceEvents(t, f.addr, testTopic, c)
	want += uint64(len(c))
	waitFor(t, "C inserted by the survivor", 60*time.Second, func() bool { return f.distinctEvents(t) == want })
	waitFor(t, "C committed", 60*time.Second, func() bool {
		return committed(t, f.addr, f.cfg.Group, testTopic, partitions) == int64(want)
	})
	if second.Stats().Events == 0 {
		t.Fatal("the second ingester never inserted anything")
	}
}
