package chaos

import "testing"

// testGatewayKill SIGKILLs the gateway in the middle of sessions and
// restarts it on the same data directory: recovery ends each cut session,
// and the killed process's own stream, with a session.end marked
// interrupted that continues the chain from the last durable event.
func testGatewayKill(t *testing.T) {
	s := newStack(t, stackOptions{})
	g := s.gateways[0]
	l := s.newLoad()
	for range 3 {
		l.paced(g)
	}
	l.typist(g)
	l.waitOutput(500)

	g.proc.kill()
	g.proc = nil
	l.finish() // the clients see the connection drop
	for _, r := range l.sessions {
		if r.exit == 0 {
			t.Fatalf("session %s survived the gateway's SIGKILL (exit 0)", r.tag)
		}
	}
	l.expect(wantInterrupted)
	s.startGateway(g)
	s.runBulk(g, 5000) // the restarted gateway works

	p := s.checkPipeline()
	for _, r := range l.sessions {
		if sess := p.sessions[p.byTag[r.tag]]; sess.ExitStatus != -1 {
			t.Errorf("session %s: recovered exit status %d; want -1", r.tag, sess.ExitStatus)
		}
	}
	streams := p.gateways[g.id]
	interrupted := 0
	for _, ss := range streams {
		if ss.Interrupted {
			interrupted++
		}
	}
	if len(streams) != 2 || interrupted != 1 {
		t.Errorf("gateway streams of %s: %d, %d interrupted; want 2, the killed process's interrupted", g.id, len(streams), interrupted)
	}
}
