package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// step is one idempotent schema change of a migration.
type step interface {
	apply(ctx context.Context, conn driver.Conn, db string) error
}

// Server error codes ingest acts on. The "already exists" ones mean that a
// concurrent migrator did it first.
const (
	codeCannotParseText       = 6
	codeTypeMismatch          = 53
	codeSyntaxError           = 62 // also "Max query size exceeded"
	codeCannotParseNumber     = 72
	codeTooLargeStringSize    = 131
	codeIllegalColumn         = 44 // 18.16: "column with this name already exists"
	codeDuplicateColumn       = 15 // newer servers, same meaning
	codeTableAlreadyExists    = 57
	codeUnknownDatabase       = 81
	codeDatabaseAlreadyExists = 82
)

// ddl is a statement that is idempotent by itself (CREATE … IF NOT EXISTS,
// DROP … IF EXISTS).
type ddl string

// ddlf formats a ddl statement.
func ddlf(format string, args ...any) ddl { return ddl(fmt.Sprintf(format, args...)) }

func (s ddl) apply(ctx context.Context, conn driver.Conn, _ string) error {
	err := conn.Exec(ctx, string(s))
	if hasCode(err, codeTableAlreadyExists, codeDatabaseAlreadyExists) {
		return nil // a concurrent creator won the race IF NOT EXISTS leaves open
	}
	return err
}

// addColumn adds a column unless the table has it. 18.16 has no
// ADD COLUMN IF NOT EXISTS, so the step checks system.columns first and
// accepts the "already exists" error of a concurrent migrator.
type addColumn struct {
	table  string
	column string
	// typ is the type and default, e.g. "String DEFAULT ''". New columns
	// need a default: older binaries insert without them.
	typ string
}

func (s addColumn) apply(ctx context.Context, conn driver.Conn, db string) error {
	exists := func() (bool, error) {
		var n uint64
		err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
			db, s.table, s.column).Scan(&n)
		return n > 0, err
	}
	if ok, err := exists(); err != nil || ok {
		return err
	}
	err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN %s %s", db, s.table, s.column, s.typ))
	if hasCode(err, codeIllegalColumn, codeDuplicateColumn) {
		if ok, cerr := exists(); cerr == nil && ok {
			return nil
		}
	}
	return err
}

// hasCode reports whether err is a server exception with one of codes.
func hasCode(err error, codes ...int32) bool {
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return false
	}
	for _, c := range codes {
		if ex.Code == c {
			return true
		}
	}
	return false
}
