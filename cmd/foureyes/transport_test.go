package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/ingest"
	"github.com/foureyes/foureyes/internal/broker"
	"github.com/foureyes/foureyes/internal/chserver"
)

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestIngestStopsOnRefusedCredentials: `foureyes ingest` with a wrong
// Kafka password or a wrong ClickHouse password exits 1 at start, its
// last line naming the key to fix, instead of retrying forever.
func TestIngestStopsOnRefusedCredentials(t *testing.T) {
	ch := chserver.StartWithForTest(t, chserver.Options{Users: []chserver.User{
		{Name: "foureyes_ingest", Password: "right", Databases: []string{"foureyes"}},
		{Name: "foureyes_retention", Password: "right", Databases: []string{"foureyes"}},
	}})
	admin, err := ingest.Connect(context.Background(), config.ClickHouse{Addr: ch.Addr, Database: "foureyes"})
	if err != nil {
		t.Fatal(err)
	}
	admin.Close()
	b := broker.StartSecureForTest(t, config.SASLScramSHA512, false)
	tests := []struct {
		name, kafkaPassword, chPassword, retPassword, want string
	}{
		{"kafka password", "guess", "right", "right", "check kafka.sasl.username and kafka.sasl.password_file"},
		{"clickhouse password", "s3cret-kafka", "guess", "right", `check clickhouse.ingest.username and its password (user "foureyes_ingest")`},
		// The consumer runs; the retention job's user is refused: the
		// process stops too, rather than keep data past its retention.
		{"retention password", "s3cret-kafka", "right", "guess", `check clickhouse.retention.username and its password (user "foureyes_retention")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, v := range map[string]string{"kafka.password": tt.kafkaPassword, "ch.password": tt.chPassword, "ret.password": tt.retPassword} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg := filepath.Join(dir, "c.yaml")
			body := fmt.Sprintf(`kafka:
  brokers: [%s]
  tls: {enabled: true, ca_file: %s}
  sasl: {mechanism: SCRAM-SHA-512, username: foureyes, password_file: kafka.password}
clickhouse:
  addr: %s
  ingest: {username: foureyes_ingest, password_file: ch.password}
  retention: {username: foureyes_retention, password_file: ret.password}
retention:
  signing_key_file: %s
`, b.Addr(), b.CAFiles.CA, ch.Addr, filepath.Join(dir, "retention_ed25519"))
			if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, []string{"ingest", "--config", cfg}, &stdout, &stderr)
			if ctx.Err() != nil {
				t.Fatalf("foureyes ingest still running after 60s; stderr:\n%s", stderr.String())
			}
			if code != 1 || !strings.Contains(lastLine(stderr.String()), tt.want) {
				t.Fatalf("exit %d, last line %q; want exit 1 naming %q", code, lastLine(stderr.String()), tt.want)
			}
			if strings.Contains(stderr.String(), "s3cret") || strings.Contains(stderr.String(), "guess") {
				t.Errorf("stderr shows a password:\n%s", stderr.String())
			}
		})
	}
}

// TestGatewayRefusesExposedSecrets: a configuration holding a password
// that others may read, and a secret file that others may read, stop
// `foureyes gateway` and `check-config` with the chmod that fixes it.
func TestGatewayRefusesExposedSecrets(t *testing.T) {
	dir := t.TempDir()
	base := "gateway:\n  data_dir: " + dir + "/gw\nkafka:\n  brokers: [127.0.0.1:9092]\nroles: {admin: {connect: ['*']}}\nusers:\n  - {name: alice, keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHCEr1bEd2TuhB1PU+C3F8M0p1lI2Gj0pbUhJRB4CnMl'], roles: [admin]}\n"
	inline := filepath.Join(dir, "inline.yaml")
	if err := os.WriteFile(inline, []byte(base+"clickhouse: {audit: {username: a, password: hunter2}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "audit.password")
	if err := os.WriteFile(secret, []byte("hunter2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	viaFile := filepath.Join(dir, "file.yaml")
	if err := os.WriteFile(viaFile, []byte(base+"clickhouse: {audit: {username: a, password_file: "+secret+"}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ cfg, want string }{
		{inline, "run: chmod 600 " + inline},
		{viaFile, "clickhouse.audit.password_file: config: secret readable by others: " + secret + " has mode 0644"},
	} {
		for _, args := range [][]string{{"gateway", "--config", tt.cfg}, {"check-config", "--config", tt.cfg}} {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), tt.want) || strings.Contains(stderr.String(), "hunter2") {
				t.Errorf("%v: exit %d, stderr %q; want exit 1 naming %q", args, code, stderr.String(), tt.want)
			}
		}
	}
}

// TestGatewayAuditConnectionIsReadOnly: the gateway's audit commands
// connect as clickhouse.audit, which the server refuses every write;
// holds go through clickhouse.holds; an audit user that may write is
// reported.
func TestGatewayAuditConnectionIsReadOnly(t *testing.T) {
	ch := chserver.StartWithForTest(t, chserver.Options{Users: []chserver.User{
		{Name: "foureyes_ingest", Password: "i", Databases: []string{"foureyes"}},
		{Name: "foureyes_audit", Password: "a", ReadOnly: true, Databases: []string{"foureyes"}},
		{Name: "foureyes_holds", Password: "h", Databases: []string{"foureyes"}},
	}})
	ctx := context.Background()
	w, err := ingest.Connect(ctx, config.ClickHouse{Addr: ch.Addr, Database: "foureyes"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := ingest.Migrate(ctx, w, "foureyes"); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cc := config.ClickHouse{Addr: ch.Addr, Database: "foureyes",
		Ingest: config.Credentials{Username: "foureyes_ingest", Password: "i"},
		Audit:  config.Credentials{Username: "foureyes_audit", Password: "a"},
		Holds:  config.Credentials{Username: "foureyes_holds", Password: "h"}}
	l := &lazyStore{cfg: cc, log: newLogger(&logs, slog.LevelInfo)}
	defer l.close()
	if _, err := l.get(ctx); err != nil {
		t.Fatal(err)
	}
	// 18.16 has no currentUser(): a query finds itself among the running ones.
	const whoami = "SELECT user FROM system.processes WHERE query LIKE '%whoami-4d2%' LIMIT 1"
	var user string
	if err := l.conn.QueryRow(ctx, whoami).Scan(&user); err != nil || user != "foureyes_audit" {
		t.Fatalf("audit connection user = %q (%v); want foureyes_audit", user, err)
	}
	for _, q := range []string{
		"INSERT INTO holds SELECT * FROM holds",
		"ALTER TABLE events DROP PARTITION (3, 20260314)",
		"DROP TABLE events",
	} {
		if err := l.conn.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "code: 164") {
			t.Errorf("audit connection: %s = %v; want refused, code 164", q, err)
		}
	}
	if err := l.holds.QueryRow(ctx, whoami).Scan(&user); err != nil || user != "foureyes_holds" {
		t.Errorf("holds connection user = %q (%v); want foureyes_holds", user, err)
	}
	if strings.Contains(logs.String(), "may write") {
		t.Errorf("read-only audit user reported as writer: %s", logs.String())
	}

	// An audit user that may write is reported at the first audit command.
	cc.Audit = cc.Ingest
	logs.Reset()
	l2 := &lazyStore{cfg: cc, log: newLogger(&logs, slog.LevelInfo)}
	defer l2.close()
	if _, err := l2.get(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "the clickhouse audit user may write") {
		t.Errorf("no warning for a writing audit user; logs: %s", logs.String())
	}
}
