package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLimitsDefaults(t *testing.T) {
	c, err := Parse([]byte(base()))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits
	if l.LoginGrace != 30*time.Second || l.MaxAuthTries != 3 || l.MaxUnauthenticatedPerSource != 16 ||
		l.MaxChannels != 10 || l.MaxEnv != 32 || l.MaxEnvBytes != 8192 || l.MaxUserName != 64 ||
		l.FailureReportInterval != 10*time.Second || l.ConnectionRatePerSource != 10 || l.ConnectionBurstPerSource != 50 || l.Lockout.UserFailures != 10 || l.Lockout.SourceFailures != 20 ||
		l.Lockout.Window != 10*time.Minute || l.Lockout.Duration != 15*time.Minute {
		t.Errorf("defaults = %+v", l)
	}
}

// TestLimitsCannotBeSwitchedOff checks that no limit (nor the keepalive
// that used to carry the login grace) accepts 0 or a negative value.
func TestLimitsCannotBeSwitchedOff(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"negative keepalive", "gateway: {keepalive_interval: -1s}", "gateway.keepalive_interval: is -1s; use a positive duration"},
		{"zero keepalive", "gateway: {keepalive_interval: 0s}", "gateway.keepalive_interval: is 0; this limit cannot be switched off"},
		{"zero login grace", "limits: {login_grace: 0s}", "limits.login_grace: is 0; this limit cannot be switched off"},
		{"negative login grace", "limits: {login_grace: -5s}", "limits.login_grace: is -5s; use a duration between 1s and 10m"},
		{"long login grace", "limits: {login_grace: 1h}", "limits.login_grace: is 1h; use a duration between 1s and 10m"},
		{"zero auth tries", "limits: {max_auth_tries: 0}", "limits.max_auth_tries: is 0; this limit cannot be switched off"},
		{"zero connection rate", "limits: {connection_rate_per_source: 0}", "limits.connection_rate_per_source: is 0; this limit cannot be switched off"},
		{"negative channels", "limits: {max_channels: -1}", "limits.max_channels: is -1; use a value between 1 and 1000"},
		{"zero env bytes", "limits: {max_env_bytes: 0}", "limits.max_env_bytes: is 0; this limit cannot be switched off"},
		{"huge user name", "limits: {max_user_name: 100000}", "limits.max_user_name: is 100000; use a value between 8 and 1024"},
		{"per source above global", "limits: {max_unauthenticated: 10, max_unauthenticated_per_source: 20}",
			"limits.max_unauthenticated_per_source: is 20, more than limits.max_unauthenticated (10)"},
		{"zero lockout", "limits: {lockout: {user_failures: 0}}", "limits.lockout.user_failures: is 0; this limit cannot be switched off"},
		{"negative lockout window", "limits: {lockout: {window: -1m}}", "limits.lockout.window: is -1m; use a duration between 1s and 7d"},
		{"report interval", "limits: {failure_report_interval: 2h}", "limits.failure_report_interval: is 2h; use a duration between 1s and 1h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := base() + tt.yaml + "\n"
			if g, ok := strings.CutPrefix(tt.yaml, "gateway: {"); ok {
				y = strings.Replace(base(), "gateway:\n", "gateway:\n  "+strings.TrimSuffix(g, "}")+"\n", 1)
			}
			_, err := Parse([]byte(y))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v; want a problem containing %q", err, tt.want)
			}
		})
	}
}

func TestLongUserNameRefused(t *testing.T) {
	long := strings.Repeat("a", 65)
	y := strings.Replace(base(), "name: alice", "name: "+long, 1)
	_, err := Parse([]byte(y))
	if err == nil || !strings.Contains(err.Error(), "users[0].name: is 65 bytes, longer than limits.max_user_name (64)") {
		t.Errorf("Parse = %v", err)
	}
}

// TestSharedKeyRefused: a key listed for two users would let one person
// log in as both and approve their own session as "another" person.
func TestSharedKeyRefused(t *testing.T) {
	shared := strings.Replace(base(), "users:\n", "users:\n  - {name: frank, keys: [\""+key2+"\"], roles: [reviewer]}\n", 1)
	_, err := Parse([]byte(shared))
	want := `users[2].keys[0]: key SHA256:`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `belongs to both "frank" and "bob"; give each person their own key`) {
		t.Errorf("Parse = %v; want %q… naming frank and bob", err, want)
	}
	// The same key twice for one user is harmless.
	twice := strings.Replace(base(), `keys: ["`+key1+`"]`, `keys: ["`+key1+`", "`+key1+`"]`, 1)
	if _, err := Parse([]byte(twice)); err != nil {
		t.Errorf("one user's key listed twice: %v", err)
	}
}
