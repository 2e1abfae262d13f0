package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/config"
)

// Migrate brings the schema in database up to date. It records every
// applied step in schema_migrations and skips recorded ones, so running it
// again is a no-op. Two processes migrating at once are safe: every step is
// idempotent, and a step recorded twice counts once.
func Migrate(ctx context.Context, conn driver.Conn, database string) error {
	return migrate(ctx, conn, database, migrations)
}

// migrate applies the unrecorded steps of list.
func migrate(ctx context.Context, conn driver.Conn, database string, list []migration) error {
	if !config.IsSQLIdentifier(database) {
		return fmt.Errorf("%w: database %q: use letters, digits and underscores", ErrConfig, database)
	}
	version, err := ServerVersion(ctx, conn)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMigration, err)
	}
	f := detectFeatures(version)
	if err := schemaMigrationsDDL(database).apply(ctx, conn, database); err != nil {
		return fmt.Errorf("%w: schema_migrations: %w", ErrMigration, err)
	}
	applied, err := appliedMigrations(ctx, conn, database)
	if err != nil {
		return err
	}
	for _, m := range list {
		if applied[m.version] {
			continue
		}
		for _, st := range m.steps(database, f) {
			if err := st.apply(ctx, conn, database); err != nil {
				return fmt.Errorf("%w: %d %s: %w", ErrMigration, m.version, m.name, err)
			}
		}
		if err := recordMigration(ctx, conn, database, m); err != nil {
			return fmt.Errorf("%w: record %d %s: %w", ErrMigration, m.version, m.name, err)
		}
	}
	return nil
}

// recordMigration inserts the schema_migrations row of m. It uses a batch:
// 18.16 waits for a data block after INSERT … VALUES sent as a query.
func recordMigration(ctx context.Context, conn driver.Conn, database string, m migration) error {
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+database+".schema_migrations (version, name, applied_at)")
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Append(m.version, m.name, time.Now()); err != nil {
		return err
	}
	return b.Send()
}

// appliedMigrations returns the recorded migration versions.
func appliedMigrations(ctx context.Context, conn driver.Conn, database string) (map[uint32]bool, error) {
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT version FROM %s.schema_migrations", database))
	if err != nil {
		return nil, fmt.Errorf("%w: read schema_migrations: %w", ErrMigration, err)
	}
	defer rows.Close()
	applied := map[uint32]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("%w: read schema_migrations: %w", ErrMigration, err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: read schema_migrations: %w", ErrMigration, err)
	}
	return applied, nil
}
