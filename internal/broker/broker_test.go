package broker

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// TestPersistsAcrossRestart produces through kafka-go over TCP, restarts the
// broker on the same data dir and reads the records back.
func TestPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := Start("127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.CreateTopics(kafka.TopicConfig{Topic: "t", NumPartitions: 2, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr()), Topic: "t", RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Balancer: &kafka.Murmur2Balancer{}}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v1")}, kafka.Message{Key: []byte("k"), Value: []byte("v2")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	addr := b.Addr()
	b.Close()

	b, err = Start(addr, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr()}, GroupID: "g", Topic: "t", MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var got []string
	for len(got) < 2 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("after restart: %v (got %v)", err, got)
		}
		got = append(got, string(m.Value))
	}
	if got[0] != "v1" || got[1] != "v2" {
		t.Fatalf("got %v; want [v1 v2]", got)
	}
}
