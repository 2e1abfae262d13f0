package event

// Login and lockout event types, in the gateway's own stream (kind
// "gateway"). Actor is the user for logins and logouts, the admin for
// unlocks, empty for lockouts.
const (
	// Login is a completed login, whatever follows (a session, only
	// refused channels, or nothing: ssh -N). Meta: user, key
	// (fingerprint), method, remote.
	Login Type = "login"
	// Logout ends a login's connection. Meta: user, key, remote,
	// duration_ms, channels (opened), channels_refused (over
	// limits.max_channels).
	Logout Type = "logout"
	// AuthLockout says that a user or a source address is refused every
	// login until a time, after too many failed logins. Meta: scope
	// ("user" or "source"), target (the user name or source), failures,
	// window, until (RFC 3339).
	AuthLockout Type = "auth.lockout"
	// AuthUnlock is an admin lifting a lockout early. Meta: scope,
	// target, until (when it would have ended).
	AuthUnlock Type = "auth.unlock"
)
