package recorder

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/foureyes/foureyes/event"
)

// Config configures a Recorder. The zero value of every field except
// SpoolDir selects its default, the same defaults as config.Gateway.
type Config struct {
	// Gateway is the gateway id written into every event. Default: the
	// machine's hostname.
	Gateway string
	// SpoolDir holds the spool segments and the ack watermark; created
	// with mode 0700 if missing. Required.
	SpoolDir string
	// SpoolMaxBytes caps the spool on disk. At the limit appends fail with
	// ErrSpoolFull. Default: 1 GiB.
	SpoolMaxBytes int64
	// SyncInterval is the longest time an appended event waits for fsync
	// (group commit). Default: 50ms; at most 100ms.
	SyncInterval time.Duration
	// ChunkBytes bounds an output chunk. Default: 16384; 256..1048576.
	ChunkBytes int
	// BulkChunkBytes bounds an output chunk under bulk output: each chunk
	// that fills to its bound before ChunkInterval doubles the bound of
	// the next, up to BulkChunkBytes; a chunk cut by the timer or by
	// another event resets it to ChunkBytes. Interactive output (cut by
	// the timer) keeps ChunkBytes; `cat big.log` becomes a few large
	// events instead of many small ones, each with its own header, hash
	// chain step, Kafka record and ClickHouse row. Default: 262144 when
	// ChunkBytes is at least its default (but at most SessionShareMin/16,
	// so a pending chunk stays small next to a session's share of the
	// spool), else ChunkBytes (a small ChunkBytes asks for fine-grained
	// events and gets them); ChunkBytes..MaxEventData.
	BulkChunkBytes int
	// ChunkInterval bounds how long the first byte of an output chunk
	// waits before the chunk is cut. Default: 20ms.
	ChunkInterval time.Duration
	// Logger receives the recorder's logs. Default: slog.Default().
	Logger *slog.Logger

	// Signer, when set, signs every stream's chain (seal.go). Default:
	// nil, no signatures.
	Signer *event.Signer
	// SealEvery and SealInterval: a chain.seal is written after SealEvery
	// events, or SealInterval after an unsigned event. Defaults: 1000, 10s.
	SealEvery    int
	SealInterval time.Duration
	// AnchorFile keeps the last sealed point of the gateway's own stream
	// for the next one to name. Default: none.
	AnchorFile string

	// Backpressure (backpressure.go). A session's fair share of the spool
	// is max(SessionShareMin, SpoolMaxBytes/2 / open sessions); its
	// output is held back (Session.WaitOutput) while its events not yet
	// acknowledged by Kafka fill its share, and resumes when they are at
	// most LowWaterPercent of it. A held-back session fails with
	// ErrSpoolFull only when Kafka acknowledged nothing for StallTimeout
	// (at once when nothing publishes): an outage, not a fast session.
	// Defaults: SpoolMaxBytes/16 but at most 16 MiB; 50 (10..90); 30s.
	SessionShareMin int64
	LowWaterPercent int
	StallTimeout    time.Duration
}

// Limits that are not configurable.
const (
	// MaxEventData is the largest Data of a single event. Input larger
	// than this is split into several input events; Record refuses it
	// with ErrTooLarge. It keeps every spool record and Kafka message well
	// below Kafka's default message.max.bytes (1 MB).
	MaxEventData = 256 << 10

	defaultSpoolMaxBytes  = 1 << 30
	defaultSyncInterval   = 50 * time.Millisecond
	maxSyncInterval       = 100 * time.Millisecond
	defaultChunkBytes     = 16 << 10
	defaultChunkInterval  = 20 * time.Millisecond
	defaultBulkChunkBytes = 256 << 10
	defaultSegmentBytes   = 16 << 20
	maxShareMin           = 16 << 20
	defaultLowWater       = 50
	defaultStallTimeout   = 30 * time.Second
	minSegmentBytes       = 4 << 10
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Gateway == "" {
		if h, err := os.Hostname(); err == nil {
			c.Gateway = h
		} else {
			c.Gateway = "gateway"
		}
	}
	if c.SpoolMaxBytes == 0 {
		c.SpoolMaxBytes = defaultSpoolMaxBytes
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = defaultSyncInterval
	}
	if c.ChunkBytes == 0 {
		c.ChunkBytes = defaultChunkBytes
	}
	if c.ChunkInterval == 0 {
		c.ChunkInterval = defaultChunkInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.SealEvery == 0 {
		c.SealEvery = 1000
	}
	if c.SealInterval == 0 {
		c.SealInterval = 10 * time.Second
	}
	if c.SessionShareMin == 0 {
		c.SessionShareMin = min(maxShareMin, c.SpoolMaxBytes/16)
	}
	if c.BulkChunkBytes == 0 {
		// A pending chunk is output not yet in the spool: keep it small
		// next to a session's share of the spool (backpressure.go).
		c.BulkChunkBytes = c.ChunkBytes
		if c.ChunkBytes >= defaultChunkBytes {
			c.BulkChunkBytes = max(c.ChunkBytes, min(defaultBulkChunkBytes, int(c.SessionShareMin/16)))
		}
	}
	if c.LowWaterPercent == 0 {
		c.LowWaterPercent = defaultLowWater
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = defaultStallTimeout
	}
	return c
}

// validate reports the first invalid field of a defaulted Config.
func (c Config) validate() error {
	switch {
	case c.SpoolDir == "":
		return fmt.Errorf("%w: SpoolDir is empty; set gateway.spool_dir or gateway.data_dir", ErrConfig)
	case c.SpoolMaxBytes < 0:
		return fmt.Errorf("%w: SpoolMaxBytes is %d; use a positive size", ErrConfig, c.SpoolMaxBytes)
	case c.SyncInterval < 0 || c.SyncInterval > maxSyncInterval:
		return fmt.Errorf("%w: SyncInterval is %v; use a value in (0, %v]", ErrConfig, c.SyncInterval, maxSyncInterval)
	case c.ChunkBytes < 256 || c.ChunkBytes > 1<<20:
		return fmt.Errorf("%w: ChunkBytes is %d; use a value between 256 and 1048576", ErrConfig, c.ChunkBytes)
	case c.BulkChunkBytes < c.ChunkBytes || c.BulkChunkBytes > max(c.ChunkBytes, MaxEventData):
		return fmt.Errorf("%w: BulkChunkBytes is %d; use a value between ChunkBytes (%d) and %d", ErrConfig, c.BulkChunkBytes, c.ChunkBytes, max(c.ChunkBytes, MaxEventData))
	case c.ChunkInterval < 0:
		return fmt.Errorf("%w: ChunkInterval is %v; use a positive duration", ErrConfig, c.ChunkInterval)
	case len(c.Gateway) > 255:
		return fmt.Errorf("%w: Gateway id is %d bytes; use at most 255", ErrConfig, len(c.Gateway))
	case c.SessionShareMin < 0 || c.SessionShareMin > c.SpoolMaxBytes/2:
		return fmt.Errorf("%w: SessionShareMin is %d; use a value between 0 and SpoolMaxBytes/2 (%d)", ErrConfig, c.SessionShareMin, c.SpoolMaxBytes/2)
	case c.LowWaterPercent < 10 || c.LowWaterPercent > 90:
		return fmt.Errorf("%w: LowWaterPercent is %d; use a value between 10 and 90", ErrConfig, c.LowWaterPercent)
	case c.StallTimeout < 0:
		return fmt.Errorf("%w: StallTimeout is %v; use a positive duration", ErrConfig, c.StallTimeout)
	}
	return c.validateSealing()
}
