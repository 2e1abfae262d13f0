package main

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/foureyes/foureyes/ingest"
)

// tuneIngestGC sets the collector for the ingest process
// (ingest.GCPercent, ingest.MemoryLimit), unless the
// operator set GOGC or GOMEMLIMIT in the environment.
func tuneIngestGC(batchBytes int64, log *slog.Logger) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		log.Info("garbage collector as set in the environment", "GOGC", os.Getenv("GOGC"), "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
		return
	}
	limit := ingest.MemoryLimit(batchBytes)
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(ingest.GCPercent)
	log.Debug("garbage collector", "gogc", ingest.GCPercent, "memory_limit", limit)
}
