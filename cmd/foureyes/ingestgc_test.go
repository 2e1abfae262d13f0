package main

import (
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"

	"github.com/foureyes/foureyes/ingest"
)

// TestTuneIngestGC: the ingest command sets GOGC and a memory limit
// scaled to batch_bytes, and leaves both alone when the operator set
// GOGC or GOMEMLIMIT.
func TestTuneIngestGC(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	restore := func() {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	}
	t.Cleanup(restore)
	tests := []struct {
		name       string
		gogc       string
		memlimit   string
		batchBytes int64
		wantGC     int
		wantLimit  int64
	}{
		{"small batches", "", "", 64 << 20, ingest.GCPercent, 256 << 20},
		{"defaults", "", "", 96 << 20, ingest.GCPercent, 256 << 20},
		{"large batches", "", "", 256 << 20, ingest.GCPercent, 576 << 20},
		{"GOGC set", "150", "", 64 << 20, 100, math.MaxInt64},
		{"GOMEMLIMIT set", "", "1GiB", 64 << 20, 100, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			restore()
			t.Setenv("GOGC", tt.gogc)
			t.Setenv("GOMEMLIMIT", tt.memlimit)
			tuneIngestGC(tt.batchBytes, log)
			if got := debug.SetMemoryLimit(-1); got != tt.wantLimit {
				t.Errorf("memory limit = %d; want %d", got, tt.wantLimit)
			}
			if got := debug.SetGCPercent(100); got != tt.wantGC {
				t.Errorf("GOGC = %d; want %d", got, tt.wantGC)
			}
		})
	}
}
