package devstack

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/ingest"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/transport"
)

// TestAuditConnectionCannotWrite: the connection behind the gateway's
// audit commands is the read-only audit user: it reads, and it is refused
// every write a compromised bastion would try to rewrite history with.
// The users' passwords are in files only their owner may read.
func TestAuditConnectionCannotWrite(t *testing.T) {
	st := startStack(t)
	ctx := context.Background()
	var n uint64
	if err := st.Audit.QueryRow(ctx, "SELECT count() FROM events").Scan(&n); err != nil {
		t.Fatalf("audit user cannot read: %v", err)
	}
	// Every audit verb still works through the read-only user, the
	// retention status (system.parts) included.
	for _, verb := range [][]string{{"sessions"}, {"retention"}, {"holds"}} {
		res := sshtest.Run(t, st.client("carol", false, append([]string{"audit"}, verb...)...))
		if res.Exit != 0 {
			t.Errorf("audit %v as carol: exit %d\n%s%s", verb, res.Exit, res.Stdout, res.Stderr)
		}
	}
	for _, q := range []string{
		"INSERT INTO events (session, seq) SELECT 'forged', 0",
		"INSERT INTO holds SELECT * FROM holds",
		"ALTER TABLE events DROP PARTITION (3, 20260314)",
		"ALTER TABLE events UPDATE data = '' WHERE 1",
		"ALTER TABLE events DELETE WHERE 1",
		"DROP TABLE events",
		"TRUNCATE TABLE sessions",
		"CREATE TABLE forged (x UInt8) ENGINE = Memory",
		"SET readonly = 0",
	} {
		err := st.Audit.Exec(ctx, q)
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || ex.Code != 164 {
			t.Errorf("audit user: %s = %v; want refused with code 164 (readonly)", q, err)
		}
	}
	// The administrator has a password too: other local users cannot
	// connect as "default" and rewrite the recordings.
	if _, err := ingest.Connect(ctx, config.ClickHouse{Addr: st.ch.Addr, Database: "foureyes"}); !errors.Is(err, transport.ErrRefused) {
		t.Errorf("default user without password: %v; want refused", err)
	}
	for _, role := range []string{"admin", "ingest", "retention", "audit", "holds"} {
		fi, err := os.Stat(filepath.Join(st.Dir, "secrets", role+".password"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s.password has mode %04o; want 0600", role, fi.Mode().Perm())
		}
	}
	fi, err := os.Stat(filepath.Join(st.Dir, "clickhouse", "users.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("users.xml has mode %04o; want 0600", fi.Mode().Perm())
	}
}
