// Package benche2e measures foureyes end to end against a real OpenSSH
// sshd on loopback, with the stock ssh client, beside two references run
// in the same sitting: the client straight to the sshd ("direct") and a
// bare relay (Relay: an x/crypto SSH server piping each session channel
// to an x/crypto client connection, no recording) that shows what any
// bastion can reach on this machine, since a relay decrypts and
// re-encrypts every byte. aes128-gcm@openssh.com on every leg.
//
// The benchmarks are `go test -bench` entries (bench_test.go), run by
// `make bench-e2e`:
//
//	go test -run '^$' -bench E2E -benchtime 1x -timeout 60m -v ./internal/benche2e/
//
// A benchmark rather than a command because everything it starts (sshd,
// clickhouse-server, the foureyes processes) is owned by the test and
// cleaned up with it, the existing helpers (sshtest, chserver) take a
// testing.TB, and the output is benchstat's format. Each benchmark is one
// complete measurement: -benchtime 1x.
//
// The foureyes pipeline runs as separate processes of the foureyes binary
// (broker, gateway, ingest) and clickhouse-server, as an operator runs
// them, not `foureyes dev` in one process: only separate processes can be
// pinned to separate CPUs. BENCH_E2E selects the variant:
//
//	(unset)    bulk exec and tty output, interleaved direct / relay /
//	           foureyes runs, medians and ratios; keystroke echo RTT;
//	           everything on all cores, ingest and ClickHouse at the
//	           Nice= of their shipped units (deploy/), as on a bastion
//	           that runs the whole pipeline
//	flat       the same with every process at the same priority
//	taskset    the same with ingest, broker and ClickHouse on CPU 1 and
//	           the gateway, the relay, ssh and sshd on CPU 0
//	transfers  ten 500 MB transfers in a row and five at once through
//	           foureyes (shipped priorities), then checks every byte is
//	           in ClickHouse, the spool never filled and no session was
//	           ended by recording
//
// BENCH_E2E_BYTES sets another bulk size for a quick try, and
// BENCH_E2E_GATEWAY_ENV adds VAR=VALUE words to the gateway's environment
// only (for example GOMAXPROCS=4 or GOGC=200), so that one runtime
// setting can be compared in interleaved runs against the same pipeline.
//
// sshd runs as the current user (root on the build machines) with its own
// configuration, host key and authorized_keys in a temporary directory,
// UsePAM no.
package benche2e
