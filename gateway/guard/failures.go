package guard

import (
	"sort"
	"sync"
	"time"
)

// maxSources bounds the sources FailureReporter keeps apart in one
// interval; failures from further sources are counted under
// OverflowSource.
const maxSources = 1 << 14

// maxNames bounds the distinct user names, methods and reasons a
// Summary lists; the rest are only counted.
const maxNames = 10

// OverflowSource is the Summary.Source of failures from sources beyond
// the reporter's bound.
const OverflowSource = "*"

// Failure is one refused attempt, as the gateway describes it.
type Failure struct {
	Source string // from Source
	User   string // already made safe with SafeName
	Method string // publickey, password, keyboard-interactive, connect
	Reason string
}

// Summary is the aggregate of the failures from one source in one
// interval after the first (which was recorded on its own).
type Summary struct {
	Source      string
	Count       int
	Users       map[string]int // at most maxNames names
	OtherUsers  int            // failures whose name did not fit in Users
	Methods     map[string]int
	Reasons     map[string]int // at most maxNames reasons, the rest under "other"
	First, Last time.Time
}

// FailureReporter aggregates failures per source. The first failure from
// a source is to be recorded in full at once (Report returns true); the
// following ones are counted, and Due returns one Summary per source for
// each interval that had any. A source quiet for a whole interval starts
// a new burst. It is safe for concurrent use.
type FailureReporter struct {
	interval time.Duration
	now      func() time.Time

	mu     sync.Mutex
	bursts map[string]*burst
}

// burst is a source's current interval.
type burst struct {
	end time.Time // the interval ends (and its summary is due) then
	sum Summary
}

// NewFailureReporter returns a reporter summarizing every interval.
func NewFailureReporter(interval time.Duration) *FailureReporter {
	return &FailureReporter{interval: interval, now: time.Now, bursts: map[string]*burst{}}
}

// Report counts f and reports whether it is the first of a burst, to be
// recorded in full now.
func (r *FailureReporter) Report(f Failure) (first bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	src := f.Source
	b := r.bursts[src]
	if b == nil {
		if len(r.bursts) < maxSources {
			r.bursts[src] = &burst{end: now.Add(r.interval), sum: Summary{Source: src}}
			return true
		}
		src = OverflowSource
		if b = r.bursts[src]; b == nil {
			b = &burst{end: now.Add(r.interval), sum: Summary{Source: src}}
			r.bursts[src] = b
		}
	}
	s := &b.sum
	if s.Count == 0 {
		s.First = now
		s.Users, s.Methods, s.Reasons = map[string]int{}, map[string]int{}, map[string]int{}
	}
	s.Count++
	s.Last = now
	if _, ok := s.Users[f.User]; ok || len(s.Users) < maxNames {
		s.Users[f.User]++
	} else {
		s.OtherUsers++
	}
	addBounded(s.Methods, f.Method)
	addBounded(s.Reasons, f.Reason)
	return false
}

// addBounded counts v in m, under "other" once m holds maxNames values.
func addBounded(m map[string]int, v string) {
	if _, ok := m[v]; !ok && len(m) >= maxNames {
		v = "other"
	}
	m[v]++
}

// Due returns the summaries of intervals that ended (in source order)
// and starts the next interval of those sources; a source whose ended
// interval had no further failure is forgotten.
func (r *FailureReporter) Due() []Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []Summary
	for src, b := range r.bursts {
		if now.Before(b.end) {
			continue
		}
		if b.sum.Count == 0 {
			delete(r.bursts, src)
			continue
		}
		out = append(out, b.sum)
		*b = burst{end: now.Add(r.interval), sum: Summary{Source: src}}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// Flush returns every pending summary, due or not (at shutdown).
func (r *FailureReporter) Flush() []Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Summary
	for src, b := range r.bursts {
		if b.sum.Count > 0 {
			out = append(out, b.sum)
		}
		delete(r.bursts, src)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}
