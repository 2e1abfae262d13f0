package retention

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/keyfile"
)

// Config configures a Job. Zero fields take the defaults written next to
// them.
type Config struct {
	// Classes maps a class name to the days it keeps data. Partitions carry
	// only the days; the names label the log. Default: none (labels come
	// from the data).
	Classes map[string]int
	// Interval is the time between two runs of Run. Default: 1h.
	Interval time.Duration
	// Logger receives a line per drop and per run; narrow it before
	// passing it. Default: discard.
	Logger *slog.Logger
	// Signer signs the retention_log rows and chains them per key
	// (logchain.go); SignerFromConfig loads it. Default: none, the rows
	// are written unsigned and `audit verify` reports them as such.
	Signer *event.Signer
}

// SignerFromConfig returns the signer of the retention_log rows, with the
// key in retention.signing_key_file (created on first use).
func SignerFromConfig(c *config.Config) (*event.Signer, error) {
	path := c.Retention.SigningKeyFile
	if path == "" {
		return nil, fmt.Errorf("%w: retention.signing_key_file is empty; set it to a file only the ingest user can read", ErrConfig)
	}
	k, err := keyfile.Load(path)
	if err != nil {
		return nil, fmt.Errorf("retention: signing key (retention.signing_key_file): %w", err)
	}
	return event.NewSigner(k), nil
}

// DefaultInterval is the default Config.Interval.
const DefaultInterval = time.Hour

// DefaultMaxHold is the longest extension of a hold when
// retention.max_hold is not set.
const DefaultMaxHold = 14 * 24 * time.Hour

// FromConfig returns the Config described by the retention section of c.
func FromConfig(c *config.Config, logger *slog.Logger) Config {
	classes := make(map[string]int, len(c.Retention.Classes))
	for name, d := range c.Retention.Classes {
		classes[name] = d.Days()
	}
	return Config{Classes: classes, Interval: time.Duration(c.Retention.Interval), Logger: logger}
}

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}
