package reloadctl

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// TestRequestSignalsAndWaits: Request sends SIGHUP to the pid in the
// directory and returns the status the handler wrote for that signal.
func TestRequestSignalsAndWaits(t *testing.T) {
	dir := t.TempDir()
	remove, err := WritePID(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	// An older status must not be taken for the answer.
	if err := WriteStatus(dir, Status{OK: false, Error: "old"}); err != nil {
		t.Fatal(err)
	}
	// SIGHUP's default action ends the process: keep it off while
	// OnHangup starts listening.
	guard := make(chan os.Signal, 8)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	calls := make(chan struct{}, 1)
	go func() {
		defer close(done)
		OnHangup(ctx, dir, func() Status {
			calls <- struct{}{}
			return Status{OK: true, Changes: []string{"users added: frank"}, Revoked: 2}
		})
	}()
	defer func() {
		cancel()
		<-done
	}()
	// OnHangup must be listening before the signal: retry until it is.
	var st Status
	for {
		st, err = Request(dir, 200*time.Millisecond)
		if err == nil {
			break
		}
		select {
		case <-calls:
			t.Fatalf("handler ran but Request = %v", err)
		default:
		}
	}
	if !st.OK || st.Revoked != 2 || len(st.Changes) != 1 {
		t.Fatalf("status = %+v", st)
	}
}

// TestRequestWithoutGateway: no pid file is ErrNoGateway, with a hint.
func TestRequestWithoutGateway(t *testing.T) {
	if _, err := Request(t.TempDir(), time.Second); !errors.Is(err, ErrNoGateway) {
		t.Fatalf("Request = %v; want ErrNoGateway", err)
	}
}
