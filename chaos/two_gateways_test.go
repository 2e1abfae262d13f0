package chaos

import "testing"

// testTwoGateways runs sessions through two gateway processes that publish
// to one topic: all arrive, verify, and name the gateway they went through.
func testTwoGateways(t *testing.T) {
	s := newStack(t, stackOptions{gateways: 2})
	l := s.newLoad()
	for _, g := range s.gateways {
		l.paced(g)
		l.paced(g)
		l.typist(g)
		l.bulk(g, 20000)
	}
	l.waitOutput(2000)
	l.finish()
	p := s.checkPipeline()
	for _, g := range s.gateways {
		if n := len(p.gateways[g.id]); n != 1 {
			t.Errorf("gateway %s: %d gateway streams; want 1", g.id, n)
		}
	}
}
