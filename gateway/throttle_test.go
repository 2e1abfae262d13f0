package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
)

// throttleSpool is the spool of the backpressure tests: small, so that a
// few MB of output fill a session's share.
const throttleSpool = 4 << 20

// bulkResult is how a background ssh ended.
type bulkResult struct {
	exit   int
	stdout int64
	stderr string
	err    error
}

// startBulk runs c without a terminal on its own goroutine, counting its
// output; the result arrives on the channel.
func startBulk(t *testing.T, c *sshtest.Client) <-chan bulkResult {
	t.Helper()
	return startUpload(t, c, nil)
}

// startUpload is startBulk with stdin as ssh's standard input.
func startUpload(t *testing.T, c *sshtest.Client, stdin io.Reader) <-chan bulkResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := c.Command(ctx)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	res := make(chan bulkResult, 1)
	go func() {
		defer cancel()
		n, cerr := io.Copy(io.Discard, out)
		r := bulkResult{stdout: n, err: cerr}
		werr := cmd.Wait()
		var exitErr *exec.ExitError
		switch {
		case errors.As(werr, &exitErr):
			r.exit = exitErr.ExitCode()
		case werr != nil && r.err == nil:
			r.err = werr
		}
		r.stderr = stderr.String()
		res <- r
	}()
	t.Cleanup(func() { cancel() })
	return res
}

// uniqueEvents drops the copies of events Kafka got twice (a producer
// retried a request the paused broker served late), keeping seq order.
func uniqueEvents(evs []event.Event) []event.Event {
	seen := map[uint64]bool{}
	var out []event.Event
	for _, e := range evs {
		if !seen[e.Seq] {
			seen[e.Seq] = true
			out = append(out, e)
		}
	}
	return out
}

// outputBytes sums the output data of evs.
func outputBytes(evs []event.Event) int {
	n := 0
	for _, e := range evs {
		if e.Type == event.Output {
			n += len(e.Data)
		}
	}
	return n
}

// TestThrottleSlowsDownInsteadOfFailing: with Kafka taking nothing, a
// session printing more than its share of the spool is held back, not
// ended; another user's session runs commands normally meanwhile; once
// Kafka takes events again the first session completes with every byte
// delivered and recorded, and the pause is recorded as session.throttle.
func TestThrottleSlowsDownInsteadOfFailing(t *testing.T) {
	f := newFixture(t, fixtureOptions{spoolMaxBytes: throttleSpool, publish: true, stallTimeout: time.Hour})
	// Every byte of the command's output is stored, not only the
	// exec_output_cap's first MiB: the spool must hold them all.
	storeAll := int64(0)
	f.reconfigure(t, func(c *config.Config) {
		c.RecordingPolicies = []config.RecordingPolicy{{Hosts: []string{"*"}, OnFailure: config.OnFailureStrict, ExecOutputCap: &storeAll}}
	})
	f.streams() // the topic exists
	resume := f.broker.PauseProduce()
	t.Cleanup(resume)

	const total = 8000000 // twice the spool
	bulk := startBulk(t, f.client("alice", false, "demo", "--", "head -c "+strconv.Itoa(total)+" /dev/zero | tr '\\0' x"))
	waitFor(t, "alice's session held back", func() bool { return f.rec.Stats().Throttled > 0 })

	// Another user works normally: commands, and an interactive shell.
	res := f.run("bob", "demo", "--", "echo hello-$((40+2))")
	if res.Exit != 0 || res.Stdout != "hello-42\n" {
		t.Fatalf("bob while alice is held back: exit %d stdout %q stderr %q", res.Exit, res.Stdout, res.Stderr)
	}
	bob := f.client("bob", true, "demo")
	bob.Start(t)
	bob.Expect("demo$ ", timeout)
	bob.Send("echo typed-$((6*7))\r")
	bob.Expect("typed-42", timeout)
	bob.Send("exit\r")
	if got := bob.Wait(); got != 0 {
		t.Errorf("bob's shell exit = %d; want 0", got)
	}

	select {
	case r := <-bulk:
		t.Fatalf("alice's session ended while Kafka took nothing: exit %d, %d bytes, stderr %q", r.exit, r.stdout, r.stderr)
	default:
	}
	if st := f.rec.Stats(); st.Throttled == 0 || f.srv.Stats().RecordingFailures != 0 {
		t.Fatalf("recorder %+v, gateway %+v; want alice held back and no failure", st, f.srv.Stats())
	}

	resume()
	r := <-bulk
	if r.err != nil || r.exit != 0 || r.stdout != total {
		t.Fatalf("alice: exit %d, %d of %d bytes, err %v, stderr %q; want all of them and exit 0", r.exit, r.stdout, total, r.err, r.stderr)
	}
	evs := uniqueEvents(f.sessionOf(func(i recorder.StartInfo) bool { return i.User == "alice" && i.Host == "demo" }))
	if err := event.Verify(evs); err != nil {
		t.Fatalf("chain: %v", err)
	}
	if got := outputBytes(evs); got != total {
		t.Errorf("%d output bytes recorded; want %d", got, total)
	}
	end := evs[len(evs)-1]
	if end.Type != event.SessionEnd || end.Meta["interrupted"] == "true" || end.Meta["exit_status"] != "0" {
		t.Errorf("session.end %v", end.Meta)
	}
	thr, ok := findEvent(evs, event.SessionThrottle, map[string]string{"direction": "output", "ended": "drained"})
	if !ok {
		t.Fatalf("no session.throttle in %v", types(evs))
	}
	if ms, err := strconv.ParseInt(thr.Meta["ms"], 10, 64); err != nil || ms < 0 || thr.Meta["reason"] == "" || thr.Meta["spool_bytes"] == "" {
		t.Errorf("session.throttle meta %v", thr.Meta)
	}
	if st := f.rec.Stats(); st.Throttles < 1 || st.Throttled != 0 {
		t.Errorf("Stats = %+v; want a throttle period counted, none running", st)
	}
}

// TestThrottleOutageEndsStrictSession: when Kafka takes nothing for the
// stall timeout, the held-back session's share of the spool is exhausted:
// a strict session ends with the recording-failure message, and other
// users can still work.
func TestThrottleOutageEndsStrictSession(t *testing.T) {
	f := newFixture(t, fixtureOptions{spoolMaxBytes: throttleSpool, publish: true, stallTimeout: time.Second})
	f.streams()
	resume := f.broker.PauseProduce()
	t.Cleanup(resume)

	const total = 8000000
	r := <-startBulk(t, f.client("alice", false, "demo", "--", "head -c "+strconv.Itoa(total)+" /dev/zero | tr '\\0' x; sleep 30"))
	if r.exit != statusLost || !strings.Contains(r.stderr, "foureyes: recording failed (recorder: spool full") || !strings.HasSuffix(r.stderr, "; session terminated\n") {
		t.Fatalf("alice: exit %d, stderr %q; want %d and the recording failure", r.exit, r.stderr, statusLost)
	}
	if r.stdout >= total {
		t.Errorf("all %d bytes reached the client after the recording failed", r.stdout)
	}
	if res := f.run("bob", "demo", "--", "echo hello-$((40+2))"); res.Exit != 0 || res.Stdout != "hello-42\n" {
		t.Fatalf("bob after alice's session failed: exit %d stdout %q stderr %q", res.Exit, res.Stdout, res.Stderr)
	}

	resume()
	id := f.spy.find(func(i recorder.StartInfo) bool { return i.User == "alice" })[0]
	e, all := f.recordingFailure(t, id, lossEnded)
	if !strings.Contains(e.Meta["reason"], "spool full") {
		t.Errorf("recording.failed reason %q", e.Meta["reason"])
	}
	evs := uniqueEvents(all[id])
	if err := event.Verify(evs); err != nil {
		t.Fatalf("chain: %v", err)
	}
	if end := evs[len(evs)-1]; end.Type != event.SessionEnd || end.Meta["interrupted"] != "true" || !strings.Contains(end.Meta["interrupt_reason"], "spool full") {
		t.Errorf("session.end %v; want interrupted by the full spool", end.Meta)
	}
}

// TestThrottledSessionStillControlled: while a shell's output is held
// back, Ctrl-C still reaches the host (the endless command stops), and in
// a four-eyes session the reviewer can still terminate it.
func TestThrottledSessionStillControlled(t *testing.T) {
	t.Run("ctrl-c", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{spoolMaxBytes: throttleSpool, publish: true, stallTimeout: time.Hour})
		f.streams()
		alice := f.client("alice", true, "demo")
		alice.Start(t)
		alice.Expect("demo$ ", timeout)
		resume := f.broker.PauseProduce()
		t.Cleanup(resume)
		alice.Send("yes\r") // endless output
		waitFor(t, "the shell held back", func() bool { return f.rec.Stats().Throttled > 0 })
		alice.Send("\x03")
		id := f.spy.find(func(i recorder.StartInfo) bool { return i.User == "alice" })[0]
		resume()
		// Only a host that got the Ctrl-C prints a prompt again.
		alice.Send("echo after-$((6*7))\r")
		alice.Expect("after-42", timeout)
		alice.Send("exit\r")
		if got := alice.Wait(); got != 130 && got != 0 {
			t.Errorf("alice exit = %d", got)
		}
		evs := uniqueEvents(f.streams()[id])
		if _, ok := findEvent(evs, event.SessionThrottle, map[string]string{"direction": "output"}); !ok {
			t.Errorf("no session.throttle in %v", types(evs))
		}
		if !strings.Contains(inputBy(evs, "alice"), "\x03") {
			t.Error("the Ctrl-C was not recorded")
		}
	})
	t.Run("reviewer terminates", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{fourEyes: true, spoolMaxBytes: throttleSpool, publish: true, stallTimeout: time.Hour})
		f.streams()
		alice, id := f.request(t, "bulk through a slow recorder")
		dave := f.approve(t, "dave", id)
		alice.Expect("demo$ ", timeout)
		resume := f.broker.PauseProduce()
		t.Cleanup(resume)
		alice.Send("yes\r")
		waitFor(t, "the four-eyes session held back", func() bool { return f.rec.Stats().Throttled > 0 })
		dave.Send("\x1dt")
		if got := alice.Wait(); got != statusLost {
			t.Errorf("alice exit = %d; want %d", got, statusLost)
		}
		dave.Wait()
		resume()
		evs := uniqueEvents(f.sessionEvents(id))
		requireEvent(t, evs, event.SessionTerminate, "dave", nil)
		if _, ok := findEvent(evs, event.SessionThrottle, map[string]string{"ended": "stopped"}); !ok {
			t.Errorf("no session.throttle ended=stopped in %v", types(evs))
		}
		if end := evs[len(evs)-1]; end.Type != event.SessionEnd || end.Meta["terminated_by"] != "dave" {
			t.Errorf("session.end %v", end.Meta)
		}
	})
}

// TestThrottleUpload: an upload faster than the recorder drains (bulk
// input) is held back too, not ended, and arrives whole and recorded
// once Kafka takes events again.
func TestThrottleUpload(t *testing.T) {
	f := newFixture(t, fixtureOptions{spoolMaxBytes: throttleSpool, publish: true, stallTimeout: time.Hour})
	f.streams()
	resume := f.broker.PauseProduce()
	t.Cleanup(resume)

	const total = 8000000
	up := startUpload(t, f.client("alice", false, "demo", "--", "wc -c"), io.LimitReader(zeros{}, total))
	waitFor(t, "the upload held back", func() bool { return f.rec.Stats().Throttled > 0 })
	select {
	case r := <-up:
		t.Fatalf("the upload ended while Kafka took nothing: exit %d, stderr %q", r.exit, r.stderr)
	default:
	}
	resume()
	r := <-up
	if r.err != nil || r.exit != 0 || r.stdout != int64(len(strconv.Itoa(total))+1) {
		t.Fatalf("upload: exit %d, %d bytes of output, err %v, stderr %q", r.exit, r.stdout, r.err, r.stderr)
	}
	evs := uniqueEvents(f.sessionOf(func(i recorder.StartInfo) bool { return i.User == "alice" }))
	if got := len(inputBy(evs, "alice")); got != total {
		t.Errorf("%d input bytes recorded; want %d", got, total)
	}
	if _, ok := findEvent(evs, event.SessionThrottle, map[string]string{"direction": "input", "ended": "drained"}); !ok {
		t.Errorf("no session.throttle for the input in %v", types(evs))
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
