package chserver

import (
	"context"
	"errors"
	"os"
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
