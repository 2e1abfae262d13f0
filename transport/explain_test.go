package transport

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/config"
)

// TestExplainClickHouse covers the codes of both 18.16 (tested live in
// ingest) and current releases (AUTHENTICATION_FAILED, ACCESS_DENIED),
// which cannot run here.
func TestExplainClickHouse(t *testing.T) {
	ch := config.ClickHouse{Username: "default", Audit: config.Credentials{Username: "auditor"}}.As(config.RoleAudit)
	ex := func(code int32) error { return fmt.Errorf("ping: %w", &clickhouse.Exception{Code: code, Message: "m"}) }
	tests := []struct {
		name string
		err  error
		want string // "" = returned unchanged
	}{
		{"unknown user (18.16)", ex(192), `check clickhouse.audit.username and its password (user "auditor")`},
		{"wrong password (18.16)", ex(193), "check clickhouse.audit.username"},
		{"password required", ex(194), "check clickhouse.audit.username"},
		{"authentication failed (current)", ex(516), "check clickhouse.audit.username"},
		{"address not allowed", ex(195), "<networks>"},
		{"readonly", ex(164), "lacks the grant"},
		{"database access denied (18.16)", ex(291), "lacks the grant"},
		{"access denied (current)", ex(497), "lacks the grant"},
		{"hung up in the handshake", fmt.Errorf("handshake: %w", io.EOF), "may lack the grant on database"},
		{"syntax error", ex(62), ""},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ExplainClickHouse(tt.err, ch)
			if tt.want == "" {
				if got != tt.err {
					t.Fatalf("ExplainClickHouse = %v; want the error unchanged", got)
				}
				return
			}
			if !errors.Is(got, ErrRefused) || !errors.Is(got, tt.err) && !errors.Is(got, io.EOF) || !strings.Contains(got.Error(), tt.want) {
				t.Fatalf("ExplainClickHouse = %v; want ErrRefused wrapping the error, naming %q", got, tt.want)
			}
			if again := ExplainClickHouse(got, ch); again != got {
				t.Errorf("explained twice: %v", again)
			}
		})
	}
}

func TestExplainKafka(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("auth: %w", kafka.SASLAuthenticationFailed), "check kafka.sasl.username and kafka.sasl.password_file"},
		{fmt.Errorf("handshake: %w", kafka.UnsupportedSASLMechanism), "check kafka.sasl.mechanism"},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), ""},
		{nil, ""},
	}
	for _, tt := range tests {
		got := ExplainKafka(tt.err)
		if tt.want == "" {
			if got != tt.err {
				t.Errorf("ExplainKafka(%v) = %v; want it unchanged", tt.err, got)
			}
			continue
		}
		if !errors.Is(got, ErrRefused) || !errors.Is(got, tt.err) || !strings.Contains(got.Error(), tt.want) {
			t.Errorf("ExplainKafka(%v) = %v; want ErrRefused naming %q", tt.err, got, tt.want)
		}
	}
}

// TestKafkaSecurity: SASL settings become kafka-go mechanisms; an unknown
// mechanism and an unreadable CA are errors naming the key.
func TestKafkaSecurity(t *testing.T) {
	for _, m := range []string{config.SASLPlain, config.SASLScramSHA256, config.SASLScramSHA512} {
		k, err := KafkaSecurity(config.TLS{}, config.SASL{Mechanism: m, Username: "u", Password: "p"})
		if err != nil || k.SASL == nil || k.SASL.Name() != m || k.TLS != nil {
			t.Errorf("%s: %+v, %v; want the %s mechanism and no TLS", m, k, err, m)
		}
	}
	if _, err := KafkaSecurity(config.TLS{}, config.SASL{Mechanism: "GSSAPI"}); err == nil || !strings.Contains(err.Error(), "kafka.sasl.mechanism") {
		t.Errorf("GSSAPI: %v; want an error naming kafka.sasl.mechanism", err)
	}
	if _, err := KafkaSecurity(config.TLS{Enabled: true, CAFile: "/nonexistent/ca.pem"}, config.SASL{}); err == nil || !strings.Contains(err.Error(), "kafka.tls.ca_file") {
		t.Errorf("missing CA: %v; want an error naming kafka.tls.ca_file", err)
	}
	k, err := KafkaSecurity(config.TLS{Enabled: true}, config.SASL{})
	if err != nil || k.TLS == nil || k.TLS.InsecureSkipVerify || k.TLS.MinVersion < 0x0303 {
		t.Errorf("TLS with system roots: %+v, %v; want verification on, TLS 1.2 or later", k.TLS, err)
	}
}
