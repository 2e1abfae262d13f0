package chaos

import "testing"

// TestChaos runs every fault-injection scenario, each on its own stack of
// processes (see the package documentation). Two run at a time (-parallel
// defaults to GOMAXPROCS).
func TestChaos(t *testing.T) {
	scenarios := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"kafka-down", testKafkaDown},
		{"clickhouse-down", testClickHouseDown},
		{"gateway-kill", testGatewayKill},
		{"ingest-kill", testIngestKill},
		{"ingest-failover", testIngestFailover},
		{"spool-limit", testSpoolLimit},
		{"spool-limit-best-effort", testSpoolLimitBestEffort},
		{"two-gateways", testTwoGateways},
	}
	foureyesBinary(t) // build once, before the scenarios start their clocks
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			sc.run(t)
		})
	}
}
