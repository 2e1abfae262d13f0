package chaos

import (
	"fmt"
	"testing"
	"time"
)

// testIngestFailover runs two ingest processes in one consumer group, both
// holding partitions, and SIGKILLs one under load: the other takes over
// its partitions once the group session times out; nothing is lost and no
// duplicate is visible.
func testIngestFailover(t *testing.T) {
	// The survivor gets the partitions once the group session of the
	// killed member times out (kafka-go's default: 30s).
	s := newStack(t, stackOptions{ingests: 2, slowConverge: 60 * time.Second})
	g := s.gateways[0]
	waitFor(t, "both ingests holding partitions", convergeTimeout, func() (bool, string) {
		a, err := groupAssignments(s.brokerAddr, group)
		return err == nil && len(a) == 2 && a[0] > 0 && a[1] > 0, fmt.Sprintf("assignments %v (%v)", a, err)
	})
	l := s.newLoad()
	for range 4 {
		l.paced(g)
	}
	l.typist(g)
	l.waitOutput(200)

	victim := s.ingests[0]
	victim.proc.kill()
	victim.proc = nil
	killed := time.Now()
	waitFor(t, "the survivor holding every partition", s.opt.convergeTimeout(), func() (bool, string) {
		a, err := groupAssignments(s.brokerAddr, group)
		return err == nil && len(a) == 1 && a[0] == s.opt.partitions, fmt.Sprintf("assignments %v (%v)", a, err)
	})
	t.Logf("the survivor took over every partition %v after the SIGKILL", time.Since(killed).Round(100*time.Millisecond))
	hold(t, "load with one ingest", s.opt.outage)
	l.finish()
	s.checkPipeline()
}
