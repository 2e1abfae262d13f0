package ingest

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/internal/chserver"
)

// errInjected fails an insert attempt in the tests.
var errInjected = errors.New("injected insert failure")

// failingInserts fails (or, made by watchInserts, only counts) the insert
// attempts of the batches it selects until it is released: by release,
// or on its own once a condition holds and a number of further attempts
// have failed (releaseAfter). Every stage's attempt counts. It is the
// Ingester's insertFault; its methods may be called from the test.
type failingInserts struct {
	in     *Ingester
	match  func(b *batch) bool
	inject bool // fail the attempts with errInjected; else the real server fails them

	mu        sync.Mutex
	attempts  map[*batch]int // attempts per selected batch before the release
	ready     func() bool    // set by releaseAfter
	more      int            // attempts still to fail once ready holds
	onRelease func()         // run at the release, under mu
	released  bool
}

// failInserts makes every insert attempt of in for a batch that match
// selects fail with errInjected until the release. Install it before Run.
func failInserts(in *Ingester, match func(b *batch) bool) *failingInserts {
	f := &failingInserts{in: in, match: match, inject: true, attempts: map[*batch]int{}}
	in.insertFault = f.fault
	return f
}

// watchInserts counts the insert attempts of in per batch until the
// release, failing none: for a ClickHouse that is really down.
func watchInserts(in *Ingester) *failingInserts {
	f := failInserts(in, func(*batch) bool { return true })
	f.inject = false
	return f
}

// releaseAfter makes f release on its own: once ready holds at an
// attempt, that attempt and more-1 further ones still fail and the next
// succeeds. onRelease (may be nil) runs at that attempt, before the
// insert, with f locked: a snapshot of the moment the held batch goes in.
func (f *failingInserts) releaseAfter(ready func() bool, more int, onRelease func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ready, f.more, f.onRelease = ready, more, onRelease
}

// release lets every later attempt through.
func (f *failingInserts) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = true
}

// isReleased reports whether f has released the inserts.
func (f *failingInserts) isReleased() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.released
}

// batches returns how many selected batches had at least min attempts
// before the release.
func (f *failingInserts) batches(min int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, a := range f.attempts {
		if a >= min {
			n++
		}
	}
	return n
}

// fault is the Ingester's insertFault.
func (f *failingInserts) fault(b *batch, _ insertStage) error {
	if !f.match(b) {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.released {
		return nil
	}
	if f.ready != nil && f.ready() {
		if f.more == 0 {
			f.released = true
			if f.onRelease != nil {
				f.onRelease()
			}
			return nil
		}
		f.more--
	}
	f.attempts[b]++
	if !f.inject {
		return nil
	}
	return errInjected
}

// port returns the port of a host:port address.
func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// restartClickHouse starts a killed server again on its data directory
// and ports, so that connections to it recover; it is stopped when the
// test ends.
func restartClickHouse(t *testing.T, srv *chserver.Server) *chserver.Server {
	t.Helper()
	s, err := chserver.Start(context.Background(), srv.Dir, chserver.Options{TCPPort: port(t, srv.Addr), HTTPPort: port(t, srv.HTTPAddr)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// storedEvents returns the distinct (session, seq) in db's events, or 0
// while the server does not answer (it is down or starting).
func storedEvents(conn driver.Conn, db string) uint64 {
	var n uint64
	err := conn.QueryRow(context.Background(), "SELECT count() FROM (SELECT session, seq FROM "+db+".events LIMIT 1 BY session, seq)").Scan(&n)
	if err != nil {
		return 0
	}
	return n
}
