package config

import (
	"fmt"
	"net/url"
	"time"
)

// Defaults of an approval policy.
const (
	// DefaultPendingTimeout is how long a session waits for approval.
	DefaultPendingTimeout = 15 * time.Minute
	// DefaultLeaveGrace is how long a paused session waits for a
	// reviewer to come back before it is terminated.
	DefaultLeaveGrace = 5 * time.Minute
	// DefaultMaxWindow is the longest approval window (`request --for`)
	// a policy grants.
	DefaultMaxWindow = 4 * time.Hour
	// MaxMaxWindow bounds max_window: a window is an approval for
	// automation, not a standing permission.
	MaxMaxWindow = 7 * 24 * time.Hour
)

// What happens when the last reviewer leaves an approved session.
const (
	// OnLeavePause freezes the admin's input until a reviewer rejoins,
	// and terminates the session after LeaveGrace.
	OnLeavePause = "pause"
	// OnLeaveTerminate ends the session at once.
	OnLeaveTerminate = "terminate"
)

// ApprovalPolicy requires four-eyes approval for sessions on the hosts it
// matches: nothing reaches such a host until Count reviewers other than
// the requester have joined and approved.
type ApprovalPolicy struct {
	// Hosts are host-name globs or "key=value" label selectors, as in
	// roles. Required.
	Hosts []string `yaml:"hosts"`
	// Count is how many distinct reviewers must approve, 1 to 10.
	// Default (also when 0): 1.
	Count int `yaml:"count"`
	// ApproverRoles restricts approval to members of these roles (who
	// must also be granted `approve` for the host). Default: empty, any
	// role whose `approve` patterns match the host.
	ApproverRoles []string `yaml:"approver_roles"`
	// PendingTimeout is how long a request waits for approval before it
	// expires. Default: 15m.
	PendingTimeout time.Duration `yaml:"pending_timeout"`
	// OnLeave is what happens when the last reviewer leaves an approved
	// session: "pause" (freeze the admin's input until a reviewer
	// rejoins, terminate after LeaveGrace) or "terminate". Default: pause.
	OnLeave string `yaml:"on_leave"`
	// LeaveGrace is how long a paused session waits for a reviewer.
	// Default: 5m.
	LeaveGrace time.Duration `yaml:"leave_grace"`
	// AllowPeerInput lets reviewers who join with --mode peer type into
	// the session. Default: false (reviewers only watch).
	AllowPeerInput bool `yaml:"allow_peer_input"`
	// Exec makes non-interactive commands (`ssh bastion HOST -- CMD`)
	// need approval too. Default: true. With false, only commands run
	// without a terminal skip approval: a shell, and any command with a
	// pty (`ssh -t bastion HOST -- bash -i`), always wait for a reviewer.
	Exec *bool `yaml:"exec"`
	// MaxWindow is the longest approval window a requester may ask for
	// on the policy's hosts (`ssh bastion request HOST --for 30m`), 1m
	// to 7d. Default: 4h.
	MaxWindow time.Duration `yaml:"max_window"`
}

// RequiresExecApproval reports whether exec commands need approval.
func (p *ApprovalPolicy) RequiresExecApproval() bool { return p.Exec == nil || *p.Exec }

// Notify configures notifications about sessions awaiting review.
type Notify struct {
	// WebhookURL receives a JSON POST for every approval request and
	// decision. Empty disables notifications.
	WebhookURL string `yaml:"webhook_url"`
	// WebhookSecret signs each body with HMAC-SHA256 (header
	// X-Foureyes-Signature: sha256=HEX). Required with WebhookURL.
	WebhookSecret string `yaml:"webhook_secret"`
	// SecretFile holds WebhookSecret instead (mode 0600 or stricter).
	SecretFile string `yaml:"secret_file"`
}

// ApprovalPolicy returns the first policy matching host, or false when
// the host needs no approval.
func (c *Config) ApprovalPolicy(host *Host) (*ApprovalPolicy, bool) {
	for i := range c.ApprovalPolicies {
		if matchAny(c.ApprovalPolicies[i].Hosts, host) {
			return &c.ApprovalPolicies[i], true
		}
	}
	return nil, false
}

// CanApproveSession reports whether user may join and approve a session
// on host under policy p: a role grants `approve` for host and, when the
// policy names approver_roles, the user holds one of them. It does not
// check who asked (nobody approves their own session; the gateway checks).
func (c *Config) CanApproveSession(user *User, host *Host, p *ApprovalPolicy) bool {
	if !c.CanApprove(user, host) {
		return false
	}
	if p == nil || len(p.ApproverRoles) == 0 {
		return true
	}
	for _, r := range user.Roles {
		for _, want := range p.ApproverRoles {
			if r == want {
				return true
			}
		}
	}
	return false
}

// Approvers returns the names of the users who may approve sessions on
// host under p, except the requester, in configuration order.
func (c *Config) Approvers(host *Host, p *ApprovalPolicy, requester string) []string {
	var out []string
	for i := range c.Users {
		u := &c.Users[i]
		if u.Name != requester && c.CanApproveSession(u, host, p) {
			out = append(out, u.Name)
		}
	}
	return out
}

// setApprovalDefaults fills the documented defaults of every policy.
func (c *Config) setApprovalDefaults() {
	for i := range c.ApprovalPolicies {
		p := &c.ApprovalPolicies[i]
		setInt(&p.Count, 1)
		setDur(&p.PendingTimeout, DefaultPendingTimeout)
		setStr(&p.OnLeave, OnLeavePause)
		setDur(&p.LeaveGrace, DefaultLeaveGrace)
		setDur(&p.MaxWindow, DefaultMaxWindow)
	}
}

// validateApproval checks approval_policies and notify.
func (c *Config) validateApproval(pr *problems) {
	for i, p := range c.ApprovalPolicies {
		key := fmt.Sprintf("approval_policies[%d]", i)
		if len(p.Hosts) == 0 {
			pr.add(key+".hosts", "is empty; list host names, globs or key=value labels the policy applies to")
		}
		for j, pat := range p.Hosts {
			if err := checkPattern(pat); err != nil {
				pr.add(fmt.Sprintf("%s.hosts[%d]", key, j), "%v", err)
			}
		}
		// 0 (or no count) means the default, 1: SetDefaults has filled it.
		if p.Count < 1 || p.Count > 10 {
			pr.add(key+".count", "is %d; use 1 to 10 distinct approvers", p.Count)
		}
		for j, r := range p.ApproverRoles {
			if _, ok := c.Roles[r]; !ok {
				pr.add(fmt.Sprintf("%s.approver_roles[%d]", key, j), "role %q is not defined under roles", r)
			}
		}
		if p.PendingTimeout < time.Second {
			pr.add(key+".pending_timeout", "is %s; use at least 1s (e.g. 15m)", formatDuration(p.PendingTimeout))
		}
		if p.LeaveGrace < 0 {
			pr.add(key+".leave_grace", "is %s; use a positive duration (e.g. 5m; 0 means the default, 5m)", formatDuration(p.LeaveGrace))
		}
		if p.MaxWindow < time.Minute || p.MaxWindow > MaxMaxWindow {
			pr.add(key+".max_window", "is %s; use 1m to 7d (e.g. 4h; 0 means the default, 4h)", formatDuration(p.MaxWindow))
		}
		if p.OnLeave != OnLeavePause && p.OnLeave != OnLeaveTerminate {
			pr.add(key+".on_leave", "%q: use %q or %q", p.OnLeave, OnLeavePause, OnLeaveTerminate)
		}
	}
	n := c.Notify
	if n.WebhookURL != "" {
		u, err := url.Parse(n.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			pr.add("notify.webhook_url", "%q is not an http(s) URL (e.g. https://chat.example.org/hooks/foureyes)", n.WebhookURL)
		}
		if n.WebhookSecret == "" && n.SecretFile == "" {
			pr.add("notify.webhook_secret", "is required with notify.webhook_url; put a long random string shared with the receiver in notify.secret_file (mode 0600)")
		}
	}
}
