package main

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"

	"github.com/foureyes/foureyes/gateway"
	"github.com/foureyes/foureyes/ingest"
)

// tuneGC sets the collector of a daemon: GOGC percent under a soft
// memory limit (math.MaxInt64: none), unless the operator set GOGC or
// GOMEMLIMIT in the environment, which then rule alone.
func tuneGC(percent int, limit int64, log *slog.Logger) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		log.Info("garbage collector as set in the environment", "GOGC", os.Getenv("GOGC"), "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
		return
	}
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(percent)
	log.Debug("garbage collector", "gogc", percent, "memory_limit", limit)
}

// tuneIngestGC sets the collector for the ingest process
// (ingest.GCPercent under ingest.MemoryLimit).
func tuneIngestGC(batchBytes int64, log *slog.Logger) {
	tuneGC(ingest.GCPercent, ingest.MemoryLimit(batchBytes), log)
}

// tuneGatewayGC sets the collector for the gateway process
// (gateway.GCPercent, no memory limit).
func tuneGatewayGC(log *slog.Logger) {
	tuneGC(gateway.GCPercent, math.MaxInt64, log)
}
