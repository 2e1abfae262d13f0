package query

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// idTable is a set of session ids sent with a query as an external table
// (a temporary table the native protocol carries beside the query, in
// ClickHouse since long before 18.16, allowed to readonly users): any
// number of ids, each sent as its bytes, never spliced into the SQL. A
// query names it as `session IN name`.
type idTable struct {
	name string // an SQL identifier, a constant of this package
	ids  []string
}

// withIDTables returns ctx carrying tables for the queries run with it.
// Each call builds new tables, so that two queries running at once
// (a page and its count) never share one.
func withIDTables(ctx context.Context, tables []idTable) (context.Context, error) {
	if len(tables) == 0 {
		return ctx, nil
	}
	out := make([]*ext.Table, 0, len(tables))
	for _, t := range tables {
		tbl, err := newIDTable(t)
		if err != nil {
			return nil, err
		}
		out = append(out, tbl)
	}
	return clickhouse.Context(ctx, clickhouse.WithExternalTable(out...)), nil
}

// newIDTable builds the external table of t: one String column, session.
func newIDTable(t idTable) (*ext.Table, error) {
	tbl, err := ext.NewTable(t.name, ext.Column("session", column.Type("String")))
	if err != nil {
		return nil, fmt.Errorf("query: id table %s: %w", t.name, err)
	}
	for _, id := range t.ids {
		if err := tbl.Append(id); err != nil {
			return nil, fmt.Errorf("query: id table %s: %w", t.name, err)
		}
	}
	return tbl, nil
}
