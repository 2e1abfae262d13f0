package query

import "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

// WithHoldsConn makes Hold and Release write through conn, while every
// question is asked through the Store's own connection. The gateway reads
// with a read-only ClickHouse user and writes holds with a user that may
// insert into the holds table only (least privilege, see
// docs/operations.md).
func WithHoldsConn(conn driver.Conn) Option {
	return func(s *Store) { s.holds = conn }
}

// holdsWriter returns the connection that writes holds.
func (s *Store) holdsWriter() driver.Conn {
	if s.holds != nil {
		return s.holds
	}
	return s.conn
}
