package chaos

import "testing"

// testClickHouseDown stops clickhouse-server during active sessions for
// the outage and restarts it on the same directory and ports: ingest
// retries, nothing is lost or shown twice.
func testClickHouseDown(t *testing.T) {
	s := newStack(t, stackOptions{})
	g := s.gateways[0]
	l := s.newLoad()
	for range 3 {
		l.paced(g)
	}
	l.typist(g)
	l.waitOutput(200)

	s.stopClickHouse()
	during := s.newLoad()
	for range 2 {
		during.bulk(g, 20000)
	}
	hold(t, "ClickHouse down", s.opt.outage)
	during.finish()
	s.startClickHouse()
	l.finish()
	s.checkPipeline()
}
