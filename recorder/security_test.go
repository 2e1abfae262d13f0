package recorder

import (
	"context"
	"errors"
	"log/slog"
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

// readSecure reads topic's partition 0 through a dialer with the given
// security until a session.end arrives.
func readSecure(t *testing.T, addr, topic string, tlsc config.TLS, sasl config.SASL) []consumed {
	t.Helper()
	sec, err := transport.KafkaSecurity(tlsc, sasl)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: 0, MaxWait: 50 * time.Millisecond, Dialer: sec.Dialer("test", 10*time.Second)})
	defer rd.Close()
	var out []consumed
	for {
		m, err := rd.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		var e event.Event
		if err := event.Unmarshal(m.Value, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, consumed{key: string(m.Key), time: m.Time, ev: e})
		if e.Type == event.SessionEnd {
			return out
		}
	}
}

// TestPublishOverTLSAndSASL: the gateway's producer reaches a broker that
// speaks only TLS, with each SASL mechanism and with a client
// certificate, and the events arrive whole.
func TestPublishOverTLSAndSASL(t *testing.T) {
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
			b := broker.StartSecureForTest(t, tt.mechanism, tt.clientCerts)
			r := openTest(t, testConfig(t), options{})
			publish(t, r, PublisherConfig{Brokers: []string{b.Addr()}, Topic: "events", Partitions: 1, TLS: b.TLS, SASL: b.SASL})
			s, _ := r.Start(StartInfo{User: "alice"})
			s.End(0, nil)
			drain(t, r)
			if n := len(checkStreams(t, readSecure(t, b.Addr(), "events", b.TLS, b.SASL), true)); n != 1 {
				t.Errorf("%d sessions in Kafka; want 1", n)
			}
		})
	}
}

// TestPublishRefused: a wrong password, a CA that did not sign the
// broker's certificate, a missing client certificate and plain TLS to a
// plaintext broker each fail with one line naming the setting to fix.
func TestPublishRefused(t *testing.T) {
	other, err := testca.New("another CA")
	if err != nil {
		t.Fatal(err)
	}
	otherFiles, err := other.WriteFiles(t.TempDir(), "other")
	if err != nil {
		t.Fatal(err)
	}
	scram := broker.StartSecureForTest(t, config.SASLScramSHA512, false)
	mtls := broker.StartSecureForTest(t, "", true)
	plain := startBroker(t, "127.0.0.1:0", "")
	tests := []struct {
		name string
		addr string
		tls  config.TLS
		sasl config.SASL
		want string
	}{
		{"wrong password", scram.Addr(), scram.TLS, config.SASL{Mechanism: config.SASLScramSHA512, Username: "foureyes", Password: "guess"}, "check kafka.sasl.username and kafka.sasl.password_file"},
		{"unknown user", scram.Addr(), scram.TLS, config.SASL{Mechanism: config.SASLScramSHA512, Username: "mallory", Password: "s3cret-kafka"}, "check kafka.sasl.username"},
		{"other SCRAM variant", scram.Addr(), scram.TLS, config.SASL{Mechanism: config.SASLScramSHA256, Username: "foureyes", Password: "s3cret-kafka"}, "kafka.sasl"},
		{"wrong CA", scram.Addr(), config.TLS{Enabled: true, CAFile: otherFiles.CA}, scram.SASL, "check kafka.tls.ca_file"},
		{"system roots", scram.Addr(), config.TLS{Enabled: true}, scram.SASL, "check kafka.tls.ca_file"},
		{"wrong server name", scram.Addr(), config.TLS{Enabled: true, CAFile: scram.CAFiles.CA, ServerName: "kafka.example.org"}, scram.SASL, "check kafka.tls.server_name or kafka.brokers"},
		{"no client certificate", mtls.Addr(), config.TLS{Enabled: true, CAFile: mtls.CAFiles.CA}, config.SASL{}, "check kafka.tls.cert_file and kafka.tls.key_file"},
		{"client certificate of another CA", mtls.Addr(), config.TLS{Enabled: true, CAFile: mtls.CAFiles.CA, CertFile: otherFiles.Cert, KeyFile: otherFiles.Key}, config.SASL{}, "check kafka.tls.cert_file and kafka.tls.key_file"},
		{"TLS to a plaintext broker", plain.Addr(), scram.TLS, config.SASL{}, "check kafka.tls.enabled and kafka.brokers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := EnsureTopic(ctx, PublisherConfig{Brokers: []string{tt.addr}, Topic: "events", TLS: tt.tls, SASL: tt.sasl}, testLogger(t))
			if !errors.Is(err, transport.ErrRefused) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("EnsureTopic = %v; want ErrRefused naming %q", err, tt.want)
			}
			t.Log(err)
			if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q is not one line or shows the password", err)
			}
		})
	}

	t.Run("publisher logs the refusal as an error", func(t *testing.T) {
		h := &logCapture{}
		cfg := testConfig(t)
		cfg.Logger = slog.New(h)
		r := openTest(t, cfg, options{})
		publish(t, r, PublisherConfig{Brokers: []string{scram.Addr()}, Topic: "events", TLS: scram.TLS,
			SASL: config.SASL{Mechanism: config.SASLScramSHA512, Username: "foureyes", Password: "guess"}})
		waitLog(t, h, "kafka refused the gateway")
	})
}

// waitLog waits until an error record containing msg is logged; the
// timeout bounds a hang, it asserts nothing about speed.
func waitLog(t *testing.T, h *logCapture, msg string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !h.has(slog.LevelError, msg) {
		if time.Now().After(deadline) {
			t.Fatalf("no error log %q", msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
