#!/usr/bin/env bash
# Runs every fuzz target of the module for a bounded time each
# (FUZZTIME, default 5s). Go fuzzes one target per invocation, so the
# targets are found by name. A crash fails the run, and the input that
# caused it is written to the package's testdata/fuzz/, where every later
# `go test` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-5s}"
GO="${GO:-go}"
failed=0
count=0
while IFS=: read -r file name; do
  pkg="./$(dirname "$file")"
  count=$((count + 1))
  echo "fuzz: $pkg $name ($FUZZTIME)"
  if ! "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" >"/tmp/fuzz-$$.log" 2>&1; then
    if grep -q 'context deadline exceeded' "/tmp/fuzz-$$.log" && ! grep -q 'Failing input written' "/tmp/fuzz-$$.log"; then
      # Go's fuzz coordinator (before 1.27) can report its own -fuzztime
      # deadline as a failure when a worker is still mid-input
      # (golang/go#75804). No input failed, and none was written; say so.
      echo "fuzz: $pkg $name: stopped at the deadline inside a slow input (no failing input)"
      continue
    fi
    cat "/tmp/fuzz-$$.log"
    echo "fuzz: $pkg $name FAILED"
    failed=$((failed + 1))
  fi
done < <(grep -rHo --include='*_test.go' -E '^func (Fuzz[A-Za-z0-9_]+)' . | sed -E 's/:func /:/' | sed 's|^\./||' | sort)
rm -f "/tmp/fuzz-$$.log"
echo "fuzz: $count targets, $failed crashed"
[ "$failed" -eq 0 ]
