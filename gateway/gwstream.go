package gateway

import (
	"errors"
	"log/slog"
	"maps"
	"strconv"
	"sync"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
)

// gatewayStream is the gateway's own recording (kind "gateway"): auth
// failures, refusals, recording failures. A recording that fails (spool
// full, write or fsync error) cannot record again, so the stream is
// replaced: the failed recording is ended (interrupted) and the next
// event starts a new one whose session.start names its predecessor, why
// it failed and how many events were lost in between. When the spool
// has room again (Kafka took events and segments were freed), the next
// event goes through.
type gatewayStream struct {
	rec  Recorder
	info recorder.StartInfo // of every recording of the stream
	log  *slog.Logger

	mu    sync.Mutex        // guards the fields below; taken before the recorder's locks
	cur   *recorder.Session // nil after a failure until a new recording starts
	prev  string            // id of the last recording that failed
	cause error             // why it failed
	lost  int               // events not recorded since it failed
	ended bool
}

// openGatewayStream starts the gateway's recording.
func openGatewayStream(rec Recorder, info recorder.StartInfo, log *slog.Logger) (*gatewayStream, error) {
	cur, err := rec.Start(info)
	if err != nil {
		return nil, err
	}
	return &gatewayStream{rec: rec, info: info, log: log, cur: cur}, nil
}

// ID returns the id of the current recording, or "" while none runs.
func (g *gatewayStream) ID() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur == nil {
		return ""
	}
	return g.cur.ID()
}

// record writes one event, replacing a failed recording first.
func (g *gatewayStream) record(t event.Type, actor string, meta map[string]string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return recorder.ErrEnded
	}
	if err := g.usableLocked(); err != nil {
		g.lost++
		return err
	}
	if err := g.cur.Record(t, actor, nil, meta); err != nil {
		g.lost++
		return err
	}
	return nil
}

// reopen replaces a failed recording now, so that the successor (and
// its count of lost events) is recorded as soon as the spool has room,
// without waiting for the next event.
func (g *gatewayStream) reopen() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return recorder.ErrEnded
	}
	return g.usableLocked()
}

// usableLocked makes sure a working recording is current: it ends a
// failed one and starts its successor.
func (g *gatewayStream) usableLocked() error {
	if g.cur != nil {
		cause := g.cur.Err()
		if cause == nil {
			return nil
		}
		g.prev, g.cause = g.cur.ID(), cause
		// End writes an interrupted session.end even on a full spool; it
		// reports the failure again, which is known.
		if err := g.cur.End(0, map[string]string{"reason": "recording failed"}); err != nil && !errors.Is(err, cause) {
			g.log.Warn("end failed gateway recording", "session", g.prev, "err", err)
		}
		g.cur = nil
		g.log.Error("gateway recording failed; a new one starts when the spool takes events again", "session", g.prev, "err", cause)
	}
	info := g.info
	info.Meta = maps.Clone(info.Meta)
	if info.Meta == nil {
		info.Meta = map[string]string{}
	}
	info.Meta["previous_stream"] = g.prev
	info.Meta["previous_failure"] = g.cause.Error()
	info.Meta["events_lost"] = strconv.Itoa(g.lost)
	cur, err := g.rec.Start(info)
	if err != nil {
		return err
	}
	g.log.Info("gateway recording reopened", "session", cur.ID(), "previous", g.prev, "events_lost", g.lost)
	g.cur, g.lost = cur, 0
	return nil
}

// end ends the current recording once; later events are refused.
func (g *gatewayStream) end() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return
	}
	g.ended = true
	if g.cur == nil {
		if g.lost > 0 {
			g.log.Error("gateway events were not recorded", "events_lost", g.lost, "cause", g.cause)
		}
		return
	}
	var meta map[string]string
	if g.lost > 0 {
		meta = map[string]string{"events_lost": strconv.Itoa(g.lost)}
	}
	if err := g.cur.End(0, meta); err != nil {
		g.log.Error("end gateway recording", "err", err)
	}
}
