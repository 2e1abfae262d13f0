package gateway

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers compare with errors.Is.
var (
	// ErrServerClosed is returned by Serve and ListenAndServe after
	// Shutdown or Close.
	ErrServerClosed = errors.New("gateway: server closed")
	// ErrNoRecorder is returned by New without Options.Recorder: the
	// gateway never runs a session it cannot record.
	ErrNoRecorder = errors.New("gateway: no recorder")
	// ErrKeyPermissions is returned by New when a private key file is
	// readable by group or others.
	ErrKeyPermissions = errors.New("gateway: private key readable by others")
	// ErrUnknownHost means the requested host is not in the configuration.
	ErrUnknownHost = errors.New("gateway: unknown host")
	// ErrAccessDenied means policy forbids the request.
	ErrAccessDenied = errors.New("gateway: access denied")
	// ErrHostKeyMismatch means the upstream host presented a key other
	// than the pinned one: possibly a man in the middle, so the
	// connection is refused.
	ErrHostKeyMismatch = errors.New("gateway: host key mismatch")
	// ErrRecordingFailed ends a session whose recording can no longer be
	// written (fail-closed).
	ErrRecordingFailed = errors.New("gateway: recording failed")
	// ErrShuttingDown ends sessions when the bastion shuts down.
	ErrShuttingDown = errors.New("gateway: shutting down")
	// errClientGone ends a session whose client closed the channel or the
	// connection; nobody is left to tell.
	errClientGone = errors.New("gateway: client went away")
)

// UserError is a refusal shown to the person at the terminal as
// "foureyes: MESSAGE": short and actionable. Err, when set, is the cause
// for logs and errors.Is; it is never shown.
type UserError struct {
	Message string
	Status  int // exit status sent to the client; 0 means 1
	Err     error
}

// Error returns the message as the user sees it.
func (e *UserError) Error() string { return "foureyes: " + e.Message }

// Unwrap returns the cause.
func (e *UserError) Unwrap() error { return e.Err }

// exitStatus returns the status to send to the client.
func (e *UserError) exitStatus() int {
	if e.Status == 0 {
		return 1
	}
	return e.Status
}

// userErrorf returns a UserError with status 1 and cause err.
func userErrorf(err error, format string, args ...any) *UserError {
	return &UserError{Message: fmt.Sprintf(format, args...), Err: err}
}

// HostKeyMismatchError describes a refused upstream host key.
type HostKeyMismatchError struct {
	Host string // configured host name
	Addr string // host:port dialed
	Want string // SHA256 fingerprint of the pinned key
	Got  string // SHA256 fingerprint of the presented key
}

// Error returns the message shown to the user.
func (e *HostKeyMismatchError) Error() string {
	return fmt.Sprintf("host key mismatch for %s (%s): pinned %s, presented %s; connection refused",
		e.Host, e.Addr, e.Want, e.Got)
}

// Is reports whether target is ErrHostKeyMismatch.
func (e *HostKeyMismatchError) Is(target error) bool { return target == ErrHostKeyMismatch }
