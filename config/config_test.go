package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const key1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHCEr1bEd2TuhB1PU+C3F8M0p1lI2Gj0pbUhJRB4CnMl alice"

// key2 and key3 are bob's and carol's: one key never belongs to two users.
const (
	key2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKFp6QAUwzJpRhA6Hueuyiii6qCF8pJq0i0bTm2sATIW bob"
	key3 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIP4hXJpsY0bb+wK7JOKN+aZ1oiNAWR+6w8vABKPmYhZe carol"
)

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
  - {name: bob, keys: ["` + key2 + `"], roles: [reviewer]}
  - {name: carol, keys: ["` + key3 + `"], roles: [auditor]}
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
		{"'+' in a user name", func(s string) string { return strings.Replace(s, "name: bob", "name: bob+ops", 1) }, "users[1].name: \"bob+ops\": '+' separates"},
		{"'+' in a host name", func(s string) string { return strings.Replace(s, "name: staging", "name: stag+ing", 1) }, "hosts[1].name"},
		{"reserved host name", func(s string) string { return strings.Replace(s, "name: staging", "name: audit", 1) }, "hosts[1].name"},
		{"host named like the config verb", func(s string) string { return strings.Replace(s, "name: staging", "name: config", 1) }, `hosts[1].name: "config" is a bastion command`},
		{"bad retention", func(s string) string { return strings.Replace(s, "logs: 3d", "logs: 3 days", 1) }, `retention.classes.logs: invalid duration "3 days"`},
		{"unknown key in a section", func(s string) string {
			return strings.Replace(s, "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  keepalive_intervall: 5s", 1)
		}, "gateway.keepalive_intervall (line 4): unknown key; did you mean keepalive_interval?"},
		{"bad duration type", func(s string) string {
			return s + "approval_policies:\n  - hosts: [prod]\n    pending_timeout: 15 minutes\n"
		}, "approval_policies[0].pending_timeout (line 22)"},
		{"max hold in days", func(s string) string {
			return strings.Replace(s, "default: logs", "default: logs\n  max_hold: 400d", 1)
		}, "retention.max_hold: is 400d; at most 365d"},
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

// TestValidationMessages checks the exact problems Validate reports:
// every one, in a stable order, durations of whole days in days and no
// more of a bad key than a short printable prefix.
func TestValidationMessages(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"max hold over a year", func(s string) string {
			return strings.Replace(s, "default: logs", "default: logs\n  max_hold: 400d", 1)
		}, []string{"retention.max_hold: is 400d; at most 365d (e.g. 14d)"}},
		{"max hold negative", func(s string) string {
			return strings.Replace(s, "default: logs", "default: logs\n  max_hold: -36h", 1)
		}, []string{"retention.max_hold: is -36h; at most 365d (e.g. 14d)"}},
		{"interval too short", func(s string) string {
			return strings.Replace(s, "default: logs", "default: logs\n  interval: 30s", 1)
		}, []string{"retention.interval: is 30s; run the retention job at most once a minute (e.g. 1h)"}},
		{"class too long", func(s string) string { return strings.Replace(s, "production: 90d", "production: 70000d", 1) },
			[]string{"retention.classes.production: is 70000d; use a duration between 1d and 65535d (e.g. 90d)"}},
		{"kafka longer than the shortest class", func(s string) string {
			return strings.Replace(s, "brokers: [127.0.0.1:9092]", "brokers: [127.0.0.1:9092]\n  retention_hours: 100", 1)
		}, []string{"kafka.retention_hours: is 100, longer than the shortest retention class (3d): Kafka would keep data beyond its class; set 72 or less"}},
		{"sync interval", func(s string) string {
			return strings.Replace(s, "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  spool_sync_interval: 1s", 1)
		}, []string{"gateway.spool_sync_interval: is 1s; events must be durable within 100ms, set 100ms or less"}},
		{"binary key data", func(s string) string {
			return strings.Replace(s, `{name: alice, keys: ["`+key1+`"]`, `{name: alice, keys: ["ssh-ed25519 AAAABNQZwTMxMjM0NTY3ODkw"]`, 1)
		}, []string{`users[0].keys[0]: "ssh-ed25519 AAAABNQZ"… is not a public key; want an OpenSSH public key line, e.g. "ssh-ed25519 AAAA… alice@laptop"`}},
		{"short bad key", func(s string) string {
			return strings.Replace(s, `{name: alice, keys: ["`+key1+`"]`, `{name: alice, keys: ["ssh-rsa nope"]`, 1)
		}, []string{`users[0].keys[0]: "ssh-rsa nope" is not a public key; want an OpenSSH public key line, e.g. "ssh-ed25519 AAAA… alice@laptop"`}},
		{"private key", func(s string) string {
			return strings.Replace(s, `{name: alice, keys: ["`+key1+`"]`, `{name: alice, keys: ["-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"]`, 1)
		}, []string{`users[0].keys[0]: is a private key, which must never be shared; want an OpenSSH public key line, e.g. "ssh-ed25519 AAAA… alice@laptop" (the .pub file)`}},
		{"empty key", func(s string) string {
			return strings.Replace(s, `{name: alice, keys: ["`+key1+`"]`, `{name: alice, keys: [""]`, 1)
		}, []string{`users[0].keys[0]: is empty; want an OpenSSH public key line, e.g. "ssh-ed25519 AAAA… alice@laptop"`}},
		{"every problem, in order", func(s string) string {
			s = strings.Replace(s, "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  listen: nonsense", 1)
			s = strings.Replace(s, "127.0.0.1:9092", "kafka", 1)
			s = strings.Replace(s, `reviewer: {approve: ["env=production"]}`, `reviewer: {approve: ["env="]}`, 1)
			s = strings.Replace(s, `admin: {connect: ["*"]}`, `admin: {connect: ["["]}`, 1)
			s = strings.Replace(s, "roles: [admin]", "roles: [root]", 1)
			return strings.Replace(s, "10.0.0.5:22", "10.0.0.5", 1)
		}, []string{
			`gateway.listen: "nonsense" is not host:port (e.g. 0.0.0.0:2222)`,
			`kafka.brokers[0]: "kafka" is not host:port (e.g. kafka1:9092)`,
			`roles.admin.connect[0]: "[": bad host pattern: syntax error in pattern`,
			`roles.reviewer.approve[0]: "env=": a label selector is key=value`,
			`users[0].roles: role "root" is not defined under roles`,
			`hosts[0].address: "10.0.0.5" is not host:port (e.g. 10.0.0.5:22)`,
		}},
		{"an undefined default class is reported once", func(s string) string {
			return strings.Replace(s, "default: logs", "default: nope", 1)
		}, []string{`retention.default: "nope" is not a class in retention.classes`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.edit(base())))
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse = %v; want an *Error wrapping ErrInvalid", err)
			}
			if !reflect.DeepEqual(e.Problems, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", e.Problems, tt.want)
			}
			for _, p := range e.Problems {
				if strings.Contains(p, `\x`) || strings.Contains(p, "0m0s") {
					t.Errorf("problem %q shows raw bytes or an hour-based day count", p)
				}
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{400 * 24 * time.Hour, "400d"},
		{14 * 24 * time.Hour, "14d"},
		{36 * time.Hour, "36h"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{time.Minute, "1m"},
		{90 * time.Second, "1m30s"},
		{30 * time.Second, "30s"},
		{50 * time.Millisecond, "50ms"},
		{0, "0s"},
		{-36 * time.Hour, "-36h"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Duration(tt.in).String(); got != tt.want {
				t.Errorf("Duration(%d).String() = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestRequire checks the requirements of each part: every unmet one is
// reported, a shared one once.
func TestRequire(t *testing.T) {
	const (
		dataDir = "gateway.data_dir: is required; set a directory for keys and the spool, e.g. /var/lib/foureyes"
		brokers = "kafka.brokers: is required; list at least one host:port"
		users   = "users: is empty; nobody could log in"
	)
	tests := []struct {
		name  string
		yaml  string
		parts []Part
		want  []string
	}{
		{"empty for all", "", Parts, []string{dataDir, brokers, users}},
		{"empty for gateway", "", []Part{PartGateway}, []string{dataDir, brokers, users}},
		{"empty for ingest", "", []Part{PartIngest}, []string{brokers}},
		{"empty for nothing", "", nil, nil},
		{"brokers only for all", "kafka: {brokers: [k:9092]}", Parts, []string{dataDir, users}},
		{"brokers only for ingest", "kafka: {brokers: [k:9092]}", []Part{PartIngest}, nil},
		{"complete", base(), Parts, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var e *Error
			if err := c.Require(tt.parts...); errors.As(err, &e) {
				got = e.Problems
			} else if err != nil {
				t.Fatalf("Require = %v; want an *Error", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Require(%v):\n got %q\nwant %q", tt.parts, got, tt.want)
			}
			_, err = Check([]byte(tt.yaml), tt.parts...)
			if got := err != nil; got != (len(tt.want) > 0) {
				t.Errorf("Check(%v) = %v; want an error: %v", tt.parts, err, len(tt.want) > 0)
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

func TestSigningSection(t *testing.T) {
	base := "gateway:\n  data_dir: /tmp/fe\n"
	c, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Signing.KeyFile != "/tmp/fe/signing_ed25519" || c.Signing.SealEvery != 1000 || c.Signing.SealInterval != 10*time.Second {
		t.Errorf("signing defaults = %+v", c.Signing)
	}
	good := "ed25519:" + strings.Repeat("A", 43) + "="
	c, err = Parse([]byte(base + "signing:\n  trusted_keys: [\"" + good + "\"]\n"))
	if err != nil || len(c.Signing.TrustedPublicKeys()) != 1 {
		t.Fatalf("one trusted key: %v, %d keys", err, len(c.Signing.TrustedPublicKeys()))
	}
	for _, tt := range []struct{ yaml, key string }{
		{"signing:\n  seal_every: -5\n", "signing.seal_every"},
		{"signing:\n  seal_every: 100001\n", "signing.seal_every"},
		{"signing:\n  seal_interval: 10ms\n", "signing.seal_interval"},
		{"signing:\n  trusted_keys: [\"ssh-ed25519 AAAA\"]\n", "signing.trusted_keys[0]"},
	} {
		if _, err := Parse([]byte(base + tt.yaml)); err == nil || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("Parse(%q) = %v; want an error naming %s", tt.yaml, err, tt.key)
		}
	}
}

func TestRetentionSigningKeyFile(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"from gateway.data_dir", "gateway:\n  data_dir: /tmp/fe\n", "/tmp/fe/retention_ed25519"},
		{"ingest only", "kafka:\n  brokers: [127.0.0.1:9092]\n", DefaultRetentionKeyFile},
		{"set", "gateway:\n  data_dir: /tmp/fe\nretention:\n  signing_key_file: /srv/k\n", "/srv/k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Retention.SigningKeyFile; got != tt.want {
				t.Errorf("retention.signing_key_file = %q; want %q", got, tt.want)
			}
		})
	}
}
