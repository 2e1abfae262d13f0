package transport

import (
	"crypto/tls"
	"fmt"

	"github.com/foureyes/foureyes/config"
)

// ClientTLS returns the client TLS configuration of t, or nil when TLS is
// off. key is the section's YAML key ("kafka.tls"), used in errors. The
// server's certificate is always verified, against t.CAFile or the
// system's roots; TLS 1.2 is the oldest version accepted.
func ClientTLS(t config.TLS, key string) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pool, err := config.LoadCAFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("transport: %s.ca_file: %w", key, err)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		if _, err := config.ReadSecretFile(t.KeyFile); err != nil {
			return nil, fmt.Errorf("transport: %s.key_file: %w", key, err)
		}
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("transport: %s.cert_file and key_file: %w", key, err)
		}
		c.Certificates = []tls.Certificate{pair}
	}
	return c, nil
}
