package gateway

import (
	"io"
	"strconv"
	"testing"

	"github.com/foureyes/foureyes/config"
)

// BenchmarkWriteSSHConfig measures the `config` verb's work for a user
// who may reach every host of a large configuration (1000 hosts, a
// tenth of them four-eyes): authorization, name checks and formatting.
func BenchmarkWriteSSHConfig(b *testing.B) {
	cfg := &config.Config{
		Roles:            map[string]config.Role{"admin": {Connect: []string{"*"}}},
		Users:            []config.User{{Name: "alice", Roles: []string{"admin"}}},
		ApprovalPolicies: []config.ApprovalPolicy{{Hosts: []string{"env=production"}}},
	}
	for i := range 1000 {
		h := config.Host{Name: "host-" + strconv.Itoa(i)}
		if i%10 == 0 {
			h.Labels = map[string]string{"env": "production"}
		}
		cfg.Hosts = append(cfg.Hosts, h)
	}
	o := SSHConfigOptions{Host: "bastion.example.org", Port: "2222"}
	b.ReportAllocs()
	for b.Loop() {
		res, err := WriteSSHConfig(io.Discard, cfg, "alice", o)
		if err != nil || len(res.Hosts) != 1000 {
			b.Fatalf("WriteSSHConfig = %d hosts, %v", len(res.Hosts), err)
		}
	}
}
