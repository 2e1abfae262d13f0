package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits bound what one client, one source address or everybody together
// may cost the gateway, before and after login. None of them can be
// switched off: a value left out takes its default, an explicit 0 or a
// negative value is refused.
type Limits struct {
	// LoginGrace is the longest time from TCP accept to a completed
	// login, as sshd's LoginGraceTime. Default: 30s; at most 10m.
	LoginGrace time.Duration `yaml:"login_grace"`
	// MaxUnauthenticated caps the connections not yet logged in, from
	// everywhere together; more are closed at once, before the SSH
	// handshake. Default: 4096 (lowered at start to half the process's
	// open-file limit).
	MaxUnauthenticated int `yaml:"max_unauthenticated"`
	// MaxUnauthenticatedPerSource caps the connections not yet logged in
	// from one IP address. Default: 16.
	MaxUnauthenticatedPerSource int `yaml:"max_unauthenticated_per_source"`
	// ConnectionRatePerSource is how many new connections per second one
	// IP address may open on average; every connection costs a key
	// exchange before any login. Default: 10.
	ConnectionRatePerSource int `yaml:"connection_rate_per_source"`
	// ConnectionBurstPerSource is how many new connections one IP
	// address may open at once above that rate. Default: 50.
	ConnectionBurstPerSource int `yaml:"connection_burst_per_source"`
	// MaxAuthTries is the number of authentication attempts (keys offered,
	// password or keyboard-interactive tries) one connection may make
	// before it is closed. Default: 3 (sshd: 6).
	MaxAuthTries int `yaml:"max_auth_tries"`
	// MaxChannels caps the channels (sessions, refused forwardings) open
	// at once on one connection. Default: 10 (sshd's MaxSessions).
	MaxChannels int `yaml:"max_channels"`
	// MaxEnv caps the environment variables ("env" requests) one session
	// channel may set. Default: 32.
	MaxEnv int `yaml:"max_env"`
	// MaxEnvBytes caps the bytes of names and values of one session
	// channel's environment variables. Default: 8192.
	MaxEnvBytes int `yaml:"max_env_bytes"`
	// MaxUserName is the longest user name accepted, in bytes; a longer
	// one is refused without looking it up, and only a bounded, escaped
	// prefix of it is recorded. Default: 64; at most 1024.
	MaxUserName int `yaml:"max_user_name"`
	// FailureReportInterval is how failed logins are aggregated: the first
	// failure from a source address is recorded at once, the following
	// ones within this interval are counted into one auth.failure summary
	// per source at its end. Default: 10s; between 1s and 1h.
	FailureReportInterval time.Duration `yaml:"failure_report_interval"`
	// Lockout configures the refusal of users and sources after repeated
	// failed logins.
	Lockout Lockout `yaml:"lockout"`
}

// Lockout refuses every login of a user, or from a source address, after
// too many failed logins within a window. A failed login is a connection
// that made at least one authentication attempt and closed without
// logging in. Locks are lifted when Duration has passed or by the
// `unlock` command of a role with unlock: true.
type Lockout struct {
	// UserFailures is how many failed logins for one user name within
	// Window lock that user. Default: 10.
	UserFailures int `yaml:"user_failures"`
	// SourceFailures is how many failed logins from one IP address
	// within Window lock that address. Default: 20.
	SourceFailures int `yaml:"source_failures"`
	// Window is the sliding window failures are counted in. Default: 10m.
	Window time.Duration `yaml:"window"`
	// Duration is how long a lock lasts. Default: 15m; at most 7d.
	Duration time.Duration `yaml:"duration"`
}

// setLimitsDefaults fills the documented defaults of limits.
func (c *Config) setLimitsDefaults() {
	l := &c.Limits
	setDur(&l.LoginGrace, 30*time.Second)
	setInt(&l.MaxUnauthenticated, 4096)
	setInt(&l.MaxUnauthenticatedPerSource, 16)
	setInt(&l.ConnectionRatePerSource, 10)
	setInt(&l.ConnectionBurstPerSource, 50)
	setInt(&l.MaxAuthTries, 3)
	setInt(&l.MaxChannels, 10)
	setInt(&l.MaxEnv, 32)
	setInt(&l.MaxEnvBytes, 8192)
	setInt(&l.MaxUserName, 64)
	setDur(&l.FailureReportInterval, 10*time.Second)
	lo := &l.Lockout
	setInt(&lo.UserFailures, 10)
	setInt(&lo.SourceFailures, 20)
	setDur(&lo.Window, 10*time.Minute)
	setDur(&lo.Duration, 15*time.Minute)
}

// validateLimits checks limits and gateway.keepalive_interval: no limit
// may be switched off, given as 0 or negative.
func (c *Config) validateLimits(p *problems) {
	for _, key := range c.explicitZeros {
		p.add(key, "is 0; this limit cannot be switched off: leave the key out for the default, or give a positive value")
	}
	if k := c.Gateway.KeepaliveInterval; k < 0 {
		p.add("gateway.keepalive_interval", "is %s; use a positive duration (e.g. 15s)", formatDuration(k))
	}
	l := c.Limits
	durs := []struct {
		key      string
		v        time.Duration
		min, max time.Duration
		example  string
	}{
		{"limits.login_grace", l.LoginGrace, time.Second, 10 * time.Minute, "30s"},
		{"limits.failure_report_interval", l.FailureReportInterval, time.Second, time.Hour, "10s"},
		{"limits.lockout.window", l.Lockout.Window, time.Second, 7 * day, "10m"},
		{"limits.lockout.duration", l.Lockout.Duration, time.Second, 7 * day, "15m"},
	}
	for _, d := range durs {
		if d.v < d.min || d.v > d.max {
			p.add(d.key, "is %s; use a duration between %s and %s (e.g. %s)", formatDuration(d.v), formatDuration(d.min), formatDuration(d.max), d.example)
		}
	}
	ints := []struct {
		key      string
		v        int
		min, max int
	}{
		{"limits.max_unauthenticated", l.MaxUnauthenticated, 1, 1 << 20},
		{"limits.max_unauthenticated_per_source", l.MaxUnauthenticatedPerSource, 1, 1 << 20},
		{"limits.connection_rate_per_source", l.ConnectionRatePerSource, 1, 100000},
		{"limits.connection_burst_per_source", l.ConnectionBurstPerSource, 1, 1 << 20},
		{"limits.max_auth_tries", l.MaxAuthTries, 1, 100},
		{"limits.max_channels", l.MaxChannels, 1, 1000},
		{"limits.max_env", l.MaxEnv, 1, 1000},
		{"limits.max_env_bytes", l.MaxEnvBytes, 64, 1 << 20},
		{"limits.max_user_name", l.MaxUserName, 8, 1024},
		{"limits.lockout.user_failures", l.Lockout.UserFailures, 1, 1 << 20},
		{"limits.lockout.source_failures", l.Lockout.SourceFailures, 1, 1 << 20},
	}
	for _, n := range ints {
		if n.v < n.min || n.v > n.max {
			p.add(n.key, "is %d; use a value between %d and %d", n.v, n.min, n.max)
		}
	}
	if l.MaxUnauthenticatedPerSource > l.MaxUnauthenticated {
		p.add("limits.max_unauthenticated_per_source", "is %d, more than limits.max_unauthenticated (%d); lower it", l.MaxUnauthenticatedPerSource, l.MaxUnauthenticated)
	}
	for i, u := range c.Users {
		if l.MaxUserName >= 8 && len(u.Name) > l.MaxUserName {
			p.add(fmt.Sprintf("users[%d].name", i), "is %d bytes, longer than limits.max_user_name (%d); shorten it or raise the limit", len(u.Name), l.MaxUserName)
		}
	}
}

// limitKeys are the keys whose explicit 0 is refused: "0 means the
// default" must not read as "0 switches it off" for a limit.
type limitKeys struct {
	Gateway struct {
		KeepaliveInterval yaml.Node `yaml:"keepalive_interval"`
	} `yaml:"gateway"`
	Limits struct {
		LoginGrace                  yaml.Node `yaml:"login_grace"`
		MaxUnauthenticated          yaml.Node `yaml:"max_unauthenticated"`
		MaxUnauthenticatedPerSource yaml.Node `yaml:"max_unauthenticated_per_source"`
		ConnectionRatePerSource     yaml.Node `yaml:"connection_rate_per_source"`
		ConnectionBurstPerSource    yaml.Node `yaml:"connection_burst_per_source"`
		MaxAuthTries                yaml.Node `yaml:"max_auth_tries"`
		MaxChannels                 yaml.Node `yaml:"max_channels"`
		MaxEnv                      yaml.Node `yaml:"max_env"`
		MaxEnvBytes                 yaml.Node `yaml:"max_env_bytes"`
		MaxUserName                 yaml.Node `yaml:"max_user_name"`
		FailureReportInterval       yaml.Node `yaml:"failure_report_interval"`
		Lockout                     struct {
			UserFailures   yaml.Node `yaml:"user_failures"`
			SourceFailures yaml.Node `yaml:"source_failures"`
			Window         yaml.Node `yaml:"window"`
			Duration       yaml.Node `yaml:"duration"`
		} `yaml:"lockout"`
	} `yaml:"limits"`
}

// noteExplicitZeros remembers which limit keys b sets to zero, before
// SetDefaults replaces the zeros with defaults. b has decoded already.
func (c *Config) noteExplicitZeros(b []byte) {
	var k limitKeys
	if yaml.Unmarshal(b, &k) != nil {
		return
	}
	l, lo := &k.Limits, &k.Limits.Lockout
	for _, e := range []struct {
		key string
		n   yaml.Node
	}{
		{"gateway.keepalive_interval", k.Gateway.KeepaliveInterval},
		{"limits.login_grace", l.LoginGrace},
		{"limits.max_unauthenticated", l.MaxUnauthenticated},
		{"limits.max_unauthenticated_per_source", l.MaxUnauthenticatedPerSource},
		{"limits.connection_rate_per_source", l.ConnectionRatePerSource},
		{"limits.connection_burst_per_source", l.ConnectionBurstPerSource},
		{"limits.max_auth_tries", l.MaxAuthTries},
		{"limits.max_channels", l.MaxChannels},
		{"limits.max_env", l.MaxEnv},
		{"limits.max_env_bytes", l.MaxEnvBytes},
		{"limits.max_user_name", l.MaxUserName},
		{"limits.failure_report_interval", l.FailureReportInterval},
		{"limits.lockout.user_failures", lo.UserFailures},
		{"limits.lockout.source_failures", lo.SourceFailures},
		{"limits.lockout.window", lo.Window},
		{"limits.lockout.duration", lo.Duration},
	} {
		if isZeroScalar(&e.n) {
			c.explicitZeros = append(c.explicitZeros, e.key)
		}
	}
}

// isZeroScalar reports whether n is a number or duration equal to zero
// ("0", "0s", "0ms", "-0").
func isZeroScalar(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	if d, err := time.ParseDuration(n.Value); err == nil {
		return d == 0
	}
	var i int64
	return n.Decode(&i) == nil && i == 0
}

// CanUnlock reports whether user may list and lift login lockouts
// (a role with unlock: true).
func (c *Config) CanUnlock(user *User) bool {
	return c.anyRole(user, func(r Role) bool { return r.Unlock })
}
