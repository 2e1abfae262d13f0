// Package broker runs an embedded Kafka-protocol broker (kfake) for
// `foureyes dev`, `foureyes broker` and the tests. It speaks the real Kafka
// wire protocol over TCP, so the same kafka-go code talks to it and to a
// Kafka cluster. With a data directory it keeps topics, records and
// committed offsets across restarts.
package broker

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a running single-node broker.
type Broker struct {
	c    *kfake.Cluster
	addr string
}

// Option secures a broker.
type Option func(*[]kfake.Opt)

// WithTLS makes the broker speak TLS only, with the server configuration
// c (which may require client certificates).
func WithTLS(c *tls.Config) Option {
	return func(o *[]kfake.Opt) { *o = append(*o, kfake.TLS(c)) }
}

// WithSASL makes the broker require SASL and adds a user with the given
// mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512); give it once per
// user. Without it any client may connect.
func WithSASL(mechanism, user, password string) Option {
	return func(o *[]kfake.Opt) {
		*o = append(*o, kfake.EnableSASL(), kfake.Superuser(mechanism, user, password))
	}
}

// Start listens on addr ("127.0.0.1:0" picks a port) and persists to
// dataDir when it is not empty. Topics are not auto-created: producers
// create them with explicit configs, as against a real cluster.
func Start(addr, dataDir string, options ...Option) (*Broker, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("broker: address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("broker: port %q: %w", portStr, err)
	}
	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, portStr))
		}),
		kfake.GroupMinSessionTimeout(time.Second),
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir), kfake.SyncWrites())
	}
	for _, o := range options {
		o(&opts)
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		c.Close()
		return nil, fmt.Errorf("broker: no listener")
	}
	return &Broker{c: c, addr: addrs[0]}, nil
}

// Addr returns host:port of the broker.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker, flushing persisted state.
func (b *Broker) Close() { b.c.Close() }
