package chaos

import "testing"

// testKafkaDown stops the broker during active sessions for the outage,
// runs sessions while it is down, and restarts it on the same port and
// data directory: every event arrives once, in order.
func testKafkaDown(t *testing.T) {
	s := newStack(t, stackOptions{})
	g := s.gateways[0]
	l := s.newLoad()
	for range 3 {
		l.paced(g)
	}
	l.typist(g)
	l.waitOutput(200)

	s.stopBroker()
	during := s.newLoad()
	for range 2 {
		during.bulk(g, 20000)
	}
	hold(t, "Kafka down", s.opt.outage)
	during.finish() // sessions go on without Kafka
	for _, r := range during.sessions {
		if r.exit != 0 {
			t.Fatalf("session %s during the Kafka outage: exit %d; stderr %q", r.tag, r.exit, r.stderr.Bytes())
		}
	}
	s.startBroker()
	l.finish()
	s.checkPipeline()
}
