package config

import (
	"errors"
	"strings"
	"testing"
)

func TestRecordingOnFailure(t *testing.T) {
	c, err := Parse([]byte(base() + `
approval_policies:
  - hosts: ["env=production"]
recording_policies:
  - hosts: ["stag*"]
    on_failure: best_effort
  - hosts: ["*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		host *Host
		want string
	}{
		{"best_effort by glob", &Host{Name: "staging"}, OnFailureBestEffort},
		{"first match wins", &Host{Name: "staging2"}, OnFailureBestEffort},
		{"default on_failure is strict", &Host{Name: "other"}, OnFailureStrict},
		{"approval hosts are strict", &Host{Name: "staging9", Labels: map[string]string{"env": "production"}}, OnFailureStrict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.RecordingOnFailure(tt.host); got != tt.want {
				t.Errorf("RecordingOnFailure(%s) = %q; want %q", tt.host.Name, got, tt.want)
			}
		})
	}
	none, err := Parse([]byte(base()))
	if err != nil {
		t.Fatal(err)
	}
	staging, _ := none.Host("staging")
	if got := none.RecordingOnFailure(staging); got != OnFailureStrict {
		t.Errorf("without recording_policies = %q; want strict", got)
	}
}

func TestRecordingPolicyInvalid(t *testing.T) {
	tests := []struct {
		name, yaml, key, fix string
	}{
		{"no hosts", "recording_policies: [{on_failure: strict}]", "recording_policies[0].hosts", "is empty"},
		{"bad selector", "recording_policies: [{hosts: [\"=x\"]}]", "recording_policies[0].hosts[0]", "key=value"},
		{"bad glob", "recording_policies: [{hosts: [\"[\"]}]", "recording_policies[0].hosts[0]", "bad host pattern"},
		{"unknown value", "recording_policies: [{hosts: [staging], on_failure: fail_open}]", "recording_policies[0].on_failure", `use "strict"`},
		{"unknown key", "recording_policies: [{hosts: [staging], on_fail: strict}]", "on_fail", ""},
		{"best_effort on an approval host",
			"approval_policies: [{hosts: [\"env=production\"]}]\nrecording_policies: [{hosts: [staging], on_failure: strict}, {hosts: [\"*\"], on_failure: best_effort}]",
			"recording_policies[1].on_failure", `host "prod", which needs four-eyes approval`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(base() + tt.yaml + "\n"))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.key) || !strings.Contains(err.Error(), tt.fix) {
				t.Errorf("Parse = %v; want ErrInvalid naming %s and saying %q", err, tt.key, tt.fix)
			}
		})
	}
	// A best_effort policy that only matches hosts without approval is fine,
	// even with an approval policy on others.
	if _, err := Parse([]byte(base() + "approval_policies: [{hosts: [\"env=production\"]}]\nrecording_policies: [{hosts: [staging], on_failure: best_effort}]\n")); err != nil {
		t.Errorf("Parse = %v; want nil", err)
	}
}
