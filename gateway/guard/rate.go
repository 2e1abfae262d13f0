package guard

import (
	"sync"
	"time"
)

// maxBuckets bounds the sources a rate holds buckets for; sources beyond
// it are not rate-limited until idle buckets are swept (their
// concurrent connections are still capped by the Gate).
const maxBuckets = 1 << 16

// sourceRate is a token bucket per source: new connections from a
// source are admitted at perSecond on average, burst at once. It bounds
// the handshakes (key exchanges) one source can make the gateway do,
// which the cap on concurrent connections alone does not.
type sourceRate struct {
	perSecond float64
	burst     float64
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // tokens counted at
}

func newSourceRate(perSecond float64, burst int) *sourceRate {
	return &sourceRate{perSecond: perSecond, burst: float64(burst), now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes a token of source and reports whether there was one.
func (r *sourceRate) allow(source string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	b := r.buckets[source]
	if b == nil {
		if len(r.buckets) >= maxBuckets {
			r.sweepLocked(now)
			if len(r.buckets) >= maxBuckets {
				return true
			}
		}
		b = &bucket{tokens: r.burst, at: now}
		r.buckets[source] = b
	}
	b.tokens = min(r.burst, b.tokens+now.Sub(b.at).Seconds()*r.perSecond)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweepLocked forgets buckets that have refilled: they are as good as new.
func (r *sourceRate) sweepLocked(now time.Time) {
	for src, b := range r.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*r.perSecond >= r.burst {
			delete(r.buckets, src)
		}
	}
}
