package chaos

import "testing"

// testClickHouseDown stops clickhouse-server during active sessions for
// the outage and restarts it on the same directory and ports: ingest
// retries, nothing is lost or shown twice.
func testClickHouseDown(t *testing.T) {
	s := newStack(t, stackOptions{})
	testOutage(t, s, "ClickHouse", s.stopClickHouse, s.startClickHouse)
}
