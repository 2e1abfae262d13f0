package config

import (
	"strings"
	"testing"
	"time"
)

func TestSessionPolicies(t *testing.T) {
	c, err := Parse([]byte(base() + "session_policies:\n  - {hosts: [\"env=production\"], idle_timeout: 15m, max_duration: 8h}\n"))
	if err != nil {
		t.Fatal(err)
	}
	prod, _ := c.Host("prod")
	staging, _ := c.Host("staging")
	if sp := c.SessionPolicy(prod); sp.IdleTimeout != 15*time.Minute || sp.MaxDuration != 8*time.Hour {
		t.Errorf("prod policy = %+v", sp)
	}
	if sp := c.SessionPolicy(staging); sp.IdleTimeout != 0 || sp.MaxDuration != 0 {
		t.Errorf("staging policy = %+v; want none", sp)
	}
	_, err = Parse([]byte(base() + "session_policies:\n  - {idle_timeout: -1s, max_duration: 10ms}\n"))
	for _, want := range []string{"session_policies[0].hosts: is empty", "session_policies[0].idle_timeout: -1s is negative", "session_policies[0].max_duration: 10ms is under a second"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
