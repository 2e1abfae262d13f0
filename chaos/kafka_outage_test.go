package chaos

import "testing"

// testKafkaDown stops the broker during active sessions for the outage,
// runs sessions while it is down, and restarts it on the same port and
// data directory: every event arrives once, in order.
func testKafkaDown(t *testing.T) {
	s := newStack(t, stackOptions{})
	testOutage(t, s, "Kafka", s.stopBroker, s.startBroker)
}

// testOutage runs paced, typed and bulk sessions across an outage of one
// dependency (stop, hold for the outage, start): the sessions that run
// while it is down still succeed, since the gateway records into its spool,
// and afterwards every event is present once.
func testOutage(t *testing.T, s *stack, what string, stop, start func()) {
	t.Helper()
	g := s.gateways[0]
	l := s.newLoad()
	for range 3 {
		l.paced(g)
	}
	l.typist(g)
	l.waitOutput(200)

	stop()
	during := s.newLoad()
	for range 2 {
		during.bulk(g, 20000)
	}
	hold(t, what+" down", s.opt.outage)
	during.finish() // sessions go on without the dependency
	for _, r := range during.sessions {
		if r.exit != 0 {
			t.Fatalf("session %s during the %s outage: exit %d; stderr %q", r.tag, what, r.exit, r.stderr.Bytes())
		}
	}
	start()
	l.finish()
	s.checkPipeline()
}
