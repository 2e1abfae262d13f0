package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/broker"
	"github.com/segmentio/kafka-go"
)

// startBroker starts kfake over TCP (persisting to dir when not empty).
func startBroker(t testing.TB, addr, dir string) *broker.Broker {
	t.Helper()
	b, err := broker.Start(addr, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// publish runs Publish until the test ends and reports its result.
func publish(t testing.TB, r *Recorder, pc PublisherConfig) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Publish(ctx, pc) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Publish = %v", err)
		}
	})
}

// drain waits until everything recorded so far is in Kafka.
func drain(t testing.TB, r *Recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := r.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v (stats %+v)", err, r.Stats())
	}
}

// consumed is one message read back from Kafka.
type consumed struct {
	partition int
	key       string
	time      time.Time
	ev        event.Event
}

// consumeAll reads every message of topic, partition by partition.
func consumeAll(t testing.TB, addr, topic string) []consumed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(addr)}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 || md.Topics[0].Error != nil {
		t.Fatalf("metadata: %v %+v", err, md)
	}
	var out []consumed
	for _, p := range md.Topics[0].Partitions {
		conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p.ID, MaxWait: 50 * time.Millisecond})
		for {
			m, err := rd.ReadMessage(ctx)
			if err != nil {
				rd.Close()
				t.Fatalf("partition %d: %v", p.ID, err)
			}
			var e event.Event
			if err := event.Unmarshal(m.Value, &e); err != nil {
				t.Fatalf("partition %d offset %d: %v", p.ID, m.Offset, err)
			}
			out = append(out, consumed{partition: p.ID, key: string(m.Key), time: m.Time, ev: e})
			if m.Offset == last-1 {
				break
			}
		}
		rd.Close()
	}
	return out
}

// checkStreams checks that every session in msgs arrived complete and in
// order; with once, also exactly once. It returns the sessions.
func checkStreams(t testing.TB, msgs []consumed, once bool) map[string][]event.Event {
	t.Helper()
	streams := map[string][]event.Event{}
	parts := map[string]int{}
	for _, m := range msgs {
		e := m.ev
		if m.key != e.Session {
			t.Fatalf("key %q for session %q", m.key, e.Session)
		}
		if m.time.UnixMilli() != time.Unix(0, e.Time).UnixMilli() {
			t.Fatalf("message time %v; event time %v", m.time, time.Unix(0, e.Time))
		}
		if p, ok := parts[e.Session]; ok && p != m.partition {
			t.Fatalf("session %s in partitions %d and %d", e.Session, p, m.partition)
		}
		parts[e.Session] = m.partition
		l := streams[e.Session]
		switch {
		case uint64(len(l)) == e.Seq:
			streams[e.Session] = append(l, e)
		case e.Seq < uint64(len(l)) && !once:
			// a resend of an event whose ack was lost
		default:
			t.Fatalf("session %s: seq %d arrived after %d events (out of order, missing or duplicate)", e.Session, e.Seq, len(l))
		}
	}
	for id, l := range streams {
		if b := event.Verify(l); b != nil {
			t.Fatalf("session %s: %v", id, b)
		}
	}
	return streams
}

func TestPublishCreatesTopic(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", "")
	r := openTest(t, testConfig(t), options{})
	publish(t, r, PublisherConfig{Brokers: []string{b.Addr()}, Topic: "events", Partitions: 3, RetentionHours: 2})
	s, _ := r.Start(StartInfo{User: "alice"})
	s.End(0, nil)
	drain(t, r)

	ctx := context.Background()
	c := &kafka.Client{Addr: kafka.TCP(b.Addr())}
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"events"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(md.Topics[0].Partitions); n != 3 {
		t.Errorf("partitions = %d; want 3", n)
	}
	res, err := c.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: "events", ConfigNames: []string{"retention.ms", "cleanup.policy"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range res.Resources[0].ConfigEntries {
		got[e.ConfigName] = e.ConfigValue
	}
	if got["retention.ms"] != "7200000" || got["cleanup.policy"] != "delete" {
		t.Errorf("topic configs = %v; want retention.ms=7200000 cleanup.policy=delete", got)
	}
	if n := len(checkStreams(t, consumeAll(t, b.Addr(), "events"), true)); n != 1 {
		t.Errorf("%d sessions in Kafka; want 1", n)
	}
}

func TestPublishManySessions(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", "")
	cfg := testConfig(t)
	cfg.ChunkBytes = 256
	r := openTest(t, cfg, options{segmentBytes: 64 << 10})
	publish(t, r, PublisherConfig{Brokers: []string{b.Addr()}, Topic: "events", Compression: "none"})
	const sessions, events = 8, 300
	var wg sync.WaitGroup
	for i := 0; i < sessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := r.Start(StartInfo{ID: fmt.Sprintf("s%d", i), User: "alice"})
			if err != nil {
				t.Error(err)
				return
			}
			for j := 0; j < events; j++ {
				if j%2 == 0 {
					s.Input("alice", []byte(fmt.Sprint(j)))
				} else {
					s.Output([]byte(strings.Repeat("o", 300))) // cut by size
				}
			}
			if err := s.End(0, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	drain(t, r)
	streams := checkStreams(t, consumeAll(t, b.Addr(), "events"), true)
	if len(streams) != sessions {
		t.Fatalf("%d sessions in Kafka; want %d", len(streams), sessions)
	}
	total := 0
	for id, l := range streams {
		if l[len(l)-1].Type != event.SessionEnd {
			t.Errorf("%s: incomplete, last %s", id, l[len(l)-1].Type)
		}
		total += len(l)
	}
	st := r.Stats()
	if st.SpoolEvents != 0 || st.SpoolSegments != 1 || st.Published != int64(total) || st.OldestUnsentAge != 0 {
		t.Fatalf("stats after drain = %+v; want an empty spool and %d published", st, total)
	}
}

func TestPublishSurvivesBrokerRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := broker.Start("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	r := openTest(t, testConfig(t), options{segmentBytes: 16 << 10})
	publish(t, r, PublisherConfig{Brokers: []string{addr}, Topic: "events", Partitions: 2, Compression: "lz4"})
	a := recordOpen(t, r, "a", 50)
	drain(t, r)

	b.Close()
	c := recordOpen(t, r, "c", 100)
	for i := 0; i < 100; i++ {
		a.Input("alice", []byte("while kafka is down\r"))
	}
	c.End(0, nil)
	for r.Stats().PublishErrors == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if st := r.Stats(); st.SpoolEvents == 0 {
		t.Fatalf("spool empty while the broker is down: %+v", st)
	}
	time.Sleep(2 * time.Second) // stay down across a few retries

	b = startBroker(t, addr, dir)
	a.End(0, nil)
	drain(t, r)
	streams := checkStreams(t, consumeAll(t, addr, "events"), false)
	if n := len(streams["a"]); n != 1+150+1 {
		t.Errorf("session a: %d events in Kafka; want 152", n)
	}
	if n := len(streams["c"]); n != 1+100+1 {
		t.Errorf("session c: %d events in Kafka; want 102", n)
	}
	if st := r.Stats(); st.SpoolEvents != 0 || st.SpoolSegments != 1 {
		t.Errorf("spool not emptied after acks: %+v", st)
	}
}

func TestPublishExistingTopicIsLeftAlone(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", "")
	ctx := context.Background()
	c := &kafka.Client{Addr: kafka.TCP(b.Addr())}
	if _, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: "events", NumPartitions: 2, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}
	logs := &logCapture{}
	cfg := testConfig(t)
	cfg.Logger = slog.New(logs)
	r := openTest(t, cfg, options{})
	publish(t, r, PublisherConfig{Brokers: []string{b.Addr()}, Topic: "events", Partitions: 6})
	s, _ := r.Start(StartInfo{User: "alice"})
	s.End(0, nil)
	drain(t, r)
	if !logs.has(slog.LevelWarn, "different partition count") {
		t.Error("no warning about the partition count")
	}
	md, _ := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"events"}})
	if n := len(md.Topics[0].Partitions); n != 2 {
		t.Errorf("partitions = %d; want 2 (left alone)", n)
	}
}

func TestPublishLifecycle(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", "")
	r := openTest(t, testConfig(t), options{})
	pc := PublisherConfig{Brokers: []string{b.Addr()}}
	tests := []struct {
		name string
		pc   PublisherConfig
	}{
		{"no brokers", PublisherConfig{}},
		{"bad compression", PublisherConfig{Brokers: pc.Brokers, Compression: "brotli"}},
		{"negative partitions", PublisherConfig{Brokers: pc.Brokers, Partitions: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := r.Publish(context.Background(), tt.pc); !errors.Is(err, ErrConfig) {
				t.Fatalf("Publish = %v; want ErrConfig", err)
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- r.Publish(ctx, pc) }()
	for !r.publishing.Load() {
		time.Sleep(time.Millisecond)
	}
	if err := r.Publish(ctx, pc); !errors.Is(err, ErrPublishing) {
		t.Fatalf("second Publish = %v; want ErrPublishing", err)
	}
	cancel()
	if err := <-first; err != nil {
		t.Fatalf("Publish after cancel = %v; want nil", err)
	}

	go func() { first <- r.Publish(context.Background(), pc) }()
	for !r.publishing.Load() {
		time.Sleep(time.Millisecond)
	}
	r.Close()
	if err := <-first; !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close = %v; want ErrClosed", err)
	}
	if err := r.Publish(context.Background(), pc); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish on a closed recorder = %v; want ErrClosed", err)
	}
}

// logCapture is a slog.Handler that keeps records.
type logCapture struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (h *logCapture) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}
func (h *logCapture) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCapture) WithGroup(string) slog.Handler      { return h }

// has reports whether a record at level contains msg.
func (h *logCapture) has(level slog.Level, msg string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if r.Level == level && strings.Contains(r.Message, msg) {
			return true
		}
	}
	return false
}
