package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/broker"
	"github.com/foureyes/foureyes/internal/sshtarget"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
	"github.com/segmentio/kafka-go"
	gossh "golang.org/x/crypto/ssh"
)

// timeout bounds every wait in these tests; it guards against hangs and
// is never a speed assertion.
const timeout = 30 * time.Second

// topic is the Kafka topic of the test recorder (one partition).
const topic = "events"

// spyRecorder delegates to a real recorder and remembers each StartInfo.
type spyRecorder struct {
	r  *recorder.Recorder
	mu sync.Mutex
	// starts maps a session id to its StartInfo.
	starts map[string]recorder.StartInfo
	// hook, if set, runs before each Start (review tests).
	hook func(recorder.StartInfo)
}

// Start records info and starts the real recording.
func (s *spyRecorder) Start(info recorder.StartInfo) (*recorder.Session, error) {
	s.mu.Lock()
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		hook(info)
	}
	sess, err := s.r.Start(info)
	if err == nil {
		s.mu.Lock()
		s.starts[sess.ID()] = info
		s.mu.Unlock()
	}
	return sess, err
}

// observingSpy is a spyRecorder that also passes stream starts and ends
// on, as *recorder.Recorder does.
type observingSpy struct{ *spyRecorder }

// ObserveStreams forwards to the real recorder.
func (s observingSpy) ObserveStreams(f recorder.StreamObserver) { s.r.ObserveStreams(f) }

// find returns the ids of the sessions whose StartInfo matches.
func (s *spyRecorder) find(match func(recorder.StartInfo) bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, info := range s.starts {
		if match(info) {
			ids = append(ids, id)
		}
	}
	return ids
}

// fixtureOptions vary the test setup.
type fixtureOptions struct {
	sshd          bool          // add host "real": an OpenSSH sshd
	keepalive     time.Duration // gateway.keepalive_interval (default 15s)
	spoolMaxBytes int64         // recorder spool cap; >0 also disables publishing (unless publish)
	publish       bool          // publish to kfake even with spoolMaxBytes
	stallTimeout  time.Duration // recorder StallTimeout (default 30s)
	noPublish     bool          // no Kafka: the spool only (capped at 16 GiB unless spoolMaxBytes)
	audit         AuditFunc
	// fourEyes adds reviewers dave (production) and erin (host demo
	// only), gives alice the reviewer role and a second key (alice2), and
	// requires approval on env=production hosts (demo-prod).
	fourEyes       bool
	pendingTimeout string // approval policy's pending_timeout (default 15m)
	onLeave        string // pause (default) or terminate
	leaveGrace     string // default 5m
	webhook        string // notify.webhook_url (secret "s3cret")
	publicAddress  string // gateway.public_address

	// extraHosts are more entries of hosts:, one YAML flow mapping each.
	extraHosts []string
	// editConfig rewrites the configuration's YAML before it is parsed
	// (keys are "ssh-ed25519 …" lines in double quotes).
	editConfig func(yaml string) string
	// signer turns signing on in the recorder, and the gateway stream
	// records every other stream's start and end.
	signer *event.Signer
}

// fixture is a running gateway with users alice (admin), bob (staging
// only), carol (auditor), a real recorder publishing to kfake, and hosts:
// demo and demo-prod (an in-process sshtarget), badkey (pinned to the
// wrong key), down (nothing listens) and, with sshd, real.
type fixture struct {
	t        testing.TB
	dir      string
	cfg      *config.Config
	yaml     string // the configuration's text, for reload tests
	srv      *Server
	addr     string
	rec      *recorder.Recorder
	spy      *spyRecorder
	broker   *broker.Broker
	keys     map[string]string // user → private key path
	target   *sshtarget.Target
	serveErr chan error
}

var configTemplate = template.Must(template.New("cfg").Parse(`
gateway:
  id: test-gw
  data_dir: {{.Dir}}
  upstream_timeout: 5s
  keepalive_interval: {{.Keepalive}}
{{- if .PublicAddress}}
  public_address: "{{.PublicAddress}}"
{{- end}}
kafka:
  brokers: ["127.0.0.1:9092"]
retention:
  classes: {logs: 3d, production: 90d}
  default: logs
roles:
  admin: {connect: ["*"]}
  staging: {connect: ["demo"]}
  auditor: {audit: true}
{{- if .FourEyes}}
  reviewer: {approve: ["env=production"]}
  otherreviewer: {approve: ["demo"]}
approval_policies:
  - hosts: ["env=production"]
    pending_timeout: {{.PendingTimeout}}
    on_leave: {{.OnLeave}}
    leave_grace: {{.LeaveGrace}}
    allow_peer_input: true
{{- if .Webhook}}
notify: {webhook_url: "{{.Webhook}}", webhook_secret: s3cret}
{{- end}}
{{- end}}
users:
{{- if .FourEyes}}
  - {name: alice, keys: ["{{.Alice}}", "{{.Alice2}}"], roles: [admin, reviewer]}
  - {name: dave, keys: ["{{.Dave}}"], roles: [reviewer]}
  - {name: erin, keys: ["{{.Erin}}"], roles: [otherreviewer]}
{{- else}}
  - {name: alice, keys: ["{{.Alice}}"], roles: [admin]}
{{- end}}
  - {name: bob, keys: ["{{.Bob}}"], roles: [staging]}
  - {name: carol, keys: ["{{.Carol}}"], roles: [auditor]}
hosts:
  - {name: demo, address: "{{.Target}}", host_key: "{{.TargetKey}}"}
  - {name: demo-prod, address: "{{.Target}}", host_key: "{{.TargetKey}}", labels: {env: production}, class: production}
  - {name: badkey, address: "{{.Target}}", host_key: "{{.OtherKey}}"}
  - {name: down, address: "{{.Down}}", host_key: "{{.TargetKey}}"}
{{- if .SSHD}}
  - {name: real, address: "{{.SSHD}}", login: "{{.Login}}", host_key: "{{.SSHDKey}}"}
{{- end}}
{{- range .ExtraHosts}}
  - {{.}}
{{- end}}
`))

func authorizedKey(k gossh.PublicKey) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
}

// testLogger logs to stderr with -v, else nowhere.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newFixture starts everything; it all stops when the test ends.
func newFixture(t testing.TB, o fixtureOptions) *fixture {
	t.Helper()
	sshtest.RequireSSH(t)
	checkGoroutines(t)
	f := &fixture{t: t, dir: t.TempDir(), keys: map[string]string{}}
	keysDir := filepath.Join(f.dir, "keys")
	if err := os.Mkdir(keysDir, 0o700); err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{"Dir": filepath.Join(f.dir, "data"), "Keepalive": "15s",
		"PendingTimeout": "15m", "OnLeave": "pause", "LeaveGrace": "5m", "Webhook": o.webhook,
		"PublicAddress": o.publicAddress}
	if o.keepalive > 0 {
		vals["Keepalive"] = o.keepalive.String()
	}
	users := []string{"alice", "bob", "carol"}
	if o.fourEyes {
		vals["FourEyes"] = "yes"
		users = append(users, "alice2", "dave", "erin")
		for k, v := range map[string]string{"PendingTimeout": o.pendingTimeout, "OnLeave": o.onLeave, "LeaveGrace": o.leaveGrace} {
			if v != "" {
				vals[k] = v
			}
		}
	}
	for _, u := range users {
		path, pub := sshtest.Keygen(t, keysDir, u)
		f.keys[u] = path
		vals[strings.ToUpper(u[:1])+u[1:]] = authorizedKey(pub)
	}
	// The bastion's client key, created first so that hosts can trust it.
	if err := os.MkdirAll(vals["Dir"], 0o700); err != nil {
		t.Fatal(err)
	}
	_, clientPub := sshtest.Keygen(t, vals["Dir"], "upstream_ed25519")
	home := filepath.Join(f.dir, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	f.target, err = sshtarget.Start(sshtarget.Options{Name: "demo", AuthorizedKeys: []gossh.PublicKey{clientPub}, Dir: home, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.target.Close() })
	vals["Target"] = f.target.Addr()
	vals["TargetKey"] = authorizedKey(f.target.HostKey())
	_, other := sshtest.Keygen(t, keysDir, "other")
	vals["OtherKey"] = authorizedKey(other)
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	vals["Down"] = down.Addr().String()
	down.Close()
	if o.sshd {
		addr, key := sshtest.StartSSHD(t, clientPub)
		vals["SSHD"], vals["SSHDKey"], vals["Login"] = addr, authorizedKey(key), sshtest.LoginUser(t)
	}
	var buf strings.Builder
	data := map[string]any{"ExtraHosts": o.extraHosts}
	for k, v := range vals {
		data[k] = v
	}
	if err := configTemplate.Execute(&buf, data); err != nil {
		t.Fatal(err)
	}
	f.yaml = buf.String()
	if o.editConfig != nil {
		f.yaml = o.editConfig(f.yaml)
	}
	if f.cfg, err = config.Parse([]byte(f.yaml)); err != nil {
		t.Fatal(err)
	}

	rc := recorder.Config{Gateway: "test-gw", SpoolDir: filepath.Join(f.dir, "spool"), Logger: testLogger(), SpoolMaxBytes: o.spoolMaxBytes,
		Signer: o.signer, AnchorFile: filepath.Join(f.dir, "gateway_anchor.json"), StallTimeout: o.stallTimeout}
	if o.noPublish && rc.SpoolMaxBytes == 0 {
		rc.SpoolMaxBytes = 16 << 30 // benchmarks record GiBs and nothing drains the spool
	}
	if f.rec, err = recorder.New(rc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.rec.Close() })
	if (o.spoolMaxBytes == 0 || o.publish) && !o.noPublish {
		f.broker, err = broker.Start("127.0.0.1:0", filepath.Join(f.dir, "kafka"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.broker.Close)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- f.rec.Publish(ctx, recorder.PublisherConfig{Brokers: []string{f.broker.Addr()}, Topic: topic, Partitions: 1})
		}()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, recorder.ErrClosed) {
				t.Errorf("Publish = %v", err)
			}
		})
	}
	f.spy = &spyRecorder{r: f.rec, starts: map[string]recorder.StartInfo{}}
	var rec Recorder = f.spy
	if o.signer != nil {
		rec = observingSpy{f.spy}
	}
	if f.srv, err = New(f.cfg, Options{Recorder: rec, Audit: o.audit, Logger: testLogger()}); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = l.Addr().String()
	f.serveErr = make(chan error, 1)
	go func() { f.serveErr <- f.srv.Serve(l) }()
	t.Cleanup(func() {
		f.srv.Close()
		if err := <-f.serveErr; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v; want ErrServerClosed", err)
		}
		// Failed handshakes are reported on gliderlabs' goroutine,
		// which Close does not wait for.
		waitFor(t, "connection table empty", func() bool {
			f.srv.mu.Lock()
			defer f.srv.mu.Unlock()
			return len(f.srv.conns) == 0
		})
	})
	return f
}

// client returns an OpenSSH client for user running args on the gateway.
func (f *fixture) client(user string, tty bool, args ...string) *sshtest.Client {
	return &sshtest.Client{Addr: f.addr, User: user, Key: f.keys[user], TTY: tty, Args: args}
}

// run runs ssh without a terminal.
func (f *fixture) run(user string, args ...string) sshtest.Result {
	f.t.Helper()
	return sshtest.Run(f.t, f.client(user, false, args...))
}

// dial opens an x/crypto client as user with the given auth methods.
func (f *fixture) dial(user string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	if auth == nil {
		auth = []gossh.AuthMethod{gossh.PublicKeys(sshtest.Signer(f.t, f.keys[user]))}
	}
	c, err := gossh.Dial("tcp", f.addr, &gossh.ClientConfig{
		User:            user,
		Auth:            auth,
		HostKeyCallback: gossh.FixedHostKey(f.srv.hostSigner.PublicKey()),
		Timeout:         timeout,
	})
	if err == nil {
		f.t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// dialAs logs in as login (a user name, with a target after TargetSep or
// without) with that user's key, and fails the test if it cannot. The
// client is closed when the test ends.
func (f *fixture) dialAs(t testing.TB, login string) *gossh.Client {
	t.Helper()
	user, _, _ := strings.Cut(login, TargetSep)
	c, err := f.dial(login, gossh.PublicKeys(sshtest.Signer(t, f.keys[user])))
	if err != nil {
		t.Fatalf("dial %q: %v", login, err)
	}
	return c
}

// sessionAs is dialAs and a new session on the client.
func (f *fixture) sessionAs(t testing.TB, login string) (*gossh.Client, *gossh.Session) {
	t.Helper()
	c := f.dialAs(t, login)
	s, err := c.NewSession()
	if err != nil {
		t.Fatalf("session as %q: %v", login, err)
	}
	return c, s
}

// streams waits until everything recorded so far is in Kafka and returns
// all events by session id.
func (f *fixture) streams() map[string][]event.Event {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := f.rec.Drain(ctx); err != nil {
		f.t.Fatalf("Drain: %v", err)
	}
	conn, err := kafka.DialLeader(ctx, "tcp", f.broker.Addr(), topic, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	last, err := conn.ReadLastOffset()
	conn.Close()
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string][]event.Event{}
	if last == 0 {
		return out
	}
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{f.broker.Addr()}, Topic: topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	defer rd.Close()
	for {
		m, err := rd.ReadMessage(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		var e event.Event
		if err := event.Unmarshal(m.Value, &e); err != nil {
			f.t.Fatal(err)
		}
		out[e.Session] = append(out[e.Session], e)
		if m.Offset == last-1 {
			return out
		}
	}
}

// gatewayEvents returns the events of type typ in the gateway's stream.
func (f *fixture) gatewayEvents(typ event.Type) []event.Event {
	f.t.Helper()
	var out []event.Event
	for _, e := range f.streams()[f.srv.gw.ID()] {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// sessionOf returns the events of the only recording matching match.
func (f *fixture) sessionOf(match func(recorder.StartInfo) bool) []event.Event {
	f.t.Helper()
	ids := f.spy.find(match)
	if len(ids) != 1 {
		f.t.Fatalf("%d matching recordings; want 1", len(ids))
	}
	return f.streams()[ids[0]]
}

// hasMeta reports whether e's Meta contains every pair of want.
func hasMeta(e event.Event, want map[string]string) bool {
	for k, v := range want {
		if e.Meta[k] != v {
			return false
		}
	}
	return true
}

// findEvent returns the first event of typ whose Meta contains want.
func findEvent(evs []event.Event, typ event.Type, want map[string]string) (event.Event, bool) {
	for _, e := range evs {
		if e.Type == typ && hasMeta(e, want) {
			return e, true
		}
	}
	return event.Event{}, false
}

// runClient runs c without a terminal.
func runClient(t testing.TB, c *sshtest.Client) sshtest.Result {
	t.Helper()
	return sshtest.Run(t, c)
}

// sshtestSigner loads a private key file.
func sshtestSigner(t testing.TB, path string) gossh.Signer { return sshtest.Signer(t, path) }

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("timed out waiting for %s", what)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkGoroutines fails the test if, once everything it started has been
// cleaned up, more goroutines run than before it started.
// The os/signal loop is not counted: it is process-wide and the fuzzing
// engine starts it while a fuzz target runs.
func checkGoroutines(t testing.TB) {
	count := func() int {
		n := runtime.NumGoroutine()
		buf := make([]byte, 1<<20)
		if strings.Contains(string(buf[:runtime.Stack(buf, true)]), "os/signal.loop") {
			n--
		}
		return n
	}
	before := count()
	t.Cleanup(func() {
		deadline := time.Now().Add(timeout)
		for count() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines left running (%d before):\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
