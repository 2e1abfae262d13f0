package query

import (
	"context"
	"fmt"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/ingest/retention"
)

// WithRetention gives the Store the retention section of the
// configuration: the class names shown by `audit retention` and the
// longest hold (retention.max_hold). Without it, class names come from the
// data and holds are capped at retention.DefaultMaxHold.
func WithRetention(r config.Retention) Option {
	return func(s *Store) {
		s.classes = make(map[string]int, len(r.Classes))
		for name, d := range r.Classes {
			s.classes[name] = d.Days()
		}
		s.maxHold = time.Duration(r.MaxHold)
	}
}

// expired looks session id up in expired_sessions, which the retention
// job fills before it drops a session's partitions.
func (s *Store) expired(ctx context.Context, id string) (*ExpiredError, bool, error) {
	var (
		n     uint64
		at    time.Time
		class string
	)
	err := s.conn.QueryRow(ctx, "SELECT count(), max(expired_at), argMax(class, expired_at) FROM expired_sessions WHERE session = ?", id).Scan(&n, &at, &class)
	if err != nil {
		return nil, false, fmt.Errorf("query: expiry of %s: %w", id, err)
	}
	if n == 0 {
		return nil, false, nil
	}
	return &ExpiredError{ID: id, Expired: at, Class: class}, true, nil
}

// RetentionStatus returns the retention status at now: per class the
// oldest data and the next drop, the active holds and the last drop.
func (s *Store) RetentionStatus(ctx context.Context, now time.Time) (retention.Status, error) {
	st, err := retention.ReadStatus(ctx, s.conn, s.classes, now)
	if err != nil {
		return st, fmt.Errorf("query: %w", err)
	}
	return st, nil
}
