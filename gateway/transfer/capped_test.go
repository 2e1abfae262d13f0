package transfer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"
)

// TestCapped feeds a stream in uneven pieces: the stored part is its
// first Cap bytes, the summary has its total, hash and last KiB.
func TestCapped(t *testing.T) {
	stream := make([]byte, 5000)
	for i := range stream {
		stream[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name  string
		cap   int64
		over  bool
		keeps int
	}{
		{"under the cap", 10000, false, 5000},
		{"at the cap", 5000, false, 5000},
		{"over the cap", 1500, true, 1500},
		{"no cap", 0, false, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Capped{Cap: tc.cap}
			var stored []byte
			for p, n := stream, 1; len(p) > 0; n = n*2 + 1 {
				n = min(n, len(p))
				stored = append(stored, c.Take(p[:n])...)
				p = p[n:]
			}
			if !bytes.Equal(stored, stream[:tc.keeps]) {
				t.Errorf("stored %d bytes; want the first %d", len(stored), tc.keeps)
			}
			if c.Over() != tc.over {
				t.Errorf("Over = %v; want %v", c.Over(), tc.over)
			}
			sum := sha256.Sum256(stream)
			hash := hex.EncodeToString(sum[:])
			if tc.cap == 0 {
				// Nothing is summarised without a cap: Take only counts
				// (no second SHA-256 over bytes the chain hashes).
				hash = ""
			}
			m := c.SummaryMeta("stdout")
			want := map[string]string{"stream": "stdout", "bytes": "5000", "stored": strconv.Itoa(tc.keeps),
				"sha256": hash, "cap": strconv.FormatInt(tc.cap, 10)}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("meta %s = %q; want %q", k, m[k], v)
				}
			}
			if tc.cap == 0 {
				if len(c.Tail()) != 0 {
					t.Errorf("Tail without a cap holds %d bytes; want none", len(c.Tail()))
				}
				return
			}
			if !bytes.Equal(c.Tail(), stream[len(stream)-TailBytes:]) {
				t.Errorf("Tail is not the last %d bytes", TailBytes)
			}
		})
	}
}

// TestCappedShortTail: a stream shorter than TailBytes is its own tail.
func TestCappedShortTail(t *testing.T) {
	c := &Capped{Cap: 2}
	c.Take([]byte("hel"))
	c.Take([]byte("lo"))
	if got := string(c.Tail()); got != "hello" {
		t.Errorf("Tail = %q; want %q", got, "hello")
	}
}

// TestTransferMeta: sizes and hashes of both streams.
func TestTransferMeta(t *testing.T) {
	tr := NewTransfer(Command{Via: ViaSCP, Program: "scp", Direction: Upload, Path: "x"})
	tr.AddUp([]byte("C0644 5 x\n"))
	tr.AddUp([]byte("hello"))
	m := tr.Meta(StatusOK, "0")
	up := sha256.Sum256([]byte("C0644 5 x\nhello"))
	want := map[string]string{"via": "scp", "direction": "upload", "path": "x", "bytes_up": "15", "bytes_down": "0",
		"sha256_up": hex.EncodeToString(up[:]), "sha256_down": "", "status": "ok", "exit_status": "0"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("meta %s = %q; want %q", k, m[k], v)
		}
	}
}
