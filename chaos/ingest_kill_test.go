package chaos

import (
	"fmt"
	"testing"
)

// testIngestKill builds a backlog of about 18,000 events in Kafka
// with ingest stopped, starts ingest and SIGKILLs it as soon as its first
// rows are visible (in the middle of the backlog, between inserts and
// commits), then restarts it: no duplicate is visible, counts are exact.
func testIngestKill(t *testing.T) {
	// Small chunks make many events; small batches make many inserts.
	s := newStack(t, stackOptions{chunkBytes: 256, batchRows: 2000})
	g, in := s.gateways[0], s.ingests[0]
	in.proc.stop(t)
	in.proc = nil
	before := s.count()

	l := s.newLoad()
	for range 8 {
		l.bulk(g, 100000) // 589 KB: about 2300 events each
	}
	l.finish()
	waitFor(t, "the backlog published", convergeTimeout, func() (bool, string) {
		n, err := gatewaySpoolEvents(g)
		return err == nil && n == 0, fmt.Sprintf("spool events %v (%v)", n, err)
	})

	s.startIngest(in)
	waitFor(t, "ingest inserting the backlog", convergeTimeout, func() (bool, string) {
		n := s.count()
		return n > before, fmt.Sprintf("%d events stored, %d before", n, before)
	})
	in.proc.kill()
	t.Logf("ingest killed with %d events stored", s.count()-before)
	s.startIngest(in)
	s.checkPipeline()
}
