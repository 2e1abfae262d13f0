// Package deploy holds what an operator needs to run foureyes; its test keeps
// the shipped example configuration valid.
package deploy

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/internal/testca"
)

// TestExampleConfigIsValid loads the example with its /etc/foureyes files
// (CA certificates, secrets of mode 0600) made up in a temporary
// directory. The example holds no secret itself, so it may be readable.
func TestExampleConfigIsValid(t *testing.T) {
	b, err := os.ReadFile("foureyes.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, d := range []string{"tls", "secrets"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := testca.New("example CA")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kafka-ca.pem", "clickhouse-ca.pem"} {
		if err := os.WriteFile(filepath.Join(root, "tls", name), ca.CertPEM(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"kafka.password", "clickhouse-ingest.password", "clickhouse-retention.password",
		"clickhouse-audit.password", "clickhouse-holds.password", "webhook.secret"} {
		if err := os.WriteFile(filepath.Join(root, "secrets", name), []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(root, "foureyes.yaml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "/etc/foureyes/", root+"/")), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.CheckFile(p, config.PartGateway, config.PartIngest)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Kafka.TLS.Enabled || !c.Kafka.SASL.Enabled() || !c.ClickHouse.TLS.Enabled {
		t.Errorf("the example does not show TLS and SASL on")
	}
	if a := c.ClickHouse.As(config.RoleAudit); a.Username != "foureyes_audit" || a.Password != "s3cret" {
		t.Errorf("audit user %q/%q; want foureyes_audit with the password from its file", a.Username, a.Password)
	}
}

// TestUnitsPutSessionsFirst keeps the shipped priorities of
// docs/operations.md ("CPU priorities"): ingest and a co-located
// ClickHouse yield the CPU to the gateway's sessions, and the gateway
// itself is not lowered. internal/benche2e applies the same Nice= values
// when it measures.
func TestUnitsPutSessionsFirst(t *testing.T) {
	for _, tc := range []struct {
		file  string
		yield bool
	}{
		{"foureyes-ingest.service", true},
		{"clickhouse-server.service.d/foureyes.conf", true},
		{"foureyes-gateway.service", false},
	} {
		keys := unitKeys(t, tc.file)
		nice, weight := keys["Nice"], keys["CPUWeight"]
		if !tc.yield {
			if nice != "" || weight != "" {
				t.Errorf("%s: Nice=%q CPUWeight=%q; the gateway keeps the default priority", tc.file, nice, weight)
			}
			continue
		}
		if n, err := strconv.Atoi(nice); err != nil || n < 10 {
			t.Errorf("%s: Nice=%q; want 10 or more", tc.file, nice)
		}
		if w, err := strconv.Atoi(weight); err != nil || w >= 100 {
			t.Errorf("%s: CPUWeight=%q; want below the default 100", tc.file, weight)
		}
	}
}

// unitKeys returns the Key=value lines of the [Service] section of a
// systemd unit file (the last value of a key wins, as in systemd).
func unitKeys(t *testing.T, file string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			if k, v, ok := strings.Cut(line, "="); ok {
				keys[k] = v
			}
		}
	}
	if section == "" {
		t.Fatalf("%s: no section", file)
	}
	return keys
}
