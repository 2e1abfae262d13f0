package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/transport"
)

// Connect opens a native-protocol connection pool to the server of c,
// creates c.Database when it is missing and returns a pool whose default
// database is c.Database. Zero fields of c take the config package
// defaults. Pass c.As(role) to connect with the credentials of one part
// (least privilege); with c.TLS enabled the connection uses TLS and
// verifies the server's certificate. A refused user, password, grant or
// certificate is an error wrapping transport.ErrRefused that names the
// setting to fix.
func Connect(ctx context.Context, c config.ClickHouse) (driver.Conn, error) {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:9000"
	}
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if !config.IsSQLIdentifier(c.Database) {
		return nil, fmt.Errorf("%w: clickhouse.database %q: use letters, digits and underscores", ErrConfig, c.Database)
	}
	conn, err := open(ctx, c, c.Database)
	if !hasCode(err, codeUnknownDatabase) {
		return conn, err
	}
	// The handshake names the default database, which must exist: create it
	// through a connection to "default". Only then, so that a user without
	// the CREATE DATABASE grant can use an existing database.
	boot, err := open(ctx, c, "default")
	if errors.Is(err, transport.ErrRefused) {
		return nil, fmt.Errorf("ingest: database %s does not exist and user %s (%s) may not create it: create it as an administrator (CREATE DATABASE %s): %w",
			c.Database, c.Username, c.UserKey(), c.Database, err)
	}
	if err != nil {
		return nil, err
	}
	err = boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+c.Database)
	boot.Close()
	if err != nil {
		return nil, fmt.Errorf("ingest: create database %s: %w", c.Database, transport.ExplainClickHouse(err, c))
	}
	return open(ctx, c, c.Database)
}

func open(ctx context.Context, c config.ClickHouse, database string) (driver.Conn, error) {
	tlsc, err := transport.ClientTLS(c.TLS, "clickhouse.tls")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		TLS:      tlsc,
		Protocol: clickhouse.Native,
		Addr:     []string{c.Addr},
		Auth: clickhouse.Auth{
			Database: database,
			Username: c.Username,
			Password: c.Password,
		},
		DialTimeout: c.DialTimeout,
		// Bound a single read from a server that stopped answering; inserts
		// of 100k rows take well under a second.
		ReadTimeout: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: open clickhouse %s: %w", c.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ingest: clickhouse %s as %s: %w", c.Addr, c.Username, transport.ExplainClickHouse(err, c))
	}
	return conn, nil
}

// ServerVersion returns the server's version string, e.g. "18.16.1" or
// "24.8.4.13".
func ServerVersion(ctx context.Context, conn driver.Conn) (string, error) {
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return "", fmt.Errorf("ingest: server version: %w", err)
	}
	return v, nil
}

// features are the optional server capabilities derived from its version.
type features struct {
	// TTL reports whether the server supports table TTL (19.6 and later).
	TTL bool
	// Codecs reports whether the server supports column CODEC(...) (19.1
	// and later).
	Codecs bool
}

// detectFeatures derives features from a version string; an unparsable
// version is treated as the oldest supported server.
func detectFeatures(version string) features {
	major, minor := parseVersion(version)
	atLeast := func(ma, mi int) bool { return major > ma || major == ma && minor >= mi }
	return features{TTL: atLeast(19, 6), Codecs: atLeast(19, 1)}
}

// parseVersion returns the first two numeric components of v.
func parseVersion(v string) (major, minor int) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	return major, minor
}

// ReadOnly reports whether the user of conn may only read (its readonly
// setting is not 0). The gateway checks its audit user with it: a user
// that may write could let a compromised bastion rewrite history.
func ReadOnly(ctx context.Context, conn driver.Conn) (bool, error) {
	var v string
	if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'readonly'").Scan(&v); err != nil {
		return false, fmt.Errorf("ingest: readonly setting: %w", err)
	}
	return v != "0", nil
}
