package ingest

// GCPercent is the GOGC the ingest process runs with: most of its heap is
// the events held for the batches in flight, live until ClickHouse
// acknowledges them, so Go's default (collect when the heap doubles)
// spends a tenth of the ingest's CPU re-marking them. `foureyes ingest`
// sets it (cmd/foureyes/gc.go) and BenchmarkIngest measures with it.
const GCPercent = 400

// MemoryLimit returns the soft memory limit of the ingest process: twice
// batchBytes plus 64 MiB, at least 256 MiB. The events in memory are
// bounded by batchBytes; the decoded rows, the batches' columns and the
// runtime add about 1.2 × batchBytes + 60 MiB (the live heap measured
// with 200-byte events), so the limit leaves the collector room while
// the default (96 MiB: a 256 MiB limit) keeps the process under the
// 300 MB RSS issue 11 bounds it to (the RSS adds about 15 MiB of stacks,
// code and runtime to the heap). Under the limit the collector runs
// as often as needed to keep the heap within it, so GCPercent cannot
// grow the process past it.
func MemoryLimit(batchBytes int64) int64 {
	return max(2*batchBytes+64<<20, 256<<20)
}
