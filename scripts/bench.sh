#!/usr/bin/env bash
# Runs every benchmark with a run length that suits it and keeps the output
# in bench/latest.txt (BENCHMARKS.md records the numbers, machine and date).
# One package at a time: they measure throughput and must not compete.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench
out=bench/latest.txt
{
  echo "# foureyes benchmarks — $(date -u +%Y-%m-%dT%H:%MZ) — $(nproc) CPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) — $(go version)"
  echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
} > "$out"
run() { # package benchtime [bench regexp]
  echo "== $1 (-benchtime $2 -bench ${3:-.})" | tee -a "$out"
  go test -run '^$' -bench "${3:-.}" -benchtime "$2" -benchmem -timeout 60m "$1" 2>&1 | tee -a "$out"
}
run ./event/ 1s
run ./query/ 20x
run ./recorder/ 2s
run ./ingest/ 1000000x 'Ingest$'
run ./ingest/ 5x 'InsertEvents|Decode'
run ./ingest/retention/ 1x
run ./gateway/ 3x 'BulkOutput|EchoRTT|IdleSessionMemory'
run ./gateway/ 20000x Fanout
run ./gateway/ 1x LoginUnderFlood
run ./gateway/ 1x 'SFTP$'
run ./internal/devstack/ 1x
CHAOS_OUTAGE=60s run ./chaos/ 1x
echo "results in $out"
