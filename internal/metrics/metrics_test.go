package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/freeport"
)

func TestServe(t *testing.T) {
	r := NewRegistry()
	var depth atomic.Int64
	depth.Store(42)
	r.Gauge("spool_events", "events waiting in the spool", func() float64 { return float64(depth.Load()) })
	r.Counter("published_total", "events published", func() float64 { return 7 })
	addr := freeport.MustAddr(t)
	var notReady atomic.Bool
	notReady.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.Serve(ctx, addr, func() error {
			if notReady.Load() {
				return errors.New("kafka unreachable")
			}
			return nil
		}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	get := func(path string) (int, string) {
		t.Helper()
		var resp *http.Response
		var err error
		for i := 0; i < 50; i++ {
			if resp, err = http.Get("http://" + addr + path); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "foureyes_spool_events 42") || !strings.Contains(body, "foureyes_published_total 7") {
		t.Errorf("/metrics = %d %q", code, body)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "kafka unreachable") {
		t.Errorf("/readyz not ready = %d %q", code, body)
	}
	notReady.Store(false)
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz ready = %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
