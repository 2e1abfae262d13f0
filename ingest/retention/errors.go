package retention

import "errors"

// Errors callers act on. The hold errors carry a message fit for the
// auditor's terminal.
var (
	// ErrNoReason refuses a hold without a comprehensible reason.
	ErrNoReason = errors.New("retention: a hold needs a reason saying why (at least 10 characters and two words)")
	// ErrNoIdentity refuses a hold or release whose author is unknown:
	// holds must say who placed them.
	ErrNoIdentity = errors.New("retention: the auditor placing or releasing a hold is unknown")
	// ErrHoldTooLong refuses an --until beyond the class' end plus max_hold.
	ErrHoldTooLong = errors.New("retention: hold longer than retention.max_hold allows")
	// ErrUntilPast refuses an --until that is not in the future.
	ErrUntilPast = errors.New("retention: hold end is not in the future")
	// ErrNoHold is returned by ReleaseHolds when the session has no active hold.
	ErrNoHold = errors.New("retention: no active hold")
	// ErrSecondAuditor refuses to let the auditor who asked for the
	// release of someone else's hold confirm it too: early deletion
	// needs four eyes.
	ErrSecondAuditor = errors.New("retention: the release waits for a second auditor; a different auditor must confirm it with audit release")
	// ErrConfig: the configuration does not let the job run.
	ErrConfig = errors.New("retention: configuration")
)
