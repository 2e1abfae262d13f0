package sftp

import (
	"fmt"
	"testing"
)

// FuzzTap feeds arbitrary bytes, split at arbitrary points, to both
// directions. The tap must not panic, must stay within its bounds, and
// must record the same whatever the split: parsing does not depend on
// how the bytes were cut into reads.
func FuzzTap(f *testing.F) {
	f.Add(cat(helloUp, pkt(typeOpen, 1, "/f", uint32(0x1a), 0), pkt(typeWrite, 2, "H", uint64(0), "data"), pkt(typeClose, 3, "H")),
		cat(helloDown, pkt(typeHandle, 1, "H"), pkt(typeStatus, 2, 0, "", ""), pkt(typeStatus, 3, 0, "", "")), uint8(3))
	f.Add(cat(helloUp, pkt(typeRead, 1, "H", uint64(0), 10), pkt(typeRename, 2, "/a", "/b")),
		cat(helloDown, pkt(typeData, 1, "0123456789"), pkt(typeStatus, 2, 0, "", "")), uint8(1))
	f.Add([]byte{0, 0, 0, 5, 1, 0, 0, 0, 3, 0xff, 0xff}, []byte{0, 0, 0, 1, 2}, uint8(0))
	f.Fuzz(func(t *testing.T, up, down []byte, split uint8) {
		whole := run(up, down, 0, 0)
		cut := run(up, down, int(split%17)+1, int(split/17)+1)
		if whole != cut {
			t.Fatalf("records depend on the split:\nwhole: %s\ncut:   %s", whole, cut)
		}
	})
}

// run feeds up then down in chunks of n and m bytes (0: at once),
// checks the bounds, and returns the records as text.
func run(up, down []byte, n, m int) string {
	c := newCollector(16)
	feed(c.tap.Up, up, n)
	feed(c.tap.Down, down, m)
	if c.tap.mem > memBudget || len(c.tap.pending) > maxPending || len(c.tap.handles) > maxHandles ||
		cap(c.tap.up.head) > maxHead+4<<10 || cap(c.tap.down.head) > maxHead+4<<10 {
		panic(fmt.Sprintf("bounds: mem %d pending %d handles %d", c.tap.mem, len(c.tap.pending), len(c.tap.handles)))
	}
	c.tap.Close()
	return fmt.Sprint(c.recs)
}
