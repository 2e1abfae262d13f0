package chaos

import (
	"os"
	"testing"
	"time"
)

// Durations of the suite. Deadlines guard against hangs; none is a speed
// assertion.
const (
	// defaultOutage is the fault duration of the tests without CHAOS_OUTAGE.
	defaultOutage = 5 * time.Second
	// benchOutage is the fault duration of the benchmarks without it.
	benchOutage = 10 * time.Second
	// convergeTimeout bounds the wait for the pipeline to settle after a
	// fault is repaired.
	convergeTimeout = 60 * time.Second
	// readyTimeout bounds the wait for a process to accept connections.
	readyTimeout = 60 * time.Second
	// pollInterval is the pace of every poll.
	pollInterval = 100 * time.Millisecond
)

// outage returns CHAOS_OUTAGE (a Go duration such as 60s), or def.
func outage(tb testing.TB, def time.Duration) time.Duration {
	tb.Helper()
	s := os.Getenv("CHAOS_OUTAGE")
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		tb.Fatalf("chaos: CHAOS_OUTAGE=%q: want a positive Go duration such as 5s or 60s", s)
	}
	return d
}

// waitFor polls cond until it reports true, failing the test after timeout
// with the last state cond described.
func waitFor(tb testing.TB, what string, timeout time.Duration, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("chaos: %s: not reached within %v; last state: %s", what, timeout, state)
		}
		time.Sleep(pollInterval)
	}
}

// hold lets a fault last for d. It is the injected outage, not a wait for
// a result.
func hold(tb testing.TB, what string, d time.Duration) {
	tb.Logf("%s for %v", what, d)
	time.Sleep(d)
}
