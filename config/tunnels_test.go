package config

import (
	"strings"
	"testing"
	"time"
)

func TestTunnelsAndMaxWindow(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(base(), `address: "10.0.0.6:22",`, `address: "10.0.0.6:22", tunnels: ["127.0.0.1:5432", "db.internal:5432"],`, 1) + `
approval_policies:
  - hosts: ["env=production"]
  - hosts: ["staging"]
    max_window: 30m
`))
	if err != nil {
		t.Fatal(err)
	}
	staging, _ := c.Host("staging")
	prod, _ := c.Host("prod")
	for _, tt := range []struct {
		host *Host
		dest string
		want bool
	}{
		{staging, "127.0.0.1:5432", true},
		{staging, "db.internal:5432", true},
		{staging, "localhost:5432", false}, // exact match only
		{staging, "127.0.0.1:5433", false},
		{prod, "127.0.0.1:5432", false}, // no tunnels: none allowed
	} {
		if got := tt.host.AllowsTunnel(tt.dest); got != tt.want {
			t.Errorf("%s AllowsTunnel(%q) = %v; want %v", tt.host.Name, tt.dest, got, tt.want)
		}
	}
	p, _ := c.ApprovalPolicy(prod)
	s, _ := c.ApprovalPolicy(staging)
	if p.MaxWindow != DefaultMaxWindow || s.MaxWindow != 30*time.Minute {
		t.Errorf("max_window = %v, %v; want %v, 30m", p.MaxWindow, s.MaxWindow, DefaultMaxWindow)
	}
}

func TestTunnelsAndMaxWindowInvalid(t *testing.T) {
	tests := []struct {
		name, tunnels, policy, key, want string
	}{
		{"no port", `["127.0.0.1"]`, "", "hosts[1].tunnels[0]", "is not ADDRESS:PORT"},
		{"port zero", `["127.0.0.1:0"]`, "", "hosts[1].tunnels[0]", "port must be 1 to 65535"},
		{"port too big", `["127.0.0.1:70000"]`, "", "hosts[1].tunnels[0]", "port must be 1 to 65535"},
		{"named port", `["127.0.0.1:postgres"]`, "", "hosts[1].tunnels[0]", "port must be 1 to 65535"},
		{"empty address", `[":5432"]`, "", "hosts[1].tunnels[0]", "is not ADDRESS:PORT"},
		{"ssh port", `["127.0.0.1:22"]`, "", "hosts[1].tunnels[0]", "SSH port"},
		{"control character", "[\"db\\x01x:5432\"]", "", "hosts[1].tunnels[0]", "IP address or a DNS name"},
		{"duplicate", `["127.0.0.1:5432", "127.0.0.1:5432"]`, "", "hosts[1].tunnels[1]", "appears twice"},
		{"window too long", `[]`, "max_window: 200h", "approval_policies[0].max_window", "use 1m to 7d"},
		{"window too short", `[]`, "max_window: 30s", "approval_policies[0].max_window", "use 1m to 7d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := strings.Replace(base(), `address: "10.0.0.6:22",`, `address: "10.0.0.6:22", tunnels: `+tt.tunnels+`,`, 1)
			y += "approval_policies:\n  - hosts: [\"env=production\"]\n"
			if tt.policy != "" {
				y += "    " + tt.policy + "\n"
			}
			_, err := Parse([]byte(y))
			if err == nil || !strings.Contains(err.Error(), tt.key) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v; want %s … %s", err, tt.key, tt.want)
			}
		})
	}
}
