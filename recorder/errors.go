package recorder

import "errors"

// Errors callers act on. Every error returned by this package wraps one of
// these or carries the "recorder:" prefix.
var (
	// ErrSpoolFull means the spool reached Config.SpoolMaxBytes, or a
	// session held back at its share of the spool (backpressure.go) saw
	// Kafka take nothing for Config.StallTimeout: an outage. A session
	// that is merely faster than Kafka is held back instead. The session
	// that hit it can no longer be recorded; its Done channel is closed with this
	// error and the gateway decides between strict (end the session) and
	// best effort (continue unrecorded).
	ErrSpoolFull = errors.New("recorder: spool full")

	// ErrClosed is returned by calls on a closed Recorder, and is the
	// cause reported by Session.Err for sessions still open at Close.
	ErrClosed = errors.New("recorder: closed")

	// ErrEnded is returned by calls on a Session after End. Session.Err
	// reports it once End has written session.end.
	ErrEnded = errors.New("recorder: session ended")

	// ErrSpoolLocked means another process holds the spool directory.
	// Two recorders appending to one spool would interleave hash chains
	// and delete each other's segments.
	ErrSpoolLocked = errors.New("recorder: spool directory is locked by another process")

	// ErrDuplicateSession is returned by Start when a session with the
	// same id is already being recorded.
	ErrDuplicateSession = errors.New("recorder: session id already in use")

	// ErrTooLarge is returned by Record when data exceeds MaxEventData.
	ErrTooLarge = errors.New("recorder: event too large")

	// ErrReservedType is returned by Record for session.start and
	// session.end, which only Start and End may write.
	ErrReservedType = errors.New("recorder: event type is reserved")

	// ErrPublishing is returned by Publish while another Publish call on
	// the same Recorder is running: acks must advance in spool order.
	ErrPublishing = errors.New("recorder: already publishing")

	// ErrConfig wraps every configuration error from New and Publish.
	ErrConfig = errors.New("recorder: invalid config")
)
