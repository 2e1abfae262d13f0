package query

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/event"
)

// Store answers auditor questions from the ClickHouse tables written by
// ingest. It is safe for concurrent use.
type Store struct {
	conn   driver.Conn
	log    *slog.Logger
	expiry ExpiryLookup
	// classes (name → days) and maxHold come from WithRetention.
	classes map[string]int
	maxHold time.Duration
	// holds writes holds when set (WithHoldsConn); conn reads.
	holds driver.Conn
	// keys are the trusted signing keys (WithTrustedKeys).
	keys *event.Keyring
	// local reports the newest point the gateway running this store sealed
	// in its own stream (WithLocalAnchor); nil when none is known.
	local LocalAnchor
	// onPage, set by tests, is called after each page a walk reads.
	onPage func(rows int)
	// now is the clock (time.Now; tests fix it).
	now func() time.Time
}

// ExpiryLookup reports when the recording of a session that no longer
// exists was removed by retention (ok false when nothing is known). The
// retention code provides it; without one, a missing session is simply
// ErrNotFound.
type ExpiryLookup func(ctx context.Context, id string) (expired time.Time, ok bool, err error)

// Option configures a Store.
type Option func(*Store)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l.With("component", "query")
		}
	}
}

// WithExpiryLookup makes lookups of absent sessions return *ExpiredError
// when lookup knows the session expired. Without it the Store reads the
// expired_sessions table the retention job fills.
func WithExpiryLookup(lookup ExpiryLookup) Option {
	return func(s *Store) { s.expiry = lookup }
}

// LocalAnchor reports the newest point of the gateway's own stream that
// the process serving the queries sealed — stream id, seq, hash — and
// when; ok is false when there is none yet (recorder.GatewayAnchor).
type LocalAnchor func() (stream string, seq uint64, hash event.Hash, at time.Time, ok bool)

// WithLocalAnchor lets VerifyWindow check the newest sealed point of the
// serving gateway's own stream against the database. No anchor in the
// database names the current gateway stream until the next one starts,
// so without this a database writer could delete it, and the sessions it
// records, unnoticed until a restart.
func WithLocalAnchor(a LocalAnchor) Option {
	return func(s *Store) { s.local = a }
}

// WithTrustedKeys sets the public keys whose signatures verify
// recordings: signing.trusted_keys and the gateway's own key. Without
// any, every recording is reported as not signed by a trusted key.
func WithTrustedKeys(keys ...ed25519.PublicKey) Option {
	return func(s *Store) {
		for _, k := range keys {
			s.keys.Add(k)
		}
	}
}

// NewStore returns a Store reading through conn, whose default database
// holds the events and sessions tables.
func NewStore(conn driver.Conn, opts ...Option) *Store {
	s := &Store{conn: conn, log: slog.New(slog.NewTextHandler(io.Discard, nil)), keys: event.NewKeyring(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}
