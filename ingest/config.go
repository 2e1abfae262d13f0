package ingest

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/transport"
)

// Config configures an Ingester. Zero fields take the defaults written next
// to them; Brokers is required.
type Config struct {
	// Brokers are the Kafka seed addresses (host:port). Required.
	Brokers []string
	// Topic is the event topic. Default: foureyes.events.
	Topic string
	// Group is the consumer group; every ingest process of one deployment
	// uses the same group. Default: foureyes-ingest.
	Group string
	// BatchRows is the most events inserted at once. Default: 100000.
	BatchRows int
	// BatchBytes bounds the bytes of decoded events held in memory: the
	// batches being inserted, the batch being filled and the records
	// decoded ahead of it. A batch is
	// inserted when it reaches BatchRows or half of BatchBytes. Default:
	// 96 MiB: two batches of 100k small (200-byte) events fit with room
	// for the next one's first events, so the fetch keeps decoding while
	// both insert workers run; at 64 MiB the second batch filled the
	// budget and fetching stopped until the first was acknowledged (about
	// a fifth of the throughput, BENCHMARKS.md, "Ingest budget"). Every
	// INSERT makes a part per table and partition that ClickHouse merges
	// again later; at 20k-event batches the merges cost ClickHouse more
	// CPU than the inserts (BENCHMARKS.md, "Ingest CPU per event").
	BatchBytes int64
	// BatchInterval is the longest an event waits in memory before its
	// batch is inserted. Default: 1s, the rate of INSERTs ClickHouse
	// recommends; at 200ms a busy ingest cut batches of a fifth the size.
	BatchInterval time.Duration
	// SearchSessions bounds the sessions whose command reconstruction
	// ingest keeps in memory for the search tables; an evicted session is
	// rebuilt from its stored events when it goes on. Default: 4096.
	SearchSessions int
	// Classes maps each retention class to its days (retention.classes).
	// With it, an event whose class and retention_days are not a pair of
	// it, or whose time lies outside [now − the longest class − 1 day,
	// now + 1 day], goes to the rejected table: each distinct
	// (retention_days, day) is a partition of its own, and a forged one
	// is never dropped. Default: none, and neither is checked.
	Classes map[string]uint16
	// Database holds the tables written by Migrate. Default: foureyes.
	Database string
	// TLS and SASL secure the connections to the brokers (kafka.tls,
	// kafka.sasl). Default: off.
	TLS  config.TLS
	SASL config.SASL
	// Logger receives operational messages; narrow it for the component
	// (With("component", "ingest")) before passing it. Default: slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultTopic         = "foureyes.events"
	DefaultGroup         = "foureyes-ingest"
	DefaultBatchRows     = 100000
	DefaultBatchBytes    = 96 << 20
	DefaultBatchInterval = time.Second
	DefaultDatabase      = "foureyes"
)

// FromConfig returns the Config described by the kafka, clickhouse and
// ingest sections of c.
func FromConfig(c *config.Config, logger *slog.Logger) Config {
	return Config{
		Brokers:       c.Kafka.Brokers,
		Topic:         c.Kafka.Topic,
		Group:         c.Ingest.Group,
		BatchRows:     c.Ingest.BatchRows,
		BatchBytes:    c.Ingest.BatchBytes,
		BatchInterval: c.Ingest.BatchInterval,
		Classes:       classDays(c.Retention),
		Database:      c.ClickHouse.Database,
		TLS:           c.Kafka.TLS,
		SASL:          c.Kafka.SASL,
		Logger:        logger,
	}
}

// classDays returns the days of each class of r as the gateway stamps
// them on events (config.Config.RetentionDays), or nil for no classes.
func classDays(r config.Retention) map[string]uint16 {
	if len(r.Classes) == 0 {
		return nil
	}
	m := make(map[string]uint16, len(r.Classes))
	for name, d := range r.Classes {
		m[name] = uint16(d.Days())
	}
	return m
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.BatchRows <= 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.BatchInterval <= 0 {
		c.BatchInterval = DefaultBatchInterval
	}
	if c.SearchSessions <= 0 {
		c.SearchSessions = DefaultSearchSessions
	}
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate reports the first problem of a defaulted Config.
func (c Config) validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("%w: Brokers is empty; set kafka.brokers to host:port of the cluster", ErrConfig)
	}
	if !config.IsSQLIdentifier(c.Database) {
		return fmt.Errorf("%w: Database %q: use letters, digits and underscores", ErrConfig, c.Database)
	}
	if _, err := transport.KafkaSecurity(c.TLS, c.SASL); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// dialer returns the consumer's Dialer, secured as configured (validate
// has checked that it can be).
func (c Config) dialer() *kafka.Dialer {
	sec, _ := transport.KafkaSecurity(c.TLS, c.SASL)
	d := sec.Dialer("foureyes-ingest", 10*time.Second)
	d.DialFunc = dialReadAhead // under TLS, if any (readahead.go)
	return d
}
