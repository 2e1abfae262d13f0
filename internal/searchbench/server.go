package searchbench

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/internal/chserver"
)

// Database is the database the generated data lives in.
const Database = "foureyes"

// OpenDir starts a clickhouse-server whose data persists under
// dir/clickhouse and returns it with a connection (default database db).
// Stop the server when done; a killed parent takes it down too.
func OpenDir(ctx context.Context, dir, db string) (*chserver.Server, driver.Conn, error) {
	srv, err := chserver.Start(ctx, filepath.Join(dir, "clickhouse"), chserver.Options{StartTimeout: 5 * time.Minute})
	if err != nil {
		return nil, nil, err
	}
	boot, err := Dial(ctx, srv.Addr, "default")
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	err = boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db)
	boot.Close()
	if err != nil {
		srv.Stop()
		return nil, nil, fmt.Errorf("searchbench: %w", err)
	}
	conn, err := Dial(ctx, srv.Addr, db)
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	return srv, conn, nil
}

// Dial opens a native connection to addr with default database db and a
// read timeout long enough for a day's INSERT … SELECT.
func Dial(ctx context.Context, addr, db string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{addr},
		Auth:        clickhouse.Auth{Database: db, Username: "default"},
		DialTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("searchbench: open %s: %w", addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("searchbench: %s: %w", addr, err)
	}
	return conn, nil
}
