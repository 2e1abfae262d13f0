package query

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/foureyes/foureyes/event"
)

// holdBasis is what bounds a hold: the session's class, the days it
// keeps and when the session started.
type holdBasis struct {
	class   string
	days    int
	started time.Time
	// unverified says why the recording does not authenticate them; the
	// basis is then the longest configured class from today.
	unverified string
}

// holdBasis returns the basis of a hold on session id at now.
//
// The sessions row cannot give it: ingest copies the class, retention and
// start of any session.end, signed or not, into a row whose version is
// the end's seq, so a forged end chooses what the row says — a hold that
// ends before the data is due (never taking effect) or one beyond
// max_hold. The basis comes instead from what a listing authenticates
// (checkRows): the stored session.end that verifies (signed by a trusted
// key; its hash alone without trusted keys), whose class, retention and
// started_ns its hash covers; or, for an open session whose row is the
// one ingest writes from a session.start the check vouches for, that
// start's.
//
// Without either, a hold must still not end before the session's data is
// due. No stored data of the session is dated after now (a forged event
// may claim a later time, but genuine data is recorded before it is
// stored) or keeps more days than the longest configured class, so that
// class from today bounds it; without configured classes the hold is
// refused (ErrUnverifiedHold).
func (s *Store) holdBasis(ctx context.Context, id string, now time.Time) (holdBasis, error) {
	row, err := s.Session(ctx, id)
	if err != nil {
		return holdBasis{}, err
	}
	problems, ends, err := s.checkRows(ctx, []Session{row})
	if err != nil {
		return holdBasis{}, err
	}
	if end := ends[id]; end != nil {
		return holdBasis{class: end.Class, days: int(end.Retention), started: startOfEnd(end)}, nil
	}
	why := problems[id]
	if row.Open && len(why) == 0 {
		return holdBasis{class: row.Class, days: row.RetentionDays, started: row.Started}, nil
	}
	unverified := strings.Join(why, "; ")
	if unverified == "" {
		unverified = "no authenticated session.end or session.start is stored"
	}
	class, days := s.longestClass()
	if days == 0 {
		return holdBasis{}, fmt.Errorf("%w (%s) and no retention classes are configured to bound the hold; run audit verify %s",
			ErrUnverifiedHold, unverified, id)
	}
	return holdBasis{class: class, days: days, started: now, unverified: unverified}, nil
}

// startOfEnd returns when the session an authenticated end closes
// started: its started_ns, else the end's own time. The end's time is
// never earlier than the start, so a hold bounded by it is never shorter.
func startOfEnd(e *event.Event) time.Time {
	if v, err := strconv.ParseInt(e.Meta["started_ns"], 10, 64); err == nil && v > 0 && v <= e.Time {
		return time.Unix(0, v)
	}
	return time.Unix(0, e.Time)
}

// longestClass returns the configured class keeping data longest (the
// first by name among equals) and its days; 0 days when none is
// configured.
func (s *Store) longestClass() (string, int) {
	names := make([]string, 0, len(s.classes))
	for name := range s.classes {
		names = append(names, name)
	}
	slices.Sort(names)
	var (
		class string
		days  int
	)
	for _, name := range names {
		if d := s.classes[name]; d > days {
			class, days = name, d
		}
	}
	return class, days
}
