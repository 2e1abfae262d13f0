package retention

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Hold keeps one session beyond its retention class.
type Hold struct {
	Session  string
	PlacedBy string
	Placed   time.Time
	Reason   string
	Until    time.Time
	Class    string
	// ReleasedBy and Released are set when the hold was ended early: by
	// its own author alone, or (someone else's hold) on ReleasedBy's
	// request confirmed by ConfirmedBy, a different auditor
	// (releases.go).
	ReleasedBy  string
	ConfirmedBy string
	Released    time.Time
	// RequestedBy is set while a release of the hold waits for a second
	// auditor's confirmation.
	RequestedBy string
}

// Active reports whether h keeps its session at now. A release that is
// not valid — someone else's hold released by one auditor alone, as a
// database writer or an old version could record it — does not end it.
func (h Hold) Active(now time.Time) bool {
	return (h.Released.IsZero() || !h.validRelease()) && now.Before(h.Until)
}

// HoldRequest asks for a hold on a session. The session's facts must come
// from data the caller authenticated (query.Store.Hold): the summary row
// is a database writer's to choose.
type HoldRequest struct {
	Session string
	By      string // the auditor; required
	Reason  string // required: at least 10 characters, two words
	// Until is when the hold ends; zero asks for the longest allowed.
	Until time.Time
	// Class, RetentionDays and Started describe the session.
	Class         string
	RetentionDays int
	Started       time.Time
	// MaxHold is the longest extension beyond the class (retention.max_hold);
	// zero means DefaultMaxHold.
	MaxHold time.Duration
}

// minReason is the shortest reason accepted, after trimming.
const minReason = 10

// checkReason reports whether reason is comprehensible enough to record:
// at least minReason characters and two words of three letters or more.
func checkReason(reason string) error {
	r := strings.TrimSpace(reason)
	words := 0
	for _, w := range strings.FieldsFunc(r, func(c rune) bool { return !unicode.IsLetter(c) }) {
		if len([]rune(w)) >= 3 {
			words++
		}
	}
	if len([]rune(r)) < minReason || words < 2 {
		return ErrNoReason
	}
	return nil
}

// lastDateTime is the last time a DateTime column holds (UInt32 seconds);
// a later one wraps around to the 20th century.
var lastDateTime = time.Unix(1<<32-1, 0)

// PlaceHold records a hold at now and returns it as stored (Until in
// whole seconds). It refuses a request without an author (ErrNoIdentity)
// or reason (ErrNoReason), an Until not after now (ErrUntilPast) and one
// beyond the day the class would drop the session plus MaxHold, or beyond
// what holds.until can store (ErrHoldTooLong, whose message names the
// latest allowed time). The caller vouches for the session's Class,
// RetentionDays and Started: they bound the hold.
func PlaceHold(ctx context.Context, conn driver.Conn, req HoldRequest, now time.Time) (Hold, error) {
	if strings.TrimSpace(req.By) == "" {
		return Hold{}, ErrNoIdentity
	}
	if err := checkReason(req.Reason); err != nil {
		return Hold{}, err
	}
	if req.MaxHold <= 0 {
		req.MaxHold = DefaultMaxHold
	}
	loc, err := serverLocation(ctx, conn)
	if err != nil {
		return Hold{}, err
	}
	y, m, d := req.Started.In(loc).Date()
	drop := DropTime(time.Date(y, m, d, 0, 0, 0, 0, loc), req.RetentionDays)
	latest := drop.Add(req.MaxHold)
	limit := fmt.Sprintf("class %s keeps it until %s, plus max_hold %s", req.Class, drop.UTC().Format(time.RFC3339), days(req.MaxHold))
	if latest.After(lastDateTime) {
		latest, limit = lastDateTime, "the last time holds.until can store"
	}
	until := req.Until
	if until.IsZero() {
		until = latest
	}
	switch {
	case !until.After(now):
		return Hold{}, fmt.Errorf("%w: %s", ErrUntilPast, until.UTC().Format(time.RFC3339))
	case until.After(latest):
		return Hold{}, fmt.Errorf("%w: the latest allowed for this session is %s (%s)", ErrHoldTooLong, latest.UTC().Format(time.RFC3339), limit)
	}
	// Returned as stored: holds.until keeps whole seconds.
	until = time.Unix(until.Unix(), 0)
	h := Hold{Session: req.Session, PlacedBy: req.By, Placed: now, Reason: strings.TrimSpace(req.Reason), Until: until, Class: req.Class}
	if err := writeHold(ctx, conn, h, uint64(now.UnixNano())); err != nil {
		return Hold{}, err
	}
	return h, nil
}

// ReleaseHolds acts on every active hold of session at now on behalf of
// by, with four eyes on someone else's hold (releases.go): its own holds
// end at once; a hold placed by someone else gets a release request,
// which a different auditor's ReleaseHolds confirms, ending it. It
// returns the holds changed: Released set for those that ended,
// RequestedBy for those that now wait. Without an active hold it returns
// ErrNoHold; when every hold already waits for a second auditor and by
// is the one who asked, ErrSecondAuditor. The held copy of a session
// whose holds all ended is deleted by the next run of the Job.
func ReleaseHolds(ctx context.Context, conn driver.Conn, session, by string, now time.Time) ([]Hold, error) {
	by = strings.TrimSpace(by)
	if by == "" || strings.Contains(by, releaseSep) {
		return nil, ErrNoIdentity
	}
	all, err := holds(ctx, conn, "WHERE session = ?", session)
	if err != nil {
		return nil, err
	}
	var (
		out     []Hold
		waiting bool
	)
	for _, h := range all {
		if !h.Active(now) {
			continue
		}
		switch {
		case h.PlacedBy == by:
			h.Released, h.ReleasedBy, h.ConfirmedBy, h.RequestedBy = now, by, "", ""
		case h.RequestedBy == "":
			h.RequestedBy = by
			h.Released, h.ReleasedBy, h.ConfirmedBy = time.Time{}, "", ""
		case h.RequestedBy == by:
			waiting = true
			continue
		default:
			h.Released, h.ReleasedBy, h.ConfirmedBy, h.RequestedBy = now, h.RequestedBy, by, ""
		}
		if err := writeHold(ctx, conn, h, uint64(now.UnixNano())); err != nil {
			return out, err
		}
		out = append(out, h)
	}
	switch {
	case len(out) > 0:
		return out, nil
	case waiting:
		return nil, fmt.Errorf("%w: session %s", ErrSecondAuditor, session)
	}
	return nil, fmt.Errorf("%w on session %s", ErrNoHold, session)
}

// ListHolds returns the holds active at now, or every hold ever placed
// when all is set, ordered by session and time placed.
func ListHolds(ctx context.Context, conn driver.Conn, now time.Time, all bool) ([]Hold, error) {
	list, err := holds(ctx, conn, "")
	if err != nil || all {
		return list, err
	}
	active := list[:0]
	for _, h := range list {
		if h.Active(now) {
			active = append(active, h)
		}
	}
	return active, nil
}

// holds reads the current version of the holds matching where.
func holds(ctx context.Context, conn driver.Conn, where string, args ...any) ([]Hold, error) {
	rows, err := conn.Query(ctx, "SELECT "+holdCols+" "+holdsTail+" "+where+" ORDER BY session, placed_ns", args...)
	if err != nil {
		return nil, fmt.Errorf("retention: holds: %w", err)
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		var (
			h                Hold
			placed, released int64
			version          uint64
		)
		if err := rows.Scan(&h.Session, &placed, &h.PlacedBy, &h.Reason, &h.Until, &h.Class, &released, &h.ReleasedBy, &version); err != nil {
			return nil, fmt.Errorf("retention: holds: %w", err)
		}
		h.Placed = time.Unix(0, placed)
		if released != 0 {
			h.Released = time.Unix(0, released)
		}
		h.decodeRelease()
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention: holds: %w", err)
	}
	return out, nil
}

// writeHold inserts a version of h.
func writeHold(ctx context.Context, conn driver.Conn, h Hold, version uint64) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO holds ("+holdCols+")")
	if err != nil {
		return fmt.Errorf("retention: write hold: %w", err)
	}
	defer b.Close()
	var released int64
	if !h.Released.IsZero() {
		released = h.Released.UnixNano()
	}
	if err := b.Append(h.Session, h.Placed.UnixNano(), h.PlacedBy, h.Reason, h.Until, h.Class, released, h.encodeRelease(), version); err != nil {
		return fmt.Errorf("retention: write hold: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("retention: write hold: %w", err)
	}
	return nil
}

// days formats a duration in days when it is a whole number of them.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
