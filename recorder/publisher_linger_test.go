package recorder

import (
	"testing"
	"time"
)

// TestPublishDoesNotLinger is the regression test of the publisher's
// throughput cap: kafka-go writes a batch that is not full only when its
// BatchTimeout fires, so a synchronous WriteMessages of one spool read
// waited that long every time (5 ms by default: at most ~180 MB/s). With
// an hour configured, the old publisher could not deliver these events
// before drain's one-minute guard; now the setting is ignored and they
// arrive. Several rounds make several WriteMessages calls, each of them
// a batch smaller than kafka-go's BatchSize.
func TestPublishDoesNotLinger(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", "")
	r := openTest(t, testConfig(t), options{})
	publish(t, r, PublisherConfig{Brokers: []string{b.Addr()}, Topic: "events", Partitions: 3, BatchTimeout: time.Hour})
	const rounds = 3
	for i := range rounds {
		s, err := r.Start(StartInfo{User: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		s.Output([]byte("round output\r\n"))
		s.End(0, nil)
		drain(t, r) // fails after a minute if the writer waits for its timer
		if got := len(checkStreams(t, consumeAll(t, b.Addr(), "events"), true)); got != i+1 {
			t.Fatalf("after round %d: %d sessions in Kafka; want %d", i+1, got, i+1)
		}
	}
}
