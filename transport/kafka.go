package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/foureyes/foureyes/config"
)

// Kafka is the security of a Kafka connection: TLS and SASL, each nil
// when off.
type Kafka struct {
	TLS  *tls.Config
	SASL sasl.Mechanism
}

// KafkaSecurity returns the TLS configuration and SASL mechanism of the
// kafka section's tls and sasl keys.
func KafkaSecurity(t config.TLS, s config.SASL) (Kafka, error) {
	var k Kafka
	var err error
	if k.TLS, err = ClientTLS(t, "kafka.tls"); err != nil {
		return Kafka{}, err
	}
	if k.SASL, err = kafkaSASL(s); err != nil {
		return Kafka{}, err
	}
	return k, nil
}

// kafkaSASL returns the mechanism of s, or nil when SASL is off.
func kafkaSASL(s config.SASL) (sasl.Mechanism, error) {
	switch s.Mechanism {
	case "":
		return nil, nil
	case config.SASLPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case config.SASLScramSHA256, config.SASLScramSHA512:
		algo := scram.SHA256
		if s.Mechanism == config.SASLScramSHA512 {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, s.Username, s.Password)
		if err != nil {
			return nil, fmt.Errorf("transport: kafka.sasl.username and password: %w", err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("transport: kafka.sasl.mechanism %q: use %s, %s or %s", s.Mechanism, config.SASLScramSHA512, config.SASLScramSHA256, config.SASLPlain)
}

// Dialer returns a kafka-go Dialer (for Readers) with k's security.
func (k Kafka) Dialer(clientID string, timeout time.Duration) *kafka.Dialer {
	return &kafka.Dialer{ClientID: clientID, Timeout: timeout, DualStack: true, TLS: k.TLS, SASLMechanism: k.SASL}
}

// Transport returns a kafka-go Transport (for Writers and Clients) with
// k's security.
func (k Kafka) Transport(clientID string, timeout, metadataTTL time.Duration) *kafka.Transport {
	return &kafka.Transport{ClientID: clientID, DialTimeout: timeout, MetadataTTL: metadataTTL, TLS: k.TLS, SASL: k.SASL}
}

// Probe connects to the brokers one after the other, as a client with k's
// security would, until one accepts. It returns nil when one does, an
// error wrapping ErrRefused (with the setting to fix) as soon as one
// refuses the credentials or TLS fails, and else the last error (no
// broker reachable). kafka-go's Client reports every such failure as
// "Broker Not Available"; Probe finds the reason.
func (k Kafka) Probe(ctx context.Context, brokers []string, timeout time.Duration) error {
	d := k.Dialer("foureyes-probe", timeout)
	var err error
	for _, b := range brokers {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		conn, derr := d.DialContext(pctx, "tcp", b)
		if derr == nil {
			// With TLS 1.3 a refused client certificate shows only at the
			// first read: ask the broker something.
			_ = conn.SetDeadline(time.Now().Add(timeout))
			_, derr = conn.ApiVersions()
			conn.Close()
		}
		if derr == nil {
			cancel()
			return nil
		}
		derr = ExplainKafka(derr)
		if k.TLS != nil && !errors.Is(derr, ErrRefused) && tcpAnswers(ctx, b, timeout) {
			derr = &refused{derr, "the broker accepts connections but not this TLS handshake; check kafka.tls.enabled and kafka.brokers (its TLS listener's port)"}
		}
		cancel()
		err = fmt.Errorf("kafka %s: %w", b, derr)
		if errors.Is(err, ErrRefused) {
			return err
		}
	}
	return err
}

// tcpAnswers reports whether addr accepts TCP connections.
func tcpAnswers(ctx context.Context, addr string, timeout time.Duration) bool {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
