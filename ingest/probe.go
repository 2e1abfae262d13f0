package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foureyes/foureyes/transport"
)

// probeTimeout bounds the start-up check of each broker.
const probeTimeout = 10 * time.Second

// probe connects to the brokers once, as the consumer will, so that a
// refused password or an unknown certificate authority stops Run at
// start with one line naming the setting, instead of being retried and
// logged forever. An unreachable broker is not an error here: the
// consumer waits for it.
func (in *Ingester) probe(ctx context.Context) error {
	sec, _ := transport.KafkaSecurity(in.cfg.TLS, in.cfg.SASL) // validated
	err := sec.Probe(ctx, in.cfg.Brokers, probeTimeout)
	switch {
	case errors.Is(err, transport.ErrRefused):
		return fmt.Errorf("ingest: %w", err)
	case err != nil:
		in.log.Warn("no kafka broker answers yet; the consumer keeps trying", "err", err)
	}
	return nil
}
