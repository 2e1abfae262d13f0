package query

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// timeSpecWant says what parseTimeSpec accepts, for the auditor.
const timeSpecWant = "a duration ago (90m, 24h, 7d, 2w) or a time (2026-11-25, 2026-11-25T10:00, 2026-11-25T10:00:00Z; UTC unless an offset is given)"

// errTimeSpec is wrapped by parseTimeSpec errors.
var errTimeSpec = errors.New("query: want " + timeSpecWant)

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
		if err != nil || !(f > 0 && f <= 36500) { // NaN too
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
