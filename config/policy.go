package config

import (
	"path"
	"strings"
)

// User returns the user with the given name.
func (c *Config) User(name string) (*User, bool) {
	for i := range c.Users {
		if c.Users[i].Name == name {
			return &c.Users[i], true
		}
	}
	return nil, false
}

// Host returns the host with the given name.
func (c *Config) Host(name string) (*Host, bool) {
	for i := range c.Hosts {
		if c.Hosts[i].Name == name {
			return &c.Hosts[i], true
		}
	}
	return nil, false
}

// CanConnect reports whether user may open sessions on host. Deny by default.
func (c *Config) CanConnect(user *User, host *Host) bool {
	return c.anyRole(user, func(r Role) bool { return matchAny(r.Connect, host) })
}

// CanApprove reports whether user may join and approve sessions on host.
func (c *Config) CanApprove(user *User, host *Host) bool {
	return c.anyRole(user, func(r Role) bool { return matchAny(r.Approve, host) })
}

// CanAudit reports whether user may run audit commands.
func (c *Config) CanAudit(user *User) bool {
	return c.anyRole(user, func(r Role) bool { return r.Audit })
}

// CanKill reports whether user may end any live session.
func (c *Config) CanKill(user *User) bool {
	return c.anyRole(user, func(r Role) bool { return r.Kill })
}

// RetentionDays returns the retention of host's class in days.
func (c *Config) RetentionDays(class string) uint16 {
	return uint16(c.Retention.Classes[class].Days())
}

func (c *Config) anyRole(user *User, ok func(Role) bool) bool {
	for _, name := range user.Roles {
		if r, found := c.Roles[name]; found && ok(r) {
			return true
		}
	}
	return false
}

// matchAny reports whether host matches one of the patterns: a host-name
// glob, or a "key=value" label selector.
func matchAny(patterns []string, host *Host) bool {
	for _, p := range patterns {
		if k, v, ok := strings.Cut(p, "="); ok {
			if host.Labels[k] == v {
				return true
			}
			continue
		}
		if m, _ := path.Match(p, host.Name); m {
			return true
		}
	}
	return false
}
