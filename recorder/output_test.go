package recorder

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// TestOutputChunkGrowsUnderBulk: chunks that fill before their timer
// double the next chunk's bound up to BulkChunkBytes; a chunk cut by the
// timer or by another event returns it to ChunkBytes. The output events,
// concatenated, are the bytes written, in order, and the chain verifies.
func TestOutputChunkGrowsUnderBulk(t *testing.T) {
	c := newFakeClock()
	cfg := testConfig(t)
	cfg.ChunkBytes, cfg.BulkChunkBytes = 1024, 8192
	r := openTest(t, cfg, options{clock: c})
	s, err := r.Start(StartInfo{User: "alice", Host: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	var sent []byte
	out := func(n int) {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(len(sent) + i*31)
		}
		sent = append(sent, p...)
		s.Output(p)
	}
	out(1024 + 2048 + 4096 + 8192 + 8192 + 100) // bulk: grows to the ceiling
	c.Advance(20 * time.Millisecond)            // the timer cuts the 100
	s.mu.Lock()
	if s.outLimit != cfg.ChunkBytes || cap(s.out) > cfg.ChunkBytes {
		t.Errorf("after a timer cut: bound %d, buffer %d bytes; want %d and at most that", s.outLimit, cap(s.out), cfg.ChunkBytes)
	}
	s.mu.Unlock()
	out(3000)                        // 1024, then a 2048 bound holds the rest
	s.Input("alice", []byte("\x03")) // another event cuts it and resets
	out(1500)                        // 1024, then 476 left for End
	if err := s.End(0, nil); err != nil {
		t.Fatal(err)
	}
	evs := diskEvents(t, cfg.SpoolDir)
	var lens []int
	var got []byte
	for _, e := range evs {
		if e.Type == event.Output {
			lens = append(lens, len(e.Data))
			got = append(got, e.Data...)
		}
	}
	want := []int{1024, 2048, 4096, 8192, 8192, 100, 1024, 1976, 1024, 476}
	if !slices.Equal(lens, want) {
		t.Errorf("output chunk sizes = %v; want %v", lens, want)
	}
	if !bytes.Equal(got, sent) {
		t.Errorf("recorded output (%d bytes) is not the output written (%d bytes), in order", len(got), len(sent))
	}
	if b := event.Verify(evs); b != nil {
		t.Errorf("chain: %v", b)
	}
}

// TestOutputInteractiveKeepsChunkBytes: echoes cut by the timer never
// grow the bound, even when one of them fills a chunk.
func TestOutputInteractiveKeepsChunkBytes(t *testing.T) {
	c := newFakeClock()
	cfg := testConfig(t)
	cfg.ChunkBytes, cfg.BulkChunkBytes = 256, 4096
	r := openTest(t, cfg, options{clock: c})
	s, err := r.Start(StartInfo{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		s.Output(make([]byte, 300)) // one full chunk, the rest waits
		c.Advance(20 * time.Millisecond)
	}
	if err := s.End(0, nil); err != nil {
		t.Fatal(err)
	}
	var lens []int
	for _, e := range diskEvents(t, cfg.SpoolDir) {
		if e.Type == event.Output {
			lens = append(lens, len(e.Data))
		}
	}
	if want := []int{256, 44, 256, 44, 256, 44, 256, 44, 256, 44}; !slices.Equal(lens, want) {
		t.Errorf("output chunk sizes = %v; want %v", lens, want)
	}
}

// TestBulkChunkBytesConfig: the default ceiling is 256 KiB for the
// default ChunkBytes (at most a 16th of a session's minimum share of the
// spool), ChunkBytes itself for a smaller one (fine-grained events stay
// fine-grained), and out-of-range values are refused.
func TestBulkChunkBytesConfig(t *testing.T) {
	for _, tc := range []struct {
		chunk, bulk, want int
		spool             int64
	}{
		{0, 0, 256 << 10, 0},
		{16 << 10, 0, 256 << 10, 0},
		{1024, 0, 1024, 0},
		{1 << 20, 0, 1 << 20, 0},
		{1024, 4096, 4096, 0},
		{16 << 10, 0, 64 << 10, 16 << 20}, // share min 1 MiB
		{16 << 10, 0, 16 << 10, 1 << 20},  // share min 64 KiB: no growth
	} {
		c := Config{SpoolDir: "x", ChunkBytes: tc.chunk, BulkChunkBytes: tc.bulk, SpoolMaxBytes: tc.spool}.withDefaults()
		if c.BulkChunkBytes != tc.want {
			t.Errorf("ChunkBytes %d, BulkChunkBytes %d: default %d; want %d", tc.chunk, tc.bulk, c.BulkChunkBytes, tc.want)
		}
		if err := c.validate(); err != nil {
			t.Errorf("ChunkBytes %d, BulkChunkBytes %d: %v", tc.chunk, tc.bulk, err)
		}
	}
	for _, bulk := range []int{512, MaxEventData + 1} {
		c := Config{SpoolDir: "x", ChunkBytes: 1024, BulkChunkBytes: bulk}.withDefaults()
		if err := c.validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("BulkChunkBytes %d: validate = %v; want ErrConfig", bulk, err)
		}
	}
}
