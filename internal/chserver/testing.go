package chserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// StartForTest starts a server in a temporary directory and stops it when
// the test ends. Without clickhouse-server the test is skipped, except under
// CI=true, where it fails: CI must never silently skip.
func StartForTest(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start(context.Background(), tb.TempDir(), Options{})
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true" {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Stop() })
	return s
}

// Shared is one server for all tests of a package (it takes seconds to
// start), started by the first test that asks for it. Tests isolate
// themselves with a database each. Call Close from TestMain after m.Run.
type Shared struct {
	once sync.Once
	dir  string
	srv  *Server
	err  error
	seq  atomic.Int64
}

// Server returns the shared server, starting it on first use. Without
// clickhouse-server the test is skipped, except under CI=true, where it
// fails.
func (s *Shared) Server(tb testing.TB) *Server {
	tb.Helper()
	s.once.Do(func() {
		if s.dir, s.err = os.MkdirTemp("", "foureyes-clickhouse-"); s.err != nil {
			return
		}
		s.srv, s.err = Start(context.Background(), s.dir, Options{})
	})
	if errors.Is(s.err, ErrNotInstalled) && os.Getenv("CI") != "true" {
		tb.Skip(s.err)
	}
	if s.err != nil {
		tb.Fatal(s.err)
	}
	return s.srv
}

// DatabaseName returns a database name not used before in this process,
// for the test to create: prefix_PID_N.
func (s *Shared) DatabaseName(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), s.seq.Add(1))
}

// Close stops the server, if it was started, and removes its directory.
func (s *Shared) Close() {
	if s.srv != nil {
		s.srv.Stop()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// StartWithForTest starts a server with opt in a temporary directory and
// stops it when the test ends; a missing clickhouse-server skips the test
// as StartForTest does.
func StartWithForTest(tb testing.TB, opt Options) *Server {
	tb.Helper()
	s, err := Start(context.Background(), tb.TempDir(), opt)
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true" {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Stop() })
	return s
}
