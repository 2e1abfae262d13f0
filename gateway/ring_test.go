package gateway

import (
	"bytes"
	"math/rand"
	"testing"
)

// pattern returns n bytes that differ from their neighbours, starting
// at offset off of an endless sequence, so that a misplaced byte shows.
func pattern(off, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((off + i) % 251)
	}
	return b
}

// lastN returns the last n bytes of b (all of b if shorter).
func lastN(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[len(b)-n:]
}

func TestRingKeepsLastBytes(t *testing.T) {
	tests := []struct {
		name   string
		writes []int // sizes of successive writes
	}{
		{"empty", nil},
		{"zero-length writes", []int{0, 0}},
		{"one small write", []int{10}},
		{"fills exactly", []int{ringSize}},
		{"fills exactly in pieces", []int{ringSize / 2, ringSize / 2}},
		{"fills exactly then one byte", []int{ringSize / 2, ringSize / 2, 1}},
		{"zero-length write when full at the start", []int{ringSize, 0}},
		{"wraps inside a write", []int{ringSize - 3, 10}},
		{"wraps many times", []int{7000, 7000, 7000, 7000, 7000, 7000, 7000, 7000, 7000, 7000, 7000}},
		{"one byte short then two", []int{ringSize - 1, 2}},
		{"larger than capacity", []int{ringSize + 1}},
		{"much larger than capacity", []int{3*ringSize + 17}},
		{"small then larger than capacity", []int{100, 2 * ringSize}},
		{"larger than capacity then small", []int{ringSize + 5, 100}},
		{"wrapped then exactly capacity", []int{ringSize - 1, 5, ringSize}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r ring
			var all []byte
			for _, n := range tt.writes {
				p := pattern(len(all), n)
				all = append(all, p...)
				r.write(p)
				if got, want := r.snapshot(), lastN(all, ringSize); !bytes.Equal(got, want) {
					t.Fatalf("after %d bytes: snapshot has %d bytes; want the last %d written", len(all), len(got), len(want))
				}
			}
		})
	}
}

// TestRingRandomWrites compares the ring with a model (everything
// written, cut to the last ringSize bytes) over random write sizes.
func TestRingRandomWrites(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var r ring
	var all []byte
	for i := 0; i < 2000; i++ {
		n := rng.Intn(4096)
		if i%97 == 0 {
			n = rng.Intn(3 * ringSize)
		}
		p := pattern(len(all), n)
		all = append(all, p...)
		r.write(p)
		if got, want := r.snapshot(), lastN(all, ringSize); !bytes.Equal(got, want) {
			t.Fatalf("write %d (%d bytes, %d total): snapshot differs from the last %d bytes written", i, n, len(all), len(want))
		}
		all = lastN(all, 2*ringSize) // the model needs no more
	}
}

func TestRingSnapshotIsCopy(t *testing.T) {
	for _, n := range []int{10, ringSize + 10} { // before and after wrapping
		var r ring
		r.write(bytes.Repeat([]byte("a"), n))
		snap := r.snapshot()
		want := bytes.Clone(snap)
		for i := range snap {
			snap[i] = 'x'
		}
		if got := r.snapshot(); !bytes.Equal(got, want) {
			t.Errorf("n=%d: changing a snapshot changed the ring", n)
		}
		before := r.snapshot()
		r.write(bytes.Repeat([]byte("b"), 100))
		if !bytes.Equal(before, want) {
			t.Errorf("n=%d: a later write changed an earlier snapshot", n)
		}
	}
}

func TestRingWriteKeepsNoReference(t *testing.T) {
	var r ring
	p := []byte("hello")
	r.write(p)
	copy(p, "XXXXX")
	if got := string(r.snapshot()); got != "hello" {
		t.Errorf("snapshot = %q after the caller reused its buffer; want %q", got, "hello")
	}
}
