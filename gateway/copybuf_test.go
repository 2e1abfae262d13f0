package gateway

import "testing"

func TestCopyBufGrowsAndShrinks(t *testing.T) {
	steps := []struct {
		name  string
		limit int
		reads []int // bytes returned by consecutive reads
		want  int   // len of the buffer after them
	}{
		{"idle stays small", bulkBufSize, []int{1, 5, smallBufSize - 1}, smallBufSize},
		{"a full small read grows to 32 KiB", bulkBufSize, []int{smallBufSize}, bufSize},
		{"a full 32 KiB read grows to bulk", bulkBufSize, []int{smallBufSize, bufSize}, bulkBufSize},
		{"bulk stops growing", bulkBufSize, []int{smallBufSize, bufSize, bulkBufSize, bulkBufSize}, bulkBufSize},
		{"a few small reads keep bulk", bulkBufSize, append([]int{smallBufSize, bufSize}, repeatInt(10, quietReads-1)...), bulkBufSize},
		{"quietReads small reads give bulk back", bulkBufSize, append([]int{smallBufSize, bufSize}, repeatInt(10, quietReads)...), bufSize},
		{"a large read restarts the count", bulkBufSize, append(append([]int{smallBufSize, bufSize}, repeatInt(10, quietReads-1)...), append([]int{bufSize}, repeatInt(10, quietReads-1)...)...), bulkBufSize},
		{"a 32 KiB limit stops there", bufSize, []int{smallBufSize, bufSize, bufSize}, bufSize},
		{"32 KiB is never given back", bulkBufSize, append([]int{smallBufSize}, repeatInt(1, 2*quietReads)...), bufSize},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			cb := newCopyBuf(tt.limit)
			for _, n := range tt.reads {
				if n > len(cb.b) {
					t.Fatalf("read of %d into a %d-byte buffer", n, len(cb.b))
				}
				cb.after(n)
			}
			if got := len(cb.b); got != tt.want {
				t.Errorf("buffer = %d bytes; want %d", got, tt.want)
			}
		})
	}
}

// repeatInt returns count copies of n.
func repeatInt(n, count int) []int {
	out := make([]int, count)
	for i := range out {
		out[i] = n
	}
	return out
}
