package query

import (
	"context"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// peakHeap runs f and returns the largest live heap (after a GC) seen at
// each page a walk read.
func peakHeap(st *Store, f func()) uint64 {
	var peak uint64
	st.onPage = func(int) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapAlloc)
	}
	defer func() { st.onPage = nil }()
	f()
	return peak
}

// TestAuditReadsBoundedMemory is the regression test of hole 13: verify
// and export of one huge session held the whole session in memory. It
// fails if the live heap during verify or export grows with the size of
// the session: a session of 24 MiB of output must not need more than
// 8 MiB above one of 6 MiB (the old code held every event: 18 MiB more).
func TestAuditReadsBoundedMemory(t *testing.T) {
	conn := testConn(t)
	chunk := make([]byte, 16<<10)
	for i := range chunk {
		chunk[i] = 'a' + byte(i%26)
	}
	store := func(id string, n int) {
		r := newRec(id, "alice", "demo-prod", "shell", t0)
		insertEvents(t, conn, r.events())
		r.evs = r.evs[:0]
		for i := 0; i < n; i++ {
			e := event.Event{V: event.Version, Session: id, Time: t0.Add(time.Duration(i+1) * time.Millisecond).UnixNano(), Type: event.Output,
				Gateway: "gw1", Data: chunk, Class: "production", Retention: 90}
			r.chain.Seal(&e)
			r.evs = append(r.evs, e)
			if len(r.evs) == 512 || i == n-1 {
				insertEvents(t, conn, r.evs)
				r.evs = r.evs[:0]
			}
		}
	}
	store("small", 384)
	store("big", 1536)
	st := NewStore(conn)
	ctx := context.Background()
	measure := func(id string) (verify, export uint64) {
		verify = peakHeap(st, func() {
			if res, err := st.Verify(ctx, id); err != nil || !res.OK() {
				t.Errorf("Verify(%s) = %+v, %v", id, res.Integrity.Problems, err)
			}
		})
		export = peakHeap(st, func() {
			c := &cli{st: st, stdout: io.Discard, stderr: io.Discard, now: time.Now}
			if code := c.run(ctx, []string{"export", id}); code != ExitOK {
				t.Errorf("export %s = %d", id, code)
			}
		})
		return verify, export
	}
	sv, se := measure("small")
	bv, be := measure("big")
	t.Logf("peak live heap: verify %d → %d MiB, export %d → %d MiB (6 MiB → 24 MiB session)", sv>>20, bv>>20, se>>20, be>>20)
	const slack = 8 << 20 // two pages
	if bv > sv+slack {
		t.Errorf("verify: peak heap %d MiB for the big session, %d MiB for the small one; want no growth with session size", bv>>20, sv>>20)
	}
	if be > se+slack {
		t.Errorf("export: peak heap %d MiB for the big session, %d MiB for the small one; want no growth with session size", be>>20, se>>20)
	}
	if sv == 0 || se == 0 {
		t.Error("the page hook never ran")
	}
}
