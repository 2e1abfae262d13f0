package config

import (
	"fmt"
	"time"
)

// SessionPolicy limits how long sessions on the hosts it matches may run.
// The first policy whose hosts match applies; hosts matching none have no
// limits.
type SessionPolicy struct {
	// Hosts are host-name globs or "key=value" label selectors, as in
	// roles. Required.
	Hosts []string `yaml:"hosts"`
	// IdleTimeout ends a session after this long without a byte passing
	// through it (the user's input or the host's output; on a terminal,
	// typing echoes). Default: 0, off; else at least 1s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxDuration ends a session this long after it started (for a
	// four-eyes session: after the request, the wait for approval
	// included). Default: 0, unlimited; else at least 1s.
	MaxDuration time.Duration `yaml:"max_duration"`
}

// SessionPolicy returns the first session policy matching host; the zero
// policy (no limits) when none does.
func (c *Config) SessionPolicy(host *Host) SessionPolicy {
	for _, p := range c.SessionPolicies {
		if matchAny(p.Hosts, host) {
			return p
		}
	}
	return SessionPolicy{}
}

func (c *Config) validateSessionPolicies(p *problems) {
	for i, sp := range c.SessionPolicies {
		key := fmt.Sprintf("session_policies[%d]", i)
		if len(sp.Hosts) == 0 {
			p.add(key+".hosts", "is empty; list host globs or key=value selectors")
		}
		for j, pat := range sp.Hosts {
			if err := checkPattern(pat); err != nil {
				p.add(fmt.Sprintf("%s.hosts[%d]", key, j), "%v", err)
			}
		}
		if sp.IdleTimeout < 0 {
			p.add(key+".idle_timeout", "%v is negative; use e.g. 15m, or 0 for off", sp.IdleTimeout)
		} else if sp.IdleTimeout > 0 && sp.IdleTimeout < time.Second {
			p.add(key+".idle_timeout", "%v is under a second; use e.g. 15m, or 0 for off", sp.IdleTimeout)
		}
		if sp.MaxDuration < 0 {
			p.add(key+".max_duration", "%v is negative; use e.g. 8h, or 0 for unlimited", sp.MaxDuration)
		} else if sp.MaxDuration > 0 && sp.MaxDuration < time.Second {
			p.add(key+".max_duration", "%v is under a second; use e.g. 8h, or 0 for unlimited", sp.MaxDuration)
		}
	}
}
