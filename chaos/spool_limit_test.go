package chaos

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
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

// testSpoolLimitBestEffort fills the spool as testSpoolLimit does, on a host
// whose recording policy is best_effort: the session goes on and delivers
// every byte to the client, it is told recording stopped, and once Kafka is
// back a recording.failed event says what was lost, while what was recorded
// arrives and verifies.
func testSpoolLimitBestEffort(t *testing.T) {
	s := newStack(t, stackOptions{spoolMaxBytes: spoolLimit, bestEffort: true})
	g := s.gateways[0]
	s.stopBroker()

	l := s.newLoad()
	const lines = 400000
	big := l.bulk(g, lines)
	l.finish()
	want := 0
	for i := 1; i <= lines; i++ {
		want += len(strconv.Itoa(i)) + 1
	}
	if big.exit != 0 || big.stdout.Len() != want {
		t.Fatalf("best_effort session %s: exit %d after %d of %d bytes; want 0 and every byte (stderr %q)", big.tag, big.exit, big.stdout.Len(), want, big.stderr.Bytes())
	}
	if msg := string(big.stderr.Bytes()); !strings.Contains(msg, "no longer recorded") {
		t.Fatalf("session %s was not told that recording stopped; stderr %q", big.tag, msg)
	}
	l.expect(wantInterrupted)

	s.startBroker()
	waitFor(t, "the spool drained", s.opt.convergeTimeout(), func() (bool, string) {
		n, err := gatewaySpoolEvents(g)
		return err == nil && n == 0, fmt.Sprintf("spool events %v (%v)", n, err)
	})

	p := s.checkPipeline()
	id := p.byTag[big.tag]
	var failed []event.Event
	for _, evs := range p.events {
		for _, e := range evs {
			if e.Type == event.RecordingFailed && e.Meta["session"] == id {
				failed = append(failed, e)
			}
		}
	}
	var ended bool
	for _, e := range failed {
		if e.Meta["state"] == "ended" {
			ended = true
			if lost, _ := strconv.ParseInt(e.Meta["bytes_out_lost"], 10, 64); lost <= 0 {
				t.Errorf("recording.failed (ended) for %s: bytes_out_lost %q; want the unrecorded output counted", big.tag, e.Meta["bytes_out_lost"])
			}
		}
	}
	if !ended {
		t.Errorf("no recording.failed event with state=ended for session %s; got %d: %+v", big.tag, len(failed), failed)
	}
}
