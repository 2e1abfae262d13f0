package query

import (
	"context"
	"fmt"
	"time"

	"github.com/foureyes/foureyes/ingest/retention"
)

// PlacedHold is a hold just placed, as stored, with what the auditor
// must know of its bounds.
type PlacedHold struct {
	retention.Hold
	// Unverified says why the recording could not authenticate the
	// session's class, retention or start; the hold's bounds then come
	// from the longest configured class from today. Empty otherwise.
	Unverified string
}

// Hold places a hold on session id on behalf of by, keeping it beyond its
// retention class until until (zero: the longest retention.max_hold
// allows). The bounds come from the recording (holdBasis), never from the
// sessions row. It returns ErrNotFound (or *ExpiredError) for an absent
// session, ErrUnverifiedHold when nothing bounds the hold, and the
// retention package's errors for a refused hold: no reason, no author, an
// until in the past or too far.
func (s *Store) Hold(ctx context.Context, id, by, reason string, until, now time.Time) (PlacedHold, error) {
	b, err := s.holdBasis(ctx, id, now)
	if err != nil {
		return PlacedHold{}, fmt.Errorf("query: hold %s: %w", id, err)
	}
	h, err := retention.PlaceHold(ctx, s.holdsWriter(), retention.HoldRequest{
		Session: id, By: by, Reason: reason, Until: until,
		Class: b.class, RetentionDays: b.days, Started: b.started, MaxHold: s.maxHold,
	}, now)
	if err != nil {
		return PlacedHold{Hold: h}, fmt.Errorf("query: hold %s: %w", id, err)
	}
	if b.unverified != "" {
		s.log.WarnContext(ctx, "hold bounded by the longest class: the recording does not authenticate the session's class",
			"session", id, "class", b.class, "retention_days", b.days, "why", b.unverified)
	}
	s.log.InfoContext(ctx, "hold placed", "session", id, "by", by, "until", h.Until, "reason", h.Reason)
	return PlacedHold{Hold: h, Unverified: b.unverified}, nil
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
