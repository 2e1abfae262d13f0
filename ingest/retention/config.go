package retention

import (
	"io"
	"log/slog"
	"time"

	"github.com/foureyes/foureyes/config"
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
