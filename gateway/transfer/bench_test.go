package transfer

import "testing"

// BenchmarkMeter is the cost per 32 KiB chunk (the gateway's copy
// buffer) of counting and hashing a transfer stream.
func BenchmarkMeter(b *testing.B) {
	p := make([]byte, 32<<10)
	var m Meter
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		m.Write(p)
	}
}

// BenchmarkCappedPastCap is the cost per 32 KiB chunk of an exec
// stream past its cap: hash, count, keep the tail.
func BenchmarkCappedPastCap(b *testing.B) {
	p := make([]byte, 32<<10)
	c := &Capped{Cap: 1}
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		c.Take(p)
	}
}

// BenchmarkSCPStream is the cost per 32 KiB chunk of following an scp
// data stream (one large file: hash of the file's bytes).
func BenchmarkSCPStream(b *testing.B) {
	p := make([]byte, 32<<10)
	var s SCP
	s.Answers([]byte{0})
	s.Data([]byte("C0644 1099511627776 big\n"))
	s.Answers([]byte{0})
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		s.Data(p)
	}
}
