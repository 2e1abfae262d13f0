package gateway

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/broker"
	"github.com/foureyes/foureyes/recorder"
)

// fillSpool is a command whose output overflows the 256 KiB test spool.
const fillSpool = "head -c 2000000 /dev/zero | tr '\\0' x"

// startPublishing lets the fixture's spool drain into a new kfake
// broker, as when Kafka comes back: acknowledged segments are deleted
// and the spool has room again. f.streams works afterwards.
func (f *fixture) startPublishing(t *testing.T) {
	t.Helper()
	b, err := broker.Start("127.0.0.1:0", filepath.Join(f.dir, "kafka-late"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	f.broker = b
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- f.rec.Publish(ctx, recorder.PublisherConfig{Brokers: []string{b.Addr()}, Topic: topic, Partitions: 1})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, recorder.ErrClosed) {
			t.Errorf("Publish = %v", err)
		}
	})
}

// recordingFailures waits until the gateway streams hold a
// recording.failed event for session id in state and returns it.
func (f *fixture) recordingFailure(t *testing.T, id, state string) (event.Event, map[string][]event.Event) {
	t.Helper()
	var found event.Event
	var all map[string][]event.Event
	waitFor(t, "recording.failed of "+id, func() bool {
		all = f.streams()
		for _, evs := range all {
			if e, ok := findEvent(evs, event.RecordingFailed, map[string]string{"session": id, "state": state}); ok {
				found = e
				return true
			}
		}
		return false
	})
	return found, all
}

// metaInt returns e.Meta[k] as a number, failing the test otherwise.
func metaInt(t *testing.T, e event.Event, k string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(e.Meta[k], 10, 64)
	if err != nil {
		t.Errorf("%s %s = %q: %v", e.Type, k, e.Meta[k], err)
	}
	return n
}

func TestRecordingFailurePolicy(t *testing.T) {
	tests := []struct {
		name     string
		policies []config.RecordingPolicy
		policy   string
	}{
		{"default is strict", nil, config.OnFailureStrict},
		{"strict", []config.RecordingPolicy{{Hosts: []string{"demo"}, OnFailure: config.OnFailureStrict}}, config.OnFailureStrict},
		{"best_effort", []config.RecordingPolicy{{Hosts: []string{"nomatch"}, OnFailure: config.OnFailureStrict}, {Hosts: []string{"dem?"}, OnFailure: config.OnFailureBestEffort}}, config.OnFailureBestEffort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{spoolMaxBytes: 256 << 10})
			if tt.policies != nil {
				f.reconfigure(t, func(c *config.Config) { c.RecordingPolicies = tt.policies })
			}
			res := f.run("alice", "demo", "--", fillSpool+"; echo; echo still-connected-$((40+2))")
			ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Host == "demo" })
			if len(ids) != 1 {
				t.Fatalf("%d recordings of demo; want 1", len(ids))
			}
			id := ids[0]
			if tt.policy == config.OnFailureStrict {
				if res.Exit != statusLost || !strings.Contains(res.Stderr, "foureyes: recording failed (") || !strings.HasSuffix(res.Stderr, "; session terminated\n") {
					t.Errorf("got exit %d stderr %q; want %d and the recording failure", res.Exit, res.Stderr, statusLost)
				}
				if strings.Contains(res.Stdout, "still-connected") {
					t.Error("output after the failure reached the client")
				}
			} else {
				if res.Exit != 0 || !strings.Contains(res.Stdout, "still-connected-42") || strings.Count(res.Stdout, "x") != 2000000 {
					t.Errorf("got exit %d, %d bytes of stdout; want 0 and all output after the failure", res.Exit, len(res.Stdout))
				}
				if want := "foureyes: recording failed (recorder: spool full"; !strings.Contains(res.Stderr, want) || !strings.Contains(res.Stderr, "); this session is no longer recorded\n") {
					t.Errorf("stderr %q; want the one-line warning", res.Stderr)
				}
			}
			if st := f.srv.Stats(); st.RecordingFailures != 1 || st.Unrecorded != 0 || st.Active != 0 {
				t.Errorf("Stats = %+v; want 1 failure, nothing running", st)
			}

			// Kafka comes back: the spool drains and the failure is recorded.
			f.startPublishing(t)
			e, all := f.recordingFailure(t, id, lossEnded)
			if !hasMeta(e, map[string]string{"host": "demo", "user": "alice", "policy": tt.policy, "command": fillSpool + "; echo; echo still-connected-$((40+2))"}) ||
				!strings.Contains(e.Meta["reason"], "spool full") {
				t.Errorf("recording.failed meta = %v", e.Meta)
			}
			evs := all[id]
			end := evs[len(evs)-1]
			if end.Type != event.SessionEnd || end.Meta["interrupted"] != "true" {
				t.Fatalf("last event of the session = %s %v; want an interrupted session.end", end.Type, end.Meta)
			}
			if err := event.Verify(evs); err != nil {
				t.Errorf("session chain: %v", err)
			}
			if got, want := metaInt(t, e, "lost_from_seq"), int64(end.Seq); got != want {
				t.Errorf("lost_from_seq = %d; want %d (the seq session.end took)", got, want)
			}
			// The read that hit the failure may be partly recorded: in
			// strict mode it is not forwarded, in best effort it counts
			// as lost.
			fwd, recorded, lost := metaInt(t, e, "bytes_out_forwarded"), metaInt(t, end, "bytes_out"), metaInt(t, e, "bytes_out_lost")
			if tt.policy == config.OnFailureStrict {
				if lost != 0 || fwd >= 2000000 || recorded-fwd > bulkBufSize {
					t.Errorf("strict: %d bytes lost, %d forwarded, %d recorded; want 0 lost, the output cut, no unrecorded output shown", lost, fwd, recorded)
				}
				return
			}
			if fwd < 2000000 || lost == 0 || fwd-recorded <= 0 || lost > fwd-recorded+bulkBufSize {
				t.Errorf("best effort: forwarded %d, recorded %d, lost %d", fwd, recorded, lost)
			}
			if end.Meta["on_failure"] != config.OnFailureBestEffort || end.Meta["bytes_out_lost"] != e.Meta["bytes_out_lost"] {
				t.Errorf("best effort: session.end %v", end.Meta)
			}
		})
	}
}

func TestRecordingFailureGatewayStreamRecovers(t *testing.T) {
	f := newFixture(t, fixtureOptions{spoolMaxBytes: 256 << 10})
	first := f.srv.gw.ID()
	if res := f.run("alice", "demo", "--", fillSpool+"; sleep 30"); res.Exit != statusLost {
		t.Fatalf("exit %d; want %d", res.Exit, statusLost)
	}
	// Small events still fit; fill the rest until the gateway recording
	// fails too.
	for i := 0; !gatewayStreamFailed(f.srv); i++ {
		if i > 100000 {
			t.Fatal("the gateway recording never failed")
		}
		f.srv.recordGateway(event.AccessDenied, "alice", map[string]string{"host": "filler-" + strconv.Itoa(i), "reason": "filling the spool"})
	}
	// The spool is full: this refusal cannot be recorded yet.
	if res := f.run("alice", "nosuchhost"); res.Exit != 1 {
		t.Fatalf("exit %d; want 1", res.Exit)
	}
	f.startPublishing(t)
	waitFor(t, "a new gateway recording", func() bool { id := f.srv.gw.ID(); return id != "" && id != first })
	if res := f.run("alice", "stillnosuchhost"); res.Exit != 1 {
		t.Fatalf("exit %d; want 1", res.Exit)
	}
	evs := f.streams()
	old := evs[first]
	if end := old[len(old)-1]; end.Type != event.SessionEnd || end.Meta["interrupted"] != "true" {
		t.Errorf("failed gateway recording ends with %s %v; want an interrupted session.end", end.Type, end.Meta)
	}
	cur := evs[f.srv.gw.ID()]
	if len(cur) == 0 || cur[0].Type != event.SessionStart || cur[0].Meta["previous_stream"] != first || !strings.Contains(cur[0].Meta["previous_failure"], "spool full") {
		t.Fatalf("new gateway recording starts with %v", cur)
	}
	if n := metaInt(t, cur[0], "events_lost"); n < 1 {
		t.Errorf("events_lost = %d; want the refusal and the first recording.failed attempt", n)
	}
	if _, ok := findEvent(cur, event.AccessDenied, map[string]string{"host": "stillnosuchhost"}); !ok {
		t.Error("an access.denied after the recovery was not recorded")
	}
	if err := event.Verify(cur); err != nil {
		t.Errorf("new gateway chain: %v", err)
	}
}

func TestRecordingFailureFourEyesStrict(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true, spoolMaxBytes: 256 << 10})
	alice, id := f.request(t, "fill the disk")
	dave := f.approve(t, "dave", id)
	alice.Expect("demo$ ", timeout)
	if st := f.srv.Stats(); st.Active != 1 || st.Participants != 1 || st.Pending != 0 {
		t.Errorf("Stats = %+v; want 1 active session with 1 participant", st)
	}
	alice.Send(fillSpool + "; sleep 30\r")
	alice.Expect("recording failed (", timeout)
	dave.Expect("recording failed (", timeout)
	if got := alice.Wait(); got != statusLost {
		t.Errorf("alice exit = %d; want %d", got, statusLost)
	}
	dave.Wait()
	f.startPublishing(t)
	e, _ := f.recordingFailure(t, id, lossEnded)
	if !hasMeta(e, map[string]string{"policy": config.OnFailureStrict, "host": "demo-prod", "user": "alice"}) {
		t.Errorf("recording.failed meta = %v", e.Meta)
	}
}

// gatewayStreamFailed reports whether the gateway's current recording
// failed or none runs.
func gatewayStreamFailed(s *Server) bool {
	s.gw.mu.Lock()
	defer s.gw.mu.Unlock()
	return s.gw.cur == nil || s.gw.cur.Err() != nil
}
