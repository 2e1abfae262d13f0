package recorder

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTopicRetentionCheck checks that an existing topic keeping data
// longer than kafka.retention_hours is reported loudly with the fix, and
// that a conforming topic is not.
func TestTopicRetentionCheck(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", t.TempDir())
	ctx := context.Background()
	pc := PublisherConfig{Brokers: []string{b.Addr()}, Topic: "events", Partitions: 1, RetentionHours: 720}
	if err := EnsureTopic(ctx, pc, slog.New(slog.NewTextHandler(&syncBuffer{}, nil))); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		hours int
		loud  bool
	}{
		{"longer than configured", 72, true},
		{"as configured", 720, false},
		{"shorter than configured", 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log syncBuffer
			pc.RetentionHours = tt.hours
			if err := EnsureTopic(ctx, pc, slog.New(slog.NewTextHandler(&log, nil))); err != nil {
				t.Fatal(err)
			}
			out := log.String()
			loud := strings.Contains(out, "level=ERROR") && strings.Contains(out, "retention.ms=259200000") && strings.Contains(out, "kafka-configs.sh")
			if loud != tt.loud {
				t.Errorf("log = %q; want loud warning with the fix: %v", out, tt.loud)
			}
		})
	}
}
