package transport

import (
	"net"
	"strings"

	"github.com/foureyes/foureyes/config"
)

// PlaintextWarnings returns one line for each connection of c that would
// carry recordings or credentials in clear beyond this machine: Kafka or
// ClickHouse without TLS to an address that is not loopback. The gateway
// and ingest log them at start; plaintext stays allowed for a private
// network the operator trusts.
func PlaintextWarnings(c *config.Config) []string {
	var out []string
	if !c.Kafka.TLS.Enabled {
		for _, b := range c.Kafka.Brokers {
			if !isLoopbackAddr(b) {
				out = append(out, "kafka.tls is off: events and the kafka.sasl password cross the network in clear to "+b+"; enable kafka.tls (docs/operations.md)")
				break
			}
		}
	}
	if !c.ClickHouse.TLS.Enabled && !isLoopbackAddr(c.ClickHouse.Addr) {
		out = append(out, "clickhouse.tls is off: recordings and the ClickHouse password cross the network in clear to "+c.ClickHouse.Addr+"; enable clickhouse.tls (docs/operations.md)")
	}
	return out
}

// isLoopbackAddr reports whether host:port names this machine.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
