package recorder

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestGoroutinesExit checks that Close and a cancelled Publish leave no
// recorder goroutine behind.
func TestGoroutinesExit(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", "")
	r, err := newRecorder(testConfig(t), options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Publish(ctx, PublisherConfig{Brokers: []string{b.Addr()}}) }()
	s, _ := r.Start(StartInfo{User: "alice"})
	s.Output([]byte("x"))
	s.End(0, nil)
	dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
	defer dcancel()
	if err := r.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var left []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "foureyes/recorder.") && !strings.Contains(g, "TestGoroutinesExit") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("recorder goroutines still running after Close:\n%s", strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
