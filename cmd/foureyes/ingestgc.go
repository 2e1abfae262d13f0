package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// ingestGCPercent is the ingest process's GOGC: most of its heap is the
// events held for the batches in flight, live until ClickHouse
// acknowledges them, so Go's default (collect when the heap doubles)
// spends a tenth of the ingest's CPU re-marking them.
const ingestGCPercent = 400

// ingestMemoryLimit returns the soft memory limit of the ingest process:
// four times batch_bytes (the events in memory are bounded by it; the
// decoded rows and the batches' columns add about as much again), at
// least 256 MiB. Under the limit the collector runs as often as needed
// to keep the heap within it, so a higher GOGC cannot grow the process
// past it.
func ingestMemoryLimit(batchBytes int64) int64 {
	return max(4*batchBytes, 256<<20)
}

// tuneIngestGC sets the collector for the ingest process, unless the
// operator set GOGC or GOMEMLIMIT in the environment.
func tuneIngestGC(batchBytes int64, log *slog.Logger) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		log.Info("garbage collector as set in the environment", "GOGC", os.Getenv("GOGC"), "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
		return
	}
	limit := ingestMemoryLimit(batchBytes)
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(ingestGCPercent)
	log.Debug("garbage collector", "gogc", ingestGCPercent, "memory_limit", limit)
}
