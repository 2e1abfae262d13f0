package query

import (
	"context"
	"fmt"
	"time"

	"github.com/foureyes/foureyes/ingest/retention"
)

// Hold places a hold on session id on behalf of by, keeping it beyond its
// retention class until until (zero: the longest retention.max_hold
// allows). It returns ErrNotFound (or *ExpiredError) for an absent session
// and the retention package's errors for a refused hold: no reason, no
// author, an until in the past or too far.
func (s *Store) Hold(ctx context.Context, id, by, reason string, until, now time.Time) (retention.Hold, error) {
	sess, err := s.Session(ctx, id)
	if err != nil {
		return retention.Hold{}, err
	}
	h, err := retention.PlaceHold(ctx, s.holdsWriter(), retention.HoldRequest{
		Session: id, By: by, Reason: reason, Until: until,
		Class: sess.Class, RetentionDays: sess.RetentionDays, Started: sess.Started, MaxHold: s.maxHold,
	}, now)
	if err != nil {
		return h, fmt.Errorf("query: hold %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "hold placed", "session", id, "by", by, "until", h.Until, "reason", h.Reason)
	return h, nil
}

// Release acts on the active holds of session id on behalf of by, with
// four eyes on someone else's hold (retention.ReleaseHolds): by's own
// holds end, others get a release request or, when a different auditor
// asked, the confirmation that ends them. The held copy of a session
// whose holds all ended is deleted by the next retention run.
func (s *Store) Release(ctx context.Context, id, by string, now time.Time) ([]retention.Hold, error) {
	hs, err := retention.ReleaseHolds(ctx, s.holdsWriter(), id, by, now)
	if err != nil {
		return hs, fmt.Errorf("query: release %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "hold released", "session", id, "by", by, "holds", len(hs))
	return hs, nil
}

// Holds returns the holds active at now, or all holds ever placed.
func (s *Store) Holds(ctx context.Context, now time.Time, all bool) ([]retention.Hold, error) {
	hs, err := retention.ListHolds(ctx, s.conn, now, all)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return hs, nil
}
