// Package transport turns the tls and sasl sections of the configuration
// into the settings of the clients that carry events: kafka-go's Dialer
// (ingest's consumer) and Transport (the gateway's producer), and the
// *tls.Config of clickhouse-go. It also explains the failures these
// settings cause — an unknown certificate authority, a refused password —
// with the key to fix, so that operators read one line, not a stack of
// wrapped errors.
//
// It sits beside config, below recorder and ingest: it imports config and
// the client libraries, nothing of foureyes above them.
package transport
