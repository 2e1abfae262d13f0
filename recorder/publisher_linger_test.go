package recorder

import (
	"bytes"
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

// TestPublishLingersOnlyWhenCaughtUp: the publisher waits publishLinger
// (an hour here) after a send that left nothing durable unread, and
// never between the batches of a backlog. A backlog of several batches
// is all delivered (drain fails after a minute if the publisher paused
// between them); events recorded once it caught up wait out the linger;
// ending the publisher ends the wait (the test's cleanup would hang).
func TestPublishLingersOnlyWhenCaughtUp(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", "")
	r := openTest(t, testConfig(t), options{})
	s, err := r.Start(StartInfo{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.Repeat([]byte("backlog output line\r\n"), 1000)
	for range 3 * publishMaxBytes / len(line) {
		s.Output(line)
	}
	s.End(0, nil)
	if err := r.spool.sync(); err != nil {
		t.Fatal(err)
	}
	publish(t, r, PublisherConfig{Brokers: []string{b.Addr()}, Topic: "events", Partitions: 3, linger: time.Hour})
	drain(t, r)
	if got := len(checkStreams(t, consumeAll(t, b.Addr(), "events"), true)); got != 1 {
		t.Fatalf("%d sessions in Kafka after the backlog; want 1", got)
	}

	late, err := r.Start(StartInfo{User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	late.Output([]byte("typed after the publisher caught up\r\n"))
	late.End(0, nil)
	if err := r.spool.sync(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // an hour's linger: nothing may arrive
	if got := len(checkStreams(t, consumeAll(t, b.Addr(), "events"), true)); got != 1 {
		t.Fatalf("%d sessions in Kafka during the linger; want 1", got)
	}
}
