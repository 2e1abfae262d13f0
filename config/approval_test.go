package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestApprovalPolicyDefaultsAndMatch(t *testing.T) {
	c, err := Parse([]byte(base() + `
approval_policies:
  - hosts: ["env=production"]
  - hosts: ["stag*"]
    count: 2
    approver_roles: [reviewer]
    pending_timeout: 1m
    on_leave: terminate
    leave_grace: 10s
    allow_peer_input: true
    exec: false
notify: {webhook_url: "https://chat.example.org/hook", webhook_secret: s3cret}
`))
	if err != nil {
		t.Fatal(err)
	}
	prod, _ := c.Host("prod")
	staging, _ := c.Host("staging")
	p, ok := c.ApprovalPolicy(prod)
	if !ok {
		t.Fatal("prod: no policy")
	}
	if p.Count != 1 || p.PendingTimeout != DefaultPendingTimeout || p.OnLeave != OnLeavePause || p.LeaveGrace != DefaultLeaveGrace || p.AllowPeerInput || !p.RequiresExecApproval() {
		t.Errorf("prod policy defaults = %+v", p)
	}
	s, ok := c.ApprovalPolicy(staging)
	if !ok {
		t.Fatal("staging: no policy")
	}
	if s.Count != 2 || s.PendingTimeout != time.Minute || s.OnLeave != OnLeaveTerminate || s.LeaveGrace != 10*time.Second || !s.AllowPeerInput || s.RequiresExecApproval() {
		t.Errorf("staging policy = %+v", s)
	}
	alice, _ := c.User("alice")
	bob, _ := c.User("bob")
	tests := []struct {
		name string
		user *User
		host *Host
		pol  *ApprovalPolicy
		want bool
	}{
		{"reviewer on production", bob, prod, p, true},
		{"admin without approve", alice, prod, p, false},
		{"reviewer without approve on staging", bob, staging, s, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.CanApproveSession(tt.user, tt.host, tt.pol); got != tt.want {
				t.Errorf("CanApproveSession = %v; want %v", got, tt.want)
			}
		})
	}
	if got := c.Approvers(prod, p, "alice"); strings.Join(got, ",") != "bob" {
		t.Errorf("Approvers = %v; want [bob]", got)
	}
	if got := c.Approvers(prod, p, "bob"); len(got) != 0 {
		t.Errorf("Approvers excluding the requester bob = %v; want none", got)
	}
}

func TestApprovalPolicyRoleRestriction(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(base(), "auditor: {audit: true}", "auditor: {audit: true, approve: [\"*\"]}", 1) + `
approval_policies:
  - {hosts: [prod], approver_roles: [reviewer]}
`))
	if err != nil {
		t.Fatal(err)
	}
	prod, _ := c.Host("prod")
	p, _ := c.ApprovalPolicy(prod)
	carol, _ := c.User("carol")
	if c.CanApproveSession(carol, prod, p) {
		t.Error("carol approves although approver_roles excludes her role")
	}
	if _, ok := c.ApprovalPolicy(&Host{Name: "other"}); ok {
		t.Error("a host matching no policy needs approval")
	}
}

func TestApprovalPolicyInvalid(t *testing.T) {
	tests := []struct {
		name, yaml, key string
	}{
		{"no hosts", "approval_policies: [{count: 1}]", "approval_policies[0].hosts"},
		{"bad selector", "approval_policies: [{hosts: [\"env=\"]}]", "approval_policies[0].hosts[0]"},
		{"count", "approval_policies: [{hosts: [prod], count: 11}]", "approval_policies[0].count"},
		{"negative count", "approval_policies: [{hosts: [prod], count: -1}]", "approval_policies[0].count: is -1; use 1 to 10 distinct approvers"},
		{"count not a number", "approval_policies: [{hosts: [prod], count: two}]", `approval_policies[0].count (line 20): "two" is not a number`},
		{"unknown role", "approval_policies: [{hosts: [prod], approver_roles: [nobody]}]", "approval_policies[0].approver_roles[0]"},
		{"on_leave", "approval_policies: [{hosts: [prod], on_leave: explode}]", "approval_policies[0].on_leave"},
		{"timeout", "approval_policies: [{hosts: [prod], pending_timeout: 10ms}]", "approval_policies[0].pending_timeout"},
		{"grace", "approval_policies: [{hosts: [prod], leave_grace: -1s}]", "approval_policies[0].leave_grace"},
		{"webhook url", "notify: {webhook_url: \"ftp://x\", webhook_secret: s}", "notify.webhook_url"},
		{"webhook secret", "notify: {webhook_url: \"https://x.example/h\"}", "notify.webhook_secret"},
		{"unknown key", "approval_policies: [{hosts: [prod], cout: 2}]", "cout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(base() + tt.yaml + "\n"))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("Parse = %v; want ErrInvalid naming %s", err, tt.key)
			}
		})
	}
}

// TestApprovalCountDefault checks that count 0, like no count, means the
// documented default of one approver (docs/config.md).
func TestApprovalCountDefault(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       int
	}{
		{"omitted", "approval_policies: [{hosts: [prod]}]", 1},
		{"zero", "approval_policies: [{hosts: [prod], count: 0}]", 1},
		{"three", "approval_policies: [{hosts: [prod], count: 3}]", 3},
		{"ten", "approval_policies: [{hosts: [prod], count: 10}]", 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(base() + tt.yaml + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ApprovalPolicies[0].Count; got != tt.want {
				t.Errorf("count = %d; want %d", got, tt.want)
			}
		})
	}
}
