package cmdline

import (
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// TestTypistsBounded: a session's events can name any actor (a Kafka
// writer forges them); the reconstructor keeps at most MaxTypists line
// buffers and one for the others, whose commands say so, and what the
// buffers hold together is bounded: one input event per new actor no
// longer costs a buffer kept for the session and a scan per Enter.
func TestTypistsBounded(t *testing.T) {
	var r Reconstructor
	const n = 20000
	for i := 0; i < n; i++ {
		r.Feed(&event.Event{Type: event.Input, Seq: uint64(i), Time: t0.UnixNano(), Actor: "u" + strconv.Itoa(i), Data: []byte("a")}, nil)
	}
	if len(r.editors) > MaxTypists+1 {
		t.Fatalf("editors kept = %d; want at most %d", len(r.editors), MaxTypists+1)
	}
	if len(r.last) > MaxTypists+1 {
		t.Errorf("last commands kept = %d; want at most %d", len(r.last), MaxTypists+1)
	}
	out := r.Feed(&event.Event{Type: event.Input, Seq: n, Time: t0.UnixNano(), Actor: "u" + strconv.Itoa(n-1), Data: []byte("\r")}, nil)
	if len(out) != 1 || !out[0].Approximate || !slices.Contains(out[0].Typists, OthersTypist) || out[0].Actor != "u"+strconv.Itoa(n-1) {
		t.Fatalf("command = %+v; want an approximate line listing %q, by u%d", out, OthersTypist, n-1)
	}

	// The owner keeps a buffer of their own and exact commands.
	var own Reconstructor
	own.Feed(&event.Event{Type: event.Input, Actor: "alice", Data: []byte("ls")}, nil)
	for i := 0; i < 100; i++ {
		own.Feed(&event.Event{Type: event.Input, Actor: "x" + strconv.Itoa(i), Data: []byte("\x15")}, nil) // Ctrl-U: nothing pending
	}
	out = own.Feed(&event.Event{Type: event.Input, Actor: "alice", Data: []byte(" -l\r")}, nil)
	if len(out) != 1 || out[0].Line != "ls -l" || out[0].Approximate || out[0].Typists != nil {
		t.Errorf("owner's command = %+v; want exact ls -l", out)
	}

	// Memory: 500 events of 64 KiB from distinct typists.
	var r2 Reconstructor
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	big := []byte(strings.Repeat("x", 64<<10))
	start := time.Now()
	for i := 0; i < 500; i++ {
		r2.Feed(&event.Event{Type: event.Input, Seq: uint64(i), Actor: "u" + strconv.Itoa(i), Data: big}, nil)
	}
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("31 MiB of input from 500 typists: heap grew %d KiB, %v", grew>>10, took)
	if limit := int64(4 * MaxSessionRunes * 2); grew > limit {
		t.Errorf("heap grew %d KiB; want at most %d KiB (MaxSessionRunes runes, with slack)", grew>>10, limit>>10)
	}
	runtime.KeepAlive(&r2)
}
