package query

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// errTimeSpec is wrapped by parseTimeSpec errors.
var errTimeSpec = errors.New("want RFC3339 (2026-01-02T15:04:05Z), a date (2026-01-02, UTC) or an age (90m, 24h, 7d, 2w)")

// parseTimeSpec parses a --since/--until value relative to now: an RFC3339
// time, a date (midnight UTC), or an age — a Go duration or a number of
// days (d) or weeks (w) — meaning that long before now.
func parseTimeSpec(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	var d time.Duration
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		f, err := strconv.ParseFloat(s[:n-1], 64)
		if err != nil || f <= 0 || f > 36500 {
			return time.Time{}, fmt.Errorf("%q: %w", s, errTimeSpec)
		}
		unit := 24 * time.Hour
		if s[n-1] == 'w' {
			unit *= 7
		}
		d = time.Duration(f * float64(unit))
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 {
			return time.Time{}, fmt.Errorf("%q: %w", s, errTimeSpec)
		}
	}
	return now.Add(-d), nil
}

// timeFlag is a flag.Value holding a parsed time spec.
type timeFlag struct {
	t   *time.Time
	now func() time.Time
}

func (f timeFlag) String() string {
	if f.t == nil || f.t.IsZero() {
		return ""
	}
	return f.t.UTC().Format(time.RFC3339)
}

func (f timeFlag) Set(s string) error {
	t, err := parseTimeSpec(s, f.now())
	if err != nil {
		return err
	}
	*f.t = t
	return nil
}
