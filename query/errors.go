package query

import (
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned when a session has no row and no events.
var ErrNotFound = errors.New("query: session not found")

// ExpiredError reports a session whose recording was deleted by retention.
// It matches ErrNotFound with errors.Is, so callers that only care about
// absence need not know about retention.
type ExpiredError struct {
	ID      string
	Expired time.Time // when the recording was removed
	Class   string    // the retention class that removed it, when known
}

func (e *ExpiredError) Error() string {
	return "query: " + e.message()
}

// message is the sentence shown to the auditor.
func (e *ExpiredError) message() string {
	msg := fmt.Sprintf("session %s expired on %s", printable(e.ID), e.Expired.UTC().Format(time.DateOnly))
	if e.Class != "" {
		msg += " by retention class " + printable(e.Class)
	}
	return msg
}

// Is reports whether target is ErrNotFound.
func (e *ExpiredError) Is(target error) bool { return target == ErrNotFound }

// ErrUnverifiedHold refuses a hold whose bounds nothing authenticates: the
// recording does not vouch for the session's class and no retention
// classes are configured to bound it instead (Store.Hold).
var ErrUnverifiedHold = errors.New("query: the recording does not authenticate the session's class")
