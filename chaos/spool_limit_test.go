package chaos

import (
	"fmt"
	"strings"
	"testing"
)

// spoolLimit is gateway.spool_max_bytes of the spool-limit scenario: the
// smallest the configuration allows.
const spoolLimit = 1 << 20

// testSpoolLimit fills a 1 MiB spool with Kafka down: the session that hits
// the limit is terminated with a clear message (recording is fail-closed),
// and once Kafka is back everything recorded, the session.end marked
// interrupted included, arrives and verifies.
func testSpoolLimit(t *testing.T) {
	s := newStack(t, stackOptions{spoolMaxBytes: spoolLimit})
	g := s.gateways[0]
	s.stopBroker()

	l := s.newLoad()
	big := l.bulk(g, 400000) // 2.7 MB of output: more than the spool holds
	l.finish()
	if big.exit == 0 {
		t.Fatalf("session %s printed %d bytes into a %d-byte spool with Kafka down and exited 0", big.tag, big.stdout.Len(), spoolLimit)
	}
	if msg := string(big.stderr.Bytes()); !strings.Contains(msg, "recording failed") {
		t.Fatalf("session %s ended (exit %d) without saying that recording failed; stderr %q", big.tag, big.exit, msg)
	}
	t.Logf("session ended at the spool limit: exit %d after %d bytes; stderr %q", big.exit, big.stdout.Len(), big.stderr.Bytes())
	l.expect(wantInterrupted)

	s.startBroker()
	waitFor(t, "the spool drained", s.opt.convergeTimeout(), func() (bool, string) {
		n, err := gatewaySpoolEvents(g)
		return err == nil && n == 0, fmt.Sprintf("spool events %v (%v)", n, err)
	})
	s.runBulk(g, 5000) // the drained spool takes sessions again

	p := s.checkPipeline()
	end := p.events[p.byTag[big.tag]]
	if reason := end[len(end)-1].Meta["interrupt_reason"]; !strings.Contains(reason, "spool full") {
		t.Errorf("session %s: interrupt_reason %q; want the spool-full error", big.tag, reason)
	}
}
