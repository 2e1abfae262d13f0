package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"
)

// webhookSink is an httptest server that fails the first failures
// requests and keeps the bodies of the others, checking their signature.
type webhookSink struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	failures int
	calls    int
	got      []Notification
	arrived  chan struct{}
}

func newWebhookSink(t *testing.T, failures int) *webhookSink {
	w := &webhookSink{t: t, failures: failures, arrived: make(chan struct{}, 16)}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.calls++
		if w.calls <= w.failures {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if got, want := r.Header.Get(SignatureHeader), Sign("s3cret", body); got != want {
			t.Errorf("signature %q; want %q", got, want)
		}
		var n Notification
		if err := json.Unmarshal(body, &n); err != nil {
			t.Errorf("body %q: %v", body, err)
		}
		if r.Header.Get(EventHeader) != n.Event {
			t.Errorf("%s = %q; body event %q", EventHeader, r.Header.Get(EventHeader), n.Event)
		}
		w.got = append(w.got, n)
		w.arrived <- struct{}{}
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func TestNotifierRetriesAndSigns(t *testing.T) {
	sink := newWebhookSink(t, 2)
	n := newNotifier(config.Notify{WebhookURL: sink.srv.URL, WebhookSecret: "s3cret"}, testLogger())
	n.backoff = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.run(ctx)
	}()
	n.send(Notification{Event: "approval.request", Session: "s1", User: "alice", Reason: "why"})
	select {
	case <-sink.arrived:
	case <-time.After(timeout):
		t.Fatal("no notification delivered")
	}
	cancel()
	<-done
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.calls != 3 || sink.got[0].Session != "s1" || sink.got[0].Reason != "why" {
		t.Errorf("calls %d, got %+v; want 3 calls and the notification", sink.calls, sink.got)
	}
}

// TestNotifierRefusesRedirects: a webhook that redirects gets an error,
// and the signed body never reaches where it points (the configuration
// allows https, or http to loopback only; a redirect could lead anywhere).
func TestNotifierRefusesRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	n := newNotifier(config.Notify{WebhookURL: redirect.URL, WebhookSecret: "s3cret"}, testLogger())
	body, _ := json.Marshal(Notification{Event: "approval.request"})
	err := n.post(context.Background(), queued{body: body, event: "approval.request"})
	if err == nil || !strings.Contains(err.Error(), "307") {
		t.Errorf("post to a redirecting webhook = %v; want an error naming the 307", err)
	}
	if got := elsewhere.Load(); got != 0 {
		t.Errorf("the redirect target got %d requests; want none", got)
	}
}

func TestNotifierNeverBlocks(t *testing.T) {
	n := newNotifier(config.Notify{WebhookURL: "http://127.0.0.1:1/", WebhookSecret: "x"}, testLogger())
	for i := 0; i < notifyQueue*2; i++ { // nobody drains: the queue fills, sends drop
		n.send(Notification{Event: "approval.request"})
	}
	if len(n.queue) != notifyQueue {
		t.Errorf("queue holds %d; want %d", len(n.queue), notifyQueue)
	}
}

func TestFourEyesWebhook(t *testing.T) {
	sink := newWebhookSink(t, 0)
	f := newFixture(t, fixtureOptions{fourEyes: true, webhook: sink.srv.URL})
	alice, id := f.request(t, "webhook check")
	select {
	case <-sink.arrived:
	case <-time.After(timeout):
		t.Fatal("no webhook for the request")
	}
	alice.Send("\x03")
	alice.Wait()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	n := sink.got[0]
	if n.Event != "approval.request" || n.Session != id || n.User != "alice" || n.Host != "demo-prod" || n.Reason != "webhook check" ||
		strings.Join(n.Approvers, ",") != "dave" || !strings.Contains(n.Join, id) {
		t.Errorf("notification %+v", n)
	}
}

// TestFourEyesJoinCommand checks the command the requester and the
// webhook are told a reviewer runs: the bastion as the requester reached
// it, or as gateway.public_address names it.
func TestFourEyesJoinCommand(t *testing.T) {
	for _, tt := range []struct {
		name, public string
		want         func(f *fixture) string // host part: "-p PORT HOST" or "HOST"
	}{
		{"connection address", "", func(f *fixture) string {
			host, port, _ := net.SplitHostPort(f.addr)
			return "-p " + port + " REVIEWER@" + host
		}},
		{"public address with port", "bastion.example.com:2200", func(*fixture) string { return "-p 2200 REVIEWER@bastion.example.com" }},
		{"public address on port 22", "bastion.example.com:22", func(*fixture) string { return "REVIEWER@bastion.example.com" }},
		{"public host", "bastion.example.com", func(*fixture) string { return "REVIEWER@bastion.example.com" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sink := newWebhookSink(t, 0)
			f := newFixture(t, fixtureOptions{fourEyes: true, webhook: sink.srv.URL, publicAddress: tt.public})
			alice := f.client("alice", true, "demo-prod")
			alice.Start(t)
			alice.Expect("Reason for this session: ", timeout)
			alice.Send("join command check\r")
			id := idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))[1]
			// dave is the only one who may approve: the banner names him.
			want := "ssh -t " + tt.want(f) + " join " + id
			alice.Expect("a reviewer runs:  "+strings.Replace(want, "REVIEWER", "dave", 1)+"\r\n", timeout)
			select {
			case <-sink.arrived:
			case <-time.After(timeout):
				t.Fatal("no webhook for the request")
			}
			alice.Send("\x03")
			alice.Wait()
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if got := sink.got[0].Join; got != want {
				t.Errorf("webhook join = %q; want %q", got, want)
			}
		})
	}
}

// TestNotifierBodyIsASCII: the webhook body a chat bot turns into a
// message carries bidi overrides, zero-width and C1 characters as \u
// escapes, and the command byte for byte in command_quoted.
func TestNotifierBodyIsASCII(t *testing.T) {
	n := newNotifier(config.Notify{WebhookURL: "http://127.0.0.1:1/", WebhookSecret: "s3cret"}, testLogger())
	cmd := "echo \u202eok\u200b\u0085\xff"
	n.send(Notification{Event: "approval.request", User: "al\u202eice", Reason: "prüfen", Command: cmd, CommandQuoted: quoteNonEmpty(cmd)})
	q := <-n.queue
	for _, c := range q.body {
		if c < 0x20 || c >= 0x7f {
			t.Fatalf("body has byte %#x: %s", c, q.body)
		}
	}
	for _, want := range []string{`"user":"al\u202eice"`, `"reason":"pr\u00fcfen"`, `"command_quoted":"$'echo \\u202eok\\u200b\\u0085\\xff'"`} {
		if !strings.Contains(string(q.body), want) {
			t.Errorf("body lacks %s: %s", want, q.body)
		}
	}
}
