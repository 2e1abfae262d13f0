package query

import (
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
)

// TestTimelineShowsThrottle: audit show lists the periods a session was
// slowed down because its recording fell behind.
func TestTimelineShowsThrottle(t *testing.T) {
	evs := []event.Event{
		{Seq: 0, Type: event.SessionStart, Time: t0.UnixNano()},
		{Seq: 1, Type: event.Output, Data: []byte("x"), Time: t0.UnixNano() + 1},
		{Seq: 2, Type: event.SessionThrottle, Time: t0.UnixNano() + 2, Meta: map[string]string{
			"ms": "1500", "spool_bytes": "1048576", "reason": "session_share", "direction": "output", "ended": "drained"}},
	}
	var got string
	for _, it := range timeline(evs) {
		if it.what == string(event.SessionThrottle) {
			got = it.detail
		}
	}
	for _, want := range []string{"ms=1500", "spool_bytes=1048576", "reason=session_share", "direction=output"} {
		if !strings.Contains(got, want) {
			t.Errorf("session.throttle line %q; want %s", got, want)
		}
	}
}
