package ingest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/broker"
	"github.com/foureyes/foureyes/internal/testca"
	"github.com/foureyes/foureyes/transport"
)

// produceSecure creates topic and writes evs through a client secured
// like the broker b wants.
func produceSecure(t *testing.T, b *broker.Secure, topic string, evs []event.Event) {
	t.Helper()
	sec, err := transport.KafkaSecurity(b.TLS, b.SASL)
	if err != nil {
		t.Fatal(err)
	}
	tr := sec.Transport("test", 10*time.Second, 0)
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(b.Addr()), Transport: tr}
	if _, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 2, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr()), Topic: topic, RequiredAcks: kafka.RequireAll, Balancer: &kafka.Murmur2Balancer{},
		BatchTimeout: time.Millisecond, BatchSize: 10000, Transport: tr}
	defer w.Close()
	msgs := make([]kafka.Message, len(evs))
	for i := range evs {
		v, err := event.Marshal(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: []byte(evs[i].Session), Value: v}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// TestIngestOverTLSAndSASL: the consumer reads from a broker that speaks
// only TLS, with each SASL mechanism and with a client certificate.
func TestIngestOverTLSAndSASL(t *testing.T) {
	tests := []struct {
		name, mechanism string
		clientCerts     bool
	}{
		{"PLAIN", config.SASLPlain, false},
		{"SCRAM-SHA-256", config.SASLScramSHA256, false},
		{"SCRAM-SHA-512", config.SASLScramSHA512, false},
		{"client certificate", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, db := newDatabase(t, sharedServer(t))
			b := broker.StartSecureForTest(t, tt.mechanism, tt.clientCerts)
			evs, _ := workload("tls", 2, 1, 20)
			produceSecure(t, b, testTopic, evs)
			in := New(conn, Config{Brokers: []string{b.Addr()}, Topic: testTopic, Group: "ingest-" + db, BatchRows: 500,
				BatchInterval: 50 * time.Millisecond, Database: db, Logger: testLogger(t), TLS: b.TLS, SASL: b.SASL})
			startIngester(t, in)
			waitFor(t, "all events inserted", 60*time.Second, func() bool {
				return count(t, conn, "SELECT count() FROM "+db+".events") >= uint64(len(evs))
			})
		})
	}
}

// TestIngestRefused: a wrong password, an unknown CA and a missing client
// certificate stop Run at start with one line naming the setting.
func TestIngestRefused(t *testing.T) {
	other, err := testca.New("another CA")
	if err != nil {
		t.Fatal(err)
	}
	otherFiles, err := other.WriteFiles(t.TempDir(), "other")
	if err != nil {
		t.Fatal(err)
	}
	scram := broker.StartSecureForTest(t, config.SASLScramSHA256, false)
	mtls := broker.StartSecureForTest(t, "", true)
	tests := []struct {
		name string
		addr string
		tls  config.TLS
		sasl config.SASL
		want string
	}{
		{"wrong password", scram.Addr(), scram.TLS, config.SASL{Mechanism: config.SASLScramSHA256, Username: "foureyes", Password: "guess"}, "check kafka.sasl.username and kafka.sasl.password_file"},
		{"wrong CA", scram.Addr(), config.TLS{Enabled: true, CAFile: otherFiles.CA}, scram.SASL, "check kafka.tls.ca_file"},
		{"no client certificate", mtls.Addr(), config.TLS{Enabled: true, CAFile: mtls.CAFiles.CA}, config.SASL{}, "check kafka.tls.cert_file and kafka.tls.key_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := New(nil, Config{Brokers: []string{tt.addr}, Topic: testTopic, Logger: testLogger(t), TLS: tt.tls, SASL: tt.sasl})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			err := in.Run(ctx)
			if !errors.Is(err, transport.ErrRefused) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Run = %v; want one line, ErrRefused, naming %q", err, tt.want)
			}
		})
	}
}
