package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/termsafe"
)

// Webhook delivery. Notifications are queued without blocking the
// session that causes them and posted by one goroutine (run), with
// retries and exponential backoff; when the queue is full they are
// dropped and logged — the session never waits for a chat server.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
	// body, keyed with notify.webhook_secret.
	SignatureHeader = "X-Foureyes-Signature"
	// EventHeader carries the notification's event type.
	EventHeader = "X-Foureyes-Event"

	notifyQueue    = 256
	notifyAttempts = 5
	notifyTimeout  = 10 * time.Second
)

// Notification is the JSON body posted to notify.webhook_url.
type Notification struct {
	// Event is approval.request, approval.grant, approval.deny or
	// approval.expire; for an approval window (Session is its id, Host
	// its hosts, comma-separated) window.request, window.grant (once
	// open), window.deny or window.end (Note: why).
	Event   string `json:"event"`
	Session string `json:"session"`
	User    string `json:"user"`
	Host    string `json:"host"`
	Login   string `json:"login"`
	Reason  string `json:"reason"`
	Command string `json:"command,omitempty"`
	// CommandQuoted is Command byte for byte as termsafe.Quote shows it
	// to reviewers (JSON cannot carry invalid UTF-8; this can).
	CommandQuoted string    `json:"command_quoted,omitempty"`
	Since         time.Time `json:"since"`
	Approvers     []string  `json:"approvers"`      // who may approve
	By            string    `json:"by,omitempty"`   // the reviewer(s) who decided
	Note          string    `json:"note,omitempty"` // the denial's reason
	Join          string    `json:"join,omitempty"` // the reviewer's command line
	Time          time.Time `json:"time"`           // when this notification was made
}

// Sign returns the SignatureHeader value for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// notifier posts notifications to a webhook.
type notifier struct {
	url, secret string
	client      *http.Client
	log         *slog.Logger
	queue       chan queued
	backoff     time.Duration // first retry delay, doubled after each failure; tests shorten it
}

// queued is one notification waiting to be posted.
type queued struct {
	event string
	body  []byte
}

// newNotifier returns a notifier for n; call run to deliver.
func newNotifier(n config.Notify, log *slog.Logger) *notifier {
	return &notifier{
		url: n.WebhookURL, secret: n.WebhookSecret,
		client: &http.Client{Timeout: notifyTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A redirect is an error, never followed: it could send the
			// signed body to a host, or over a scheme (http), that the
			// configuration did not name.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		log:     log.With("component", "notify"),
		queue:   make(chan queued, notifyQueue),
		backoff: time.Second,
	}
}

// send queues v without blocking. The body is ASCII: every non-ASCII
// character is a \u escape, so that a person reading it (a chat message
// built from it) sees a bidi override or a zero-width space as such.
func (n *notifier) send(v Notification) {
	body, err := json.Marshal(v)
	if err != nil {
		n.log.Error("encode notification", "err", err)
		return
	}
	body = termsafe.ASCIIJSON(body)
	select {
	case n.queue <- queued{event: v.Event, body: body}:
	default:
		n.log.Warn("notification dropped: queue full", "event", v.Event, "session", v.Session)
	}
}

// run posts queued notifications until ctx ends.
func (n *notifier) run(ctx context.Context) {
	defer n.client.CloseIdleConnections()
	for {
		select {
		case <-ctx.Done():
			return
		case q := <-n.queue:
			n.deliver(ctx, q)
		}
	}
}

// deliver posts one notification, retrying failures (network errors and
// non-2xx answers) with exponential backoff.
func (n *notifier) deliver(ctx context.Context, q queued) {
	wait := n.backoff
	for attempt := 1; ; attempt++ {
		err := n.post(ctx, q)
		if err == nil {
			return
		}
		if attempt == notifyAttempts {
			n.log.Warn("notification not delivered", "event", q.event, "attempts", attempt, "err", err)
			return
		}
		n.log.Info("notification failed; retrying", "event", q.event, "attempt", attempt, "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait *= 2
	}
}

// post makes one attempt.
func (n *notifier) post(ctx context.Context, q queued) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(q.body))
	if err != nil {
		return fmt.Errorf("gateway: notify: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(n.secret, q.body))
	req.Header.Set(EventHeader, q.event)
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("gateway: notify: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("gateway: notify: %s answered %s", n.url, resp.Status)
	}
	return nil
}

// notify queues a notification about hb, if a webhook is configured.
func (s *Server) notify(hb *hub, t event.Type, by, note string) {
	if s.notifier == nil {
		return
	}
	in := hb.info()
	v := Notification{
		Event: string(t), Session: in.id, User: in.owner, Host: in.host, Login: in.login,
		Reason: in.reason, Command: in.command, CommandQuoted: quoteNonEmpty(in.command), Since: in.since, Approvers: hb.approvers,
		By: by, Note: note, Time: now(),
	}
	if t == event.ApprovalRequest {
		v.Join = s.joinCommand("REVIEWER", in.id, hb.local)
	}
	s.notifier.send(v)
}

// quoteNonEmpty is termsafe.Quote, and "" for "".
func quoteNonEmpty(s string) string {
	if s == "" {
		return ""
	}
	return termsafe.Quote(s)
}
