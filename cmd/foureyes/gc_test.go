package main

import (
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"

	"github.com/foureyes/foureyes/gateway"
	"github.com/foureyes/foureyes/ingest"
)

// TestTuneGC: the ingest command sets GOGC and a memory limit scaled
// to batch_bytes, the gateway GOGC alone, and both leave the collector
// alone when the operator set GOGC or GOMEMLIMIT.
func TestTuneGC(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	restore := func() {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	}
	t.Cleanup(restore)
	ingestWith := func(batchBytes int64) func() { return func() { tuneIngestGC(batchBytes, log) } }
	gw := func() { tuneGatewayGC(log) }
	tests := []struct {
		name      string
		gogc      string
		memlimit  string
		tune      func()
		wantGC    int
		wantLimit int64
	}{
		{"ingest, small batches", "", "", ingestWith(64 << 20), ingest.GCPercent, 256 << 20},
		{"ingest, defaults", "", "", ingestWith(96 << 20), ingest.GCPercent, 256 << 20},
		{"ingest, large batches", "", "", ingestWith(256 << 20), ingest.GCPercent, 576 << 20},
		{"ingest, GOGC set", "150", "", ingestWith(64 << 20), 100, math.MaxInt64},
		{"ingest, GOMEMLIMIT set", "", "1GiB", ingestWith(64 << 20), 100, math.MaxInt64},
		{"gateway", "", "", gw, gateway.GCPercent, math.MaxInt64},
		{"gateway, GOGC set", "150", "", gw, 100, math.MaxInt64},
		{"gateway, GOMEMLIMIT set", "", "1GiB", gw, 100, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			restore()
			t.Setenv("GOGC", tt.gogc)
			t.Setenv("GOMEMLIMIT", tt.memlimit)
			tt.tune()
			if got := debug.SetMemoryLimit(-1); got != tt.wantLimit {
				t.Errorf("memory limit = %d; want %d", got, tt.wantLimit)
			}
			if got := debug.SetGCPercent(100); got != tt.wantGC {
				t.Errorf("GOGC = %d; want %d", got, tt.wantGC)
			}
		})
	}
}
