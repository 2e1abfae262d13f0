package benche2e

import (
	"slices"
	"time"
)

// median returns the middle value of ds (the upper one of an even count).
func median(ds []time.Duration) time.Duration { return percentile(ds, 0.5) }

// percentile returns the value below which a fraction q of ds lies
// (nearest rank).
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q * float64(len(s)))
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}
