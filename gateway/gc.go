package gateway

// GCPercent is the GOGC the gateway process runs with. Its live heap is
// small (a few MB plus each session's buffers) while x/crypto allocates
// every SSH packet it reads, so with Go's default (100) the collector
// ran every 4 MB of a transfer: 15 % of the CPU of an SFTP download. At
// 400 the gateway's CPU per GB fell by 15–17 % on SFTP upload and
// download (BENCHMARKS.md, "Gateway collector"); the heap may grow to
// five times the live heap, which GOMEMLIMIT in the environment can
// bound. `foureyes gateway` sets it (cmd/foureyes/gc.go) and the
// gateway's throughput benchmarks measure with it.
const GCPercent = 400
