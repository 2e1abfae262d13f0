package ingest

// GCPercent is the GOGC the ingest process runs with: most of its heap is
// the events held for the batches in flight, live until ClickHouse
// acknowledges them, so Go's default (collect when the heap doubles)
// spends a tenth of the ingest's CPU re-marking them. `foureyes ingest`
// sets it (cmd/foureyes/ingestgc.go) and BenchmarkIngest measures with it.
const GCPercent = 400

// MemoryLimit returns the soft memory limit of the ingest process: four
// times batchBytes (the events in memory are bounded by it; the decoded
// rows and the batches' columns add about as much again), at least 256
// MiB. Under the limit the collector runs as often as needed to keep the
// heap within it, so GCPercent cannot grow the process past it.
func MemoryLimit(batchBytes int64) int64 {
	return max(4*batchBytes, 256<<20)
}
