package transport

import (
	"strings"
	"testing"

	"github.com/foureyes/foureyes/config"
)

func TestPlaintextWarnings(t *testing.T) {
	tests := []struct {
		name    string
		kafka   config.Kafka
		ch      config.ClickHouse
		wantKey []string
	}{
		{"loopback plaintext", config.Kafka{Brokers: []string{"127.0.0.1:9092", "localhost:9092"}}, config.ClickHouse{Addr: "[::1]:9000"}, nil},
		{"remote plaintext", config.Kafka{Brokers: []string{"127.0.0.1:9092", "kafka-1:9092"}}, config.ClickHouse{Addr: "10.0.0.9:9000"}, []string{"kafka.tls is off", "clickhouse.tls is off"}},
		{"remote TLS", config.Kafka{Brokers: []string{"kafka-1:9093"}, TLS: config.TLS{Enabled: true}}, config.ClickHouse{Addr: "ch:9440", TLS: config.TLS{Enabled: true}}, nil},
		{"a name that only starts like loopback", config.Kafka{Brokers: []string{"127.0.0.1.example.org:9092"}}, config.ClickHouse{Addr: "localhost.example.org:9000"}, []string{"kafka.tls is off", "clickhouse.tls is off"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlaintextWarnings(&config.Config{Kafka: tt.kafka, ClickHouse: tt.ch})
			if len(got) != len(tt.wantKey) {
				t.Fatalf("PlaintextWarnings = %q; want %d lines", got, len(tt.wantKey))
			}
			for i, k := range tt.wantKey {
				if !strings.HasPrefix(got[i], k) {
					t.Errorf("line %d = %q; want it to start with %q", i, got[i], k)
				}
			}
		})
	}
}
