package ingest

import "errors"

// Errors callers act on.
var (
	// ErrConfig wraps every problem with a Config or config.ClickHouse
	// value; the message names the field and the fix.
	ErrConfig = errors.New("ingest: invalid configuration")
	// ErrMigration wraps a failed schema migration. Migrate is idempotent:
	// fix the cause (usually permissions or an unreachable server) and run
	// it again.
	ErrMigration = errors.New("ingest: migration failed")
	// ErrRunning is returned by Run when the Ingester is already running.
	ErrRunning = errors.New("ingest: Run called while already running")
)
