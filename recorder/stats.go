package recorder

import "time"

// Stats is a snapshot of the recorder's counters, for metrics and health
// checks.
type Stats struct {
	// SpoolEvents is the number of events not yet acknowledged by Kafka.
	SpoolEvents int64
	// SpoolBytes is the size of the spool (all segments, written or not).
	SpoolBytes int64
	// SpoolSegments is the number of segment files.
	SpoolSegments int
	// OldestUnsentAge is the age of the oldest unacknowledged event
	// (0 when there is none).
	OldestUnsentAge time.Duration
	// PublishErrors counts failed attempts to reach or write to Kafka.
	PublishErrors int64
	// Published counts events acknowledged by Kafka since New.
	Published int64
	// OpenSessions is the number of sessions without a session.end.
	OpenSessions int
	// ExpiredEvents and ExpiredBytes count events dropped from the spool
	// since New because Kafka did not take them within their retention
	// class (see Recorder.OnExpire).
	ExpiredEvents int64
	ExpiredBytes  int64
	// Throttled is the number of sessions held back now because their
	// recording fell behind (backpressure.go); Throttles and
	// ThrottledTime count the throttle periods ended since New and their
	// total length.
	Throttled     int
	Throttles     int64
	ThrottledTime time.Duration
}

// Stats returns a snapshot of the recorder's counters.
func (r *Recorder) Stats() Stats {
	st := r.spool.stats()
	out := Stats{
		SpoolEvents:   st.events,
		SpoolBytes:    st.bytes,
		SpoolSegments: st.segments,
		PublishErrors: r.spool.pubErrors.Load(),
		Published:     r.spool.published.Load(),
		OpenSessions:  st.open,
		ExpiredEvents: r.spool.expired.Load(),
		ExpiredBytes:  r.spool.expiredBytes.Load(),
		Throttled:     int(r.throttled.Load()),
		Throttles:     r.throttles.Load(),
		ThrottledTime: time.Duration(r.throttledNS.Load()),
	}
	if st.events > 0 && st.oldest > 0 {
		out.OldestUnsentAge = max(0, r.clock.Now().Sub(time.Unix(0, st.oldest)))
	}
	return out
}
