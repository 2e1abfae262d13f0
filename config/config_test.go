package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const key1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHCEr1bEd2TuhB1PU+C3F8M0p1lI2Gj0pbUhJRB4CnMl alice"

func base() string {
	return `
gateway:
  data_dir: /tmp/fe
kafka:
  brokers: [127.0.0.1:9092]
retention:
  classes: {logs: 3d, production: 90d}
  default: logs
roles:
  admin: {connect: ["*"]}
  reviewer: {approve: ["env=production"]}
  auditor: {audit: true}
users:
  - {name: alice, keys: ["` + key1 + `"], roles: [admin]}
  - {name: bob, keys: ["` + key1 + `"], roles: [reviewer]}
  - {name: carol, keys: ["` + key1 + `"], roles: [auditor]}
hosts:
  - {name: prod, address: "10.0.0.5:22", host_key: "` + key1 + `", labels: {env: production}, class: production}
  - {name: staging, address: "10.0.0.6:22", host_key: "` + key1 + `"}
`
}

func TestParseDefaultsAndPolicy(t *testing.T) {
	c, err := Parse([]byte(base()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateGateway(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Gateway.HostKeyFile, "/tmp/fe/host_ed25519"; got != want {
		t.Errorf("HostKeyFile = %q; want %q", got, want)
	}
	if c.Gateway.ChunkBytes != 16384 || c.Gateway.ChunkInterval != 20*time.Millisecond {
		t.Errorf("chunk defaults = %d/%v", c.Gateway.ChunkBytes, c.Gateway.ChunkInterval)
	}
	staging, _ := c.Host("staging")
	prod, _ := c.Host("prod")
	if staging.Login != "root" || staging.Class != "logs" {
		t.Errorf("staging defaults: login %q class %q", staging.Login, staging.Class)
	}
	if c.RetentionDays(prod.Class) != 90 || c.RetentionDays(staging.Class) != 3 {
		t.Errorf("retention days prod %d staging %d", c.RetentionDays(prod.Class), c.RetentionDays(staging.Class))
	}
	alice, _ := c.User("alice")
	bob, _ := c.User("bob")
	carol, _ := c.User("carol")
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"alice connects prod", c.CanConnect(alice, prod), true},
		{"bob connects prod", c.CanConnect(bob, prod), false},
		{"bob approves prod (label)", c.CanApprove(bob, prod), true},
		{"bob approves staging", c.CanApprove(bob, staging), false},
		{"alice approves prod", c.CanApprove(alice, prod), false},
		{"carol audits", c.CanAudit(carol), true},
		{"alice audits", c.CanAudit(alice), false},
		{"carol connects", c.CanConnect(carol, staging), false},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v; want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestValidationNamesKey(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(string) string
		wantKey string
	}{
		{"unknown key", func(s string) string { return s + "bogus: 1\n" }, "bogus"},
		{"bad listen", func(s string) string {
			return strings.Replace(s, "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  listen: nonsense", 1)
		}, "gateway.listen"},
		{"bad broker", func(s string) string { return strings.Replace(s, "127.0.0.1:9092", "kafka", 1) }, "kafka.brokers[0]"},
		{"undefined role", func(s string) string { return strings.Replace(s, "roles: [admin]", "roles: [root]", 1) }, "users[0].roles"},
		{"bad user key", func(s string) string {
			return strings.Replace(s, `{name: alice, keys: ["`+key1+`"]`, `{name: alice, keys: ["ssh-rsa nope"]`, 1)
		}, "users[0].keys[0]"},
		{"duplicate user", func(s string) string { return strings.Replace(s, "name: bob", "name: alice", 1) }, "users[1].name"},
		{"missing host key", func(s string) string {
			return strings.Replace(s, `address: "10.0.0.6:22", host_key: "`+key1+`"`, `address: "10.0.0.6:22"`, 1)
		}, "hosts[1].host_key"},
		{"bad host address", func(s string) string { return strings.Replace(s, "10.0.0.5:22", "10.0.0.5", 1) }, "hosts[0].address"},
		{"unknown class", func(s string) string { return strings.Replace(s, "class: production", "class: forever", 1) }, "hosts[0].class"},
		{"reserved host name", func(s string) string { return strings.Replace(s, "name: staging", "name: audit", 1) }, "hosts[1].name"},
		{"bad retention", func(s string) string { return strings.Replace(s, "logs: 3d", "logs: 3 days", 1) }, "3 days"},
		{"bad default class", func(s string) string { return strings.Replace(s, "default: logs", "default: nope", 1) }, "retention.default"},
		{"bad pattern", func(s string) string { return strings.Replace(s, `connect: ["*"]`, `connect: ["["]`, 1) }, "roles.admin"},
		{"bad public address", func(s string) string {
			return strings.Replace(s, "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  public_address: \"alice@bastion\"", 1)
		}, "gateway.public_address"},
		{"sync too slow", func(s string) string {
			return strings.Replace(s, "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  spool_sync_interval: 1s", 1)
		}, "gateway.spool_sync_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.edit(base())))
			if err == nil {
				t.Fatal("Parse = nil; want error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v; want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantKey) {
				t.Errorf("err = %q; want it to name %q", err, tt.wantKey)
			}
		})
	}
}

func TestGatewayRequirements(t *testing.T) {
	c, err := Parse([]byte("kafka: {brokers: []}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateGateway(); err == nil || !strings.Contains(err.Error(), "gateway.data_dir") {
		t.Errorf("ValidateGateway = %v; want gateway.data_dir error", err)
	}
	if err := c.ValidateIngest(); err == nil || !strings.Contains(err.Error(), "kafka.brokers") {
		t.Errorf("ValidateIngest = %v; want kafka.brokers error", err)
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if _, err := Load(p); err == nil {
		t.Fatal("Load(missing) = nil; want error")
	}
	if err := os.WriteFile(p, []byte(base()), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("empty file: %v; want defaults", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"3d": 72 * time.Hour, "36h": 36 * time.Hour, "15m": 15 * time.Minute} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"d", "-3d", "3.5d", "x", "0d"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = nil error", in)
		}
	}
}
