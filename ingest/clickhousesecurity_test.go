package ingest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/internal/chserver"
	"github.com/foureyes/foureyes/internal/testca"
	"github.com/foureyes/foureyes/transport"
)

// secureServer is a clickhouse-server with the secure native port and
// one user per part, as docs/operations.md sets them up.
type secureServer struct {
	*chserver.Server
	ca, other testca.Files
	db        string
	// ch reaches the server over TLS with the CA; As(role) picks the user.
	ch config.ClickHouse
}

// Passwords of the secureServer users.
const (
	ingestPassword    = "s3cret-ingest"
	retentionPassword = "s3cret-retention"
	auditPassword     = "s3cret-audit"
)

func startSecureServer(t *testing.T) *secureServer {
	t.Helper()
	ca, err := testca.New("foureyes test clickhouse CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := ca.WriteFiles(dir, "clickhouse")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := testca.New("another CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := otherCA.WriteFiles(dir, "other")
	if err != nil {
		t.Fatal(err)
	}
	db := "secure"
	srv := chserver.StartWithForTest(t, chserver.Options{
		TLS: &chserver.TLS{CertFile: files.Cert, KeyFile: files.Key},
		Users: []chserver.User{
			{Name: "foureyes_ingest", Password: ingestPassword, Databases: []string{db}},
			{Name: "foureyes_retention", Password: retentionPassword, Databases: []string{db}},
			{Name: "foureyes_audit", Password: auditPassword, ReadOnly: true, Databases: []string{db}},
			// allowed a database nobody created
			{Name: "foureyes_late", Password: "late", Databases: []string{"late"}},
		},
	})
	// The database is created by an administrator: the parts' users may
	// use only it, and 18.16 lets none of them reach "default" to create it.
	admin, err := Connect(context.Background(), config.ClickHouse{Addr: srv.Addr, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	admin.Close()
	return &secureServer{Server: srv, ca: files, other: other, db: db, ch: config.ClickHouse{
		Addr: srv.SecureAddr, Database: db,
		TLS:       config.TLS{Enabled: true, CAFile: files.CA},
		Ingest:    config.Credentials{Username: "foureyes_ingest", Password: ingestPassword},
		Retention: config.Credentials{Username: "foureyes_retention", Password: retentionPassword},
		Audit:     config.Credentials{Username: "foureyes_audit", Password: auditPassword},
	}}
}

// TestClickHouseOverTLSLeastPrivilege: ingest migrates and writes over
// TLS with its own user; the audit user reads, and every kind of write
// it tries is refused by the server.
func TestClickHouseOverTLSLeastPrivilege(t *testing.T) {
	s := startSecureServer(t)
	ctx := context.Background()
	w, err := Connect(ctx, s.ch.As(config.RoleIngest))
	if err != nil {
		t.Fatalf("ingest user over TLS: %v", err)
	}
	defer w.Close()
	if err := Migrate(ctx, w, s.db); err != nil {
		t.Fatalf("migrate as the ingest user: %v", err)
	}
	if err := w.Exec(ctx, "INSERT INTO expired_sessions (session, class, retention_days, expired_at) SELECT 's1', 'logs', 3, now()"); err != nil {
		t.Fatalf("ingest user insert: %v", err)
	}

	a, err := Connect(ctx, s.ch.As(config.RoleAudit))
	if err != nil {
		t.Fatalf("audit user over TLS: %v", err)
	}
	defer a.Close()
	if n := count(t, a, "SELECT count() FROM expired_sessions"); n != 1 {
		t.Errorf("audit user reads %d rows; want 1", n)
	}
	for _, q := range []string{
		"INSERT INTO expired_sessions (session, class, retention_days, expired_at) SELECT 'forged', 'logs', 3, now()",
		"INSERT INTO events SELECT * FROM events",
		"ALTER TABLE events DROP PARTITION (3, 20260314)",
		"ALTER TABLE expired_sessions DELETE WHERE 1",
		"DROP TABLE expired_sessions",
		"TRUNCATE TABLE expired_sessions",
		"RENAME TABLE expired_sessions TO gone",
		"CREATE TABLE forged (x UInt8) ENGINE = Memory",
		"CREATE DATABASE forged",
		"SET readonly = 0",
		"OPTIMIZE TABLE events FINAL",
	} {
		err := a.Exec(ctx, q)
		if !hasCode(err, 164) { // READONLY
			t.Errorf("audit user: %s = %v; want refused (code 164, readonly)", q, err)
		}
	}
	if n := count(t, w, "SELECT count() FROM expired_sessions"); n != 1 {
		t.Errorf("after the audit user's attempts %d rows; want 1", n)
	}
	// Settings cannot lift the profile either.
	if err := a.Exec(clickhouseSettings(ctx, "readonly", 0), "INSERT INTO expired_sessions (session, class, retention_days, expired_at) SELECT 'forged', 'logs', 3, now()"); err == nil {
		t.Errorf("audit user insert with readonly=0 in the query settings succeeded")
	}
	// Other databases are out of reach.
	if _, err := Connect(ctx, withDatabase(s.ch.As(config.RoleAudit), "default")); !errors.Is(err, transport.ErrRefused) || !strings.Contains(err.Error(), "lack the grant") {
		t.Errorf("audit user on database default: %v; want ErrRefused, may lack the grant", err)
	}
}

// TestClickHouseRefused: a wrong CA, a wrong password, an unknown user, a
// missing grant and TLS to the plaintext port each fail Connect with one
// line naming the setting.
func TestClickHouseRefused(t *testing.T) {
	s := startSecureServer(t)
	ctx := context.Background()
	audit := s.ch.As(config.RoleAudit)
	tests := []struct {
		name string
		ch   config.ClickHouse
		want string
	}{
		{"wrong CA", withTLS(audit, config.TLS{Enabled: true, CAFile: s.other.CA}), "check clickhouse.tls.ca_file"},
		{"system roots", withTLS(audit, config.TLS{Enabled: true}), "check clickhouse.tls.ca_file"},
		{"wrong server name", withTLS(audit, config.TLS{Enabled: true, CAFile: s.ca.CA, ServerName: "clickhouse.example.org"}), "check clickhouse.tls.server_name or clickhouse.addr"},
		{"TLS to the plaintext port", withAddr(audit, s.Addr), "check clickhouse.tls.enabled and clickhouse.addr"},
		{"wrong password", withPassword(audit, "guess"), `check clickhouse.audit.username and its password (user "foureyes_audit")`},
		{"unknown user", withUser(s.ch, "mallory", auditPassword), `check clickhouse.audit.username and its password (user "mallory")`},
		{"missing grant", withDatabase(s.ch.As(config.RoleIngest), "default"), `user "foureyes_ingest" (clickhouse.ingest.username) may lack the grant on database "default"`},
		{"database missing, user may not create it", lateUser(s.ch), "database late does not exist and user foureyes_late (clickhouse.ingest.username) may not create it: create it as an administrator (CREATE DATABASE late)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := Connect(ctx, tt.ch)
			if err == nil {
				conn.Close()
			}
			if !errors.Is(err, transport.ErrRefused) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Connect = %v; want ErrRefused naming %q", err, tt.want)
			}
			t.Log(err)
			if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q is not one line or shows a password", err)
			}
		})
	}
}

// clickhouseSettings returns ctx carrying one query setting.
func clickhouseSettings(ctx context.Context, name string, v any) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{name: v}))
}

// lateUser is ingest as foureyes_late, on the database it may use but
// that does not exist.
func lateUser(c config.ClickHouse) config.ClickHouse {
	c.Database = "late"
	c.Ingest = config.Credentials{Username: "foureyes_late", Password: "late"}
	return c.As(config.RoleIngest)
}

func withTLS(c config.ClickHouse, t config.TLS) config.ClickHouse { c.TLS = t; return c }
func withAddr(c config.ClickHouse, a string) config.ClickHouse    { c.Addr = a; return c }
func withDatabase(c config.ClickHouse, db string) config.ClickHouse {
	c.Database = db
	return c
}
func withPassword(c config.ClickHouse, p string) config.ClickHouse { c.Password = p; return c }

// withUser gives the audit part user u: As is applied after.
func withUser(c config.ClickHouse, u, p string) config.ClickHouse {
	c.Audit = config.Credentials{Username: u, Password: p}
	return c.As(config.RoleAudit)
}
