package recorder

import (
	"log/slog"
	"path/filepath"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
)

// FromConfig returns the recorder settings of the gateway section of c.
func FromConfig(c *config.Config, logger *slog.Logger) Config {
	return Config{
		Gateway:         c.Gateway.ID,
		SpoolDir:        c.Gateway.SpoolDir,
		SpoolMaxBytes:   c.Gateway.SpoolMaxBytes,
		SyncInterval:    c.Gateway.SpoolSyncInterval,
		ChunkBytes:      c.Gateway.ChunkBytes,
		ChunkInterval:   c.Gateway.ChunkInterval,
		SessionShareMin: c.Gateway.SpoolShareMinBytes,
		LowWaterPercent: c.Gateway.SpoolLowWaterPercent,
		StallTimeout:    c.Gateway.SpoolStallTimeout,
		Logger:          logger,
		SealEvery:       c.Signing.SealEvery,
		SealInterval:    c.Signing.SealInterval,
		AnchorFile:      anchorFile(c),
	}
}

// SignerFromConfig loads (or creates) the signing key of
// signing.key_file and returns its Signer.
func SignerFromConfig(c *config.Config) (*event.Signer, error) {
	key, err := LoadSigningKey(c.Signing.KeyFile)
	if err != nil {
		return nil, err
	}
	return event.NewSigner(key), nil
}

// anchorFile is where the gateway keeps the last sealed point of its own
// stream: DATA_DIR/gateway_anchor.json.
func anchorFile(c *config.Config) string {
	if c.Gateway.DataDir == "" {
		return ""
	}
	return filepath.Join(c.Gateway.DataDir, "gateway_anchor.json")
}

// PublisherFromConfig returns the publisher settings of the kafka section of c.
func PublisherFromConfig(c *config.Config) PublisherConfig {
	return PublisherConfig{
		Brokers:           c.Kafka.Brokers,
		Topic:             c.Kafka.Topic,
		Partitions:        c.Kafka.Partitions,
		ReplicationFactor: c.Kafka.ReplicationFactor,
		RetentionHours:    c.Kafka.RetentionHours,
		BatchTimeout:      c.Kafka.BatchTimeout,
		TLS:               c.Kafka.TLS,
		SASL:              c.Kafka.SASL,
	}
}
