package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/internal/metrics"

	"github.com/foureyes/foureyes/internal/freeport"
)

// serveMetrics registers the gateway's session gauges, as `foureyes
// gateway` does, serves them on a free port and returns a scrape function.
func serveMetrics(t *testing.T, srv func() *Server) func() string {
	t.Helper()
	reg := metrics.NewRegistry()
	reg.Gauge("sessions_active", "active", func() float64 { return float64(srv().Stats().Active) })
	reg.Gauge("sessions_pending", "pending", func() float64 { return float64(srv().Stats().Pending) })
	reg.Gauge("sessions_participants", "participants", func() float64 { return float64(srv().Stats().Participants) })
	reg.Gauge("sessions_unrecorded", "unrecorded", func() float64 { return float64(srv().Stats().Unrecorded) })
	reg.Counter("recording_failures_total", "failures", func() float64 { return float64(srv().Stats().RecordingFailures) })
	addr := freeport.MustAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Serve(ctx, addr, func() error { return nil }, testLogger()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	return func() string {
		t.Helper()
		var body string
		waitFor(t, "/metrics", func() bool {
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			body = string(b)
			return err == nil && resp.StatusCode == http.StatusOK
		})
		return body
	}
}

func TestSessionMetrics(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	scrape := serveMetrics(t, func() *Server { return f.srv })
	expect := func(lines ...string) {
		t.Helper()
		want := map[string]bool{}
		for _, l := range lines {
			want[l] = true
		}
		// Sessions change state on the server's goroutines: poll.
		var body string
		waitFor(t, strings.Join(lines, ", "), func() bool {
			body = scrape()
			for l := range want {
				if !strings.Contains(body, "\n"+l+"\n") {
					return false
				}
			}
			return true
		})
		for l := range want {
			if !strings.Contains(body, "\n"+l+"\n") {
				t.Errorf("/metrics lacks %q", l)
			}
		}
	}
	expect("foureyes_sessions_active 0", "foureyes_sessions_pending 0", "foureyes_sessions_participants 0",
		"foureyes_sessions_unrecorded 0", "foureyes_recording_failures_total 0")

	alice, id := f.request(t, "metrics")
	expect("foureyes_sessions_pending 1", "foureyes_sessions_active 0")
	dave := f.approve(t, "dave", id)
	alice.Expect("demo$ ", timeout)
	expect("foureyes_sessions_pending 0", "foureyes_sessions_active 1", "foureyes_sessions_participants 1")

	// An ordinary session counts as active too.
	bob := f.client("bob", true, "demo")
	bob.Start(t)
	bob.Expect("demo$ ", timeout)
	expect("foureyes_sessions_active 2")
	bob.Send("exit\r")
	bob.Wait()

	dave.Send("\x1dt")
	alice.Wait()
	dave.Wait()
	expect("foureyes_sessions_active 0", "foureyes_sessions_pending 0", "foureyes_sessions_participants 0")
}
