package reloadctl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRequestSignalsAndWaits: Request sends SIGHUP to the pid in the
// directory and returns the status the handler wrote for that signal.
func TestRequestSignalsAndWaits(t *testing.T) {
	dir := t.TempDir()
	l, err := Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	// An older status must not be taken for the answer.
	if err := WriteStatus(dir, Status{OK: false, Error: "old"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Serve(ctx, func() Status {
			return Status{OK: true, Changes: []string{"users added: frank"}, Revoked: 2}
		})
	}()
	st, err := Request(dir, 30*time.Second)
	cancel()
	<-done
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !st.OK || st.Revoked != 2 || len(st.Changes) != 1 {
		t.Fatalf("status = %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, PIDFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after Close: %v", err)
	}
}

// TestRequestWithoutGateway: no pid file is ErrNoGateway, with a hint.
func TestRequestWithoutGateway(t *testing.T) {
	if _, err := Request(t.TempDir(), time.Second); !errors.Is(err, ErrNoGateway) {
		t.Fatalf("Request = %v; want ErrNoGateway", err)
	}
}

// TestRequestRefusesStalePID: a pid file whose process is not the one
// that wrote it (the gateway died, the pid was reused) is not signalled.
func TestRequestRefusesStalePID(t *testing.T) {
	dir := t.TempDir()
	if _, ok := startTime(os.Getpid()); !ok {
		t.Fatal("no /proc on this machine")
	}
	if err := os.WriteFile(filepath.Join(dir, PIDFile), []byte(strconv.Itoa(os.Getpid())+" 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Request(dir, time.Second); !errors.Is(err, ErrNoGateway) || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("Request = %v; want a stale pid file refused", err)
	}
}
