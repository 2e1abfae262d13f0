package query

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/ingest/retention"
)

// signedTestKey returns a fresh signer and its public key.
func signedTestKey(t testing.TB) (*event.Signer, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return event.NewSigner(priv), pub
}

// signStream re-chains evs as the recorder with signing on writes them: a
// chain.seal after every every-th event and a signed session.end.
func signStream(evs []event.Event, s *event.Signer, every int) []event.Event {
	var (
		c   event.Chain
		out []event.Event
		n   int
	)
	for _, e := range evs {
		e.Meta = maps.Clone(e.Meta)
		if e.Type == event.SessionEnd {
			e.Seq, e.Prev = c.Next(), c.Last()
			s.SignEnd(&e)
		}
		c.Seal(&e)
		out = append(out, e)
		if e.Type == event.SessionEnd {
			break
		}
		if n++; n%every == 0 {
			seal := event.Event{V: event.Version, Session: e.Session, Time: e.Time + 1, Type: event.ChainSeal, Gateway: e.Gateway,
				Class: e.Class, Retention: e.Retention, Meta: s.SealMeta(e.Session, e.Seq, e.Hash)}
			c.Seal(&seal)
			out = append(out, seal)
		}
	}
	return out
}

// gwStream builds a signed gateway stream recording the start and end of
// each of streams; anchor (may be nil) names its predecessor's point.
func gwStream(id string, s *event.Signer, start time.Time, anchor *event.Event, streams ...[]event.Event) []event.Event {
	r := newRec(id, "", "", "gateway", start)
	if anchor != nil {
		r.evs[0].Meta["anchor_stream"] = anchor.Session
		r.evs[0].Meta["anchor_seq"] = strconv.FormatUint(anchor.Seq, 10)
		r.evs[0].Meta["anchor_hash"] = anchor.Hash.String()
	}
	for i, evs := range streams {
		last := evs[len(evs)-1]
		r.at(time.Duration(i+1)*time.Minute, event.StreamStarted, "", "", map[string]string{"session": evs[0].Session, "kind": "shell",
			"class": "production", "retention_days": "90"})
		if last.Type == event.SessionEnd {
			r.at(time.Duration(i+1)*time.Minute+time.Second, event.StreamEnded, "", "",
				map[string]string{"session": last.Session, "last_seq": strconv.FormatUint(last.Seq, 10), "last_hash": last.Hash.String()})
		}
	}
	r.at(time.Hour, event.SessionEnd, "", "", map[string]string{"exit_status": "0", "kind": "gateway"})
	return signStream(r.evs, s, 2)
}

// rewrite replaces the stored events of the fixture day by evs, as a
// database writer can: drop the partition, insert what they like.
func rewrite(t *testing.T, conn driver.Conn, evs ...[]event.Event) {
	t.Helper()
	if err := conn.Exec(context.Background(), "ALTER TABLE events DROP PARTITION (90, 20260314)"); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		insertEvents(t, conn, e)
	}
}

// rechain recomputes every hash from i on, as someone without the key
// would after changing an event.
func rechain(evs []event.Event, i int) []event.Event {
	for ; i < len(evs); i++ {
		if i > 0 {
			evs[i].Prev = evs[i-1].Hash
		}
		evs[i].Hash = event.ComputeHash(&evs[i])
	}
	return evs
}

func cloneEvents(evs []event.Event) []event.Event {
	out := make([]event.Event, len(evs))
	for i, e := range evs {
		e.Data = append([]byte(nil), e.Data...)
		e.Meta = maps.Clone(e.Meta)
		out[i] = e
	}
	return out
}

// signedFixture stores s1 (alice's shell session, signed, seals every 3
// events), its summary row, and the gateway stream recording it, and
// returns a Store trusting the key.
type signedFixture struct {
	conn   driver.Conn
	st     *Store
	signer *event.Signer
	s1, gw []event.Event
	row    Session
}

func newSignedFixture(t *testing.T) *signedFixture {
	t.Helper()
	f := &signedFixture{conn: testConn(t)}
	var pub ed25519.PublicKey
	f.signer, pub = signedTestKey(t)
	f.s1 = signStream(shellSession("s1", t0).evs, f.signer, 3)
	f.gw = gwStream("gw-a", f.signer, t0.Add(-time.Minute), nil, f.s1)
	insertEvents(t, f.conn, f.s1)
	insertEvents(t, f.conn, f.gw)
	end := f.s1[len(f.s1)-1]
	f.row = Session{ID: "s1", Kind: "shell", User: "alice", Host: "demo-prod", Login: "root", Remote: "192.0.2.7:50000",
		Gateway: "gw1", Class: "production", RetentionDays: 90, Started: t0, Ended: end.Timestamp().UTC(),
		LastSeq: end.Seq, LastHash: end.Hash.String(), Approvers: []string{}}
	insertSessions(t, f.conn, end.Seq, f.row)
	f.st = NewStore(f.conn, WithTrustedKeys(pub))
	f.st.now = func() time.Time { return t0.Add(2 * time.Hour) }
	return f
}

func TestVerifySigned(t *testing.T) {
	f := newSignedFixture(t)
	res, err := f.st.Verify(context.Background(), "s1")
	if err != nil || !res.OK() {
		t.Fatalf("Verify = %+v, %v; want OK", res.Integrity, err)
	}
	if !res.Integrity.Stream.EndSigned || len(res.Integrity.Stream.Keys) != 1 || res.Integrity.Stream.Keys[0] != f.signer.KeyID() {
		t.Errorf("signatures = %+v; want the end signed by %s", res.Integrity.Stream, f.signer.KeyID())
	}
	r := runCLI(f.st, "verify", "s1")
	if r.code != ExitOK || !strings.Contains(r.stdout, "signed by "+f.signer.KeyID()) {
		t.Errorf("audit verify s1 = %+v; want OK naming the key", r)
	}
}

// TestVerifyDetectsDatabaseWriter tampers the way someone with write
// access to ClickHouse but without the signing key can, and checks that
// verify names each change.
func TestVerifyDetectsDatabaseWriter(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(f *signedFixture)
		want   string
	}{
		{"changed event, chain recomputed", func(f *signedFixture) {
			s1 := cloneEvents(f.s1)
			s1[4].Data = []byte("ls -l /secret\r")
			rewrite(t, f.conn, rechain(s1, 4), f.gw)
		}, "chain rewritten"},
		{"signatures stripped, chain recomputed", func(f *signedFixture) {
			var s1 []event.Event
			for _, e := range cloneEvents(f.s1) {
				if e.Type != event.ChainSeal {
					delete(e.Meta, event.MetaEndKey)
					delete(e.Meta, event.MetaEndSig)
					e.Seq = uint64(len(s1))
					s1 = append(s1, e)
				}
			}
			rewrite(t, f.conn, rechain(s1, 0), f.gw)
		}, "the end is not signed"},
		{"changed end, rehashed", func(f *signedFixture) {
			s1 := cloneEvents(f.s1)
			n := len(s1) - 1
			s1[n].Meta["exit_status"] = "0"
			s1[n].Meta["approvers"] = "carol"
			rewrite(t, f.conn, rechain(s1, n), f.gw)
		}, "end signature: invalid signature"},
		{"removed event", func(f *signedFixture) {
			s1 := cloneEvents(f.s1)
			rewrite(t, f.conn, append(s1[:3:3], s1[4:]...), f.gw)
		}, "missing event"},
		{"reordered events", func(f *signedFixture) {
			s1 := cloneEvents(f.s1)
			s1[2].Seq, s1[3].Seq = s1[3].Seq, s1[2].Seq
			rewrite(t, f.conn, s1, f.gw)
		}, "prev hash"},
		{"cut-off tail and a start-only summary", func(f *signedFixture) {
			s1 := cloneEvents(f.s1)
			rewrite(t, f.conn, s1[:len(s1)-3], f.gw)
			if err := f.conn.Exec(context.Background(), "ALTER TABLE sessions DROP PARTITION (90, 20260314)"); err != nil {
				t.Fatal(err)
			}
			row := f.row
			row.Open, row.Ended, row.LastSeq, row.LastHash = true, time.Time{}, 0, s1[0].Hash.String()
			insertSessions(t, f.conn, 0, row)
		}, "cut off: gateway stream gw-a records the end at seq"},
		{"forged end appended", func(f *signedFixture) {
			s1 := cloneEvents(f.s1)
			extra := event.Event{V: event.Version, Session: "s1", Time: t0.Add(time.Hour).UnixNano(), Type: event.Output,
				Gateway: "gw1", Data: []byte("rm -rf /\r\n"), Class: "production", Retention: 90}
			c := event.Resume(s1[len(s1)-1].Seq, s1[len(s1)-1].Hash)
			c.Seal(&extra)
			rewrite(t, f.conn, append(s1, extra), f.gw)
		}, "event after the session's end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSignedFixture(t)
			tt.tamper(f)
			r := runCLI(f.st, "verify", "s1")
			if r.code != ExitFailure || !strings.Contains(r.stdout, tt.want) {
				t.Fatalf("audit verify s1 = %d\n%s%s\nwant exit 1 naming %q", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}

// TestVerifyEndRemovedAfterGatewayStopped: the tail of s1 is cut right
// after a seal (what is left is fully signed) and the gateway stream has
// no record of s1 (or lost them): the clean end of the gateway stream
// after s1's last event shows that s1's end was removed.
func TestVerifyEndRemovedAfterGatewayStopped(t *testing.T) {
	for _, tt := range []struct {
		name string
		gw   func(f *signedFixture) []event.Event
		want string
	}{
		{"gateway stream without records", func(f *signedFixture) []event.Event {
			return gwStream("gw-a", f.signer, t0.Add(-time.Minute), nil)
		}, "cut off: the stream has no end, but gateway gw1 stopped cleanly"},
		{"records removed from the gateway stream", func(f *signedFixture) []event.Event {
			var gw []event.Event
			for _, e := range cloneEvents(f.gw) {
				if e.Type != event.StreamStarted && e.Type != event.StreamEnded {
					e.Seq = uint64(len(gw))
					gw = append(gw, e)
				}
			}
			return rechain(gw, 0)
		}, "gateway stream gw-a, which ended after this stream's last event, does not verify"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newSignedFixture(t)
			s1 := cloneEvents(f.s1)
			cut := 0
			for i, e := range s1 {
				if e.Type == event.ChainSeal {
					cut = i + 1
				}
			}
			rewrite(t, f.conn, s1[:cut], tt.gw(f))
			if err := f.conn.Exec(context.Background(), "ALTER TABLE sessions DROP PARTITION (90, 20260314)"); err != nil {
				t.Fatal(err)
			}
			f.st.now = func() time.Time { return t0.Add(10 * time.Minute) } // the cut tail is recent
			r := runCLI(f.st, "verify", "s1")
			if r.code != ExitFailure || !strings.Contains(r.stdout, tt.want) {
				t.Fatalf("audit verify s1 = %d\n%s%s\nwant exit 1 naming %q", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}

func TestVerifyDeletedSession(t *testing.T) {
	f := newSignedFixture(t)
	rewrite(t, f.conn, f.gw) // s1's events gone
	if err := f.conn.Exec(context.Background(), "ALTER TABLE sessions DROP PARTITION (90, 20260314)"); err != nil {
		t.Fatal(err)
	}
	r := runCLI(f.st, "verify", "s1")
	if r.code != ExitFailure || !strings.Contains(r.stdout, "deleted: gateway stream gw-a records this stream ending at seq") {
		t.Fatalf("audit verify s1 = %+v; want FAILED naming the deletion", r)
	}
	r = runCLI(f.st, "verify", "--since", "2026-03-01")
	if r.code != ExitFailure || !strings.Contains(r.stdout, "FAILED: s1: deleted") {
		t.Fatalf("audit verify --since = %+v; want the deletion of s1 named", r)
	}
	// Disguised as retention: a row in expired_sessions long before the
	// class (90 days) allows.
	if err := f.conn.Exec(context.Background(), "INSERT INTO expired_sessions (session, class, retention_days, expired_at) SELECT 's1', 'production', 90, toDateTime(?)",
		t0.Add(time.Hour).Unix()); err != nil {
		t.Fatal(err)
	}
	r = runCLI(f.st, "verify", "s1")
	if r.code != ExitFailure || !strings.Contains(r.stdout, "deleted: said to be removed by retention, but gateway stream gw-a records a start whose class keeps it until 2026-06-13") {
		t.Fatalf("audit verify s1 after a forged expiry = %+v; want the deletion named", r)
	}
}

// TestForgedSummaryRow is the regression test of hole 11: a sessions row
// with a higher version rewrote a denied session's header (exit 0,
// approvers carol, reason approved change CHG-1) and verify said OK,
// show printed it. On the old code verify exits 0 and show prints no
// warning.
func TestForgedSummaryRow(t *testing.T) {
	conn := testConn(t)
	denied := newRec("d1", "alice", "demo-prod", "shell", t0)
	denied.at(100*time.Millisecond, event.ApprovalRequest, "alice", "", map[string]string{"host": "demo-prod", "reason": "JIRA-7", "count": "1"})
	denied.at(2*time.Second, event.ApprovalDeny, "bob", "", nil)
	denied.end(2100*time.Millisecond, "1")
	row := store(t, conn, denied)
	forged := row
	forged.ExitStatus, forged.Approvers, forged.Reason = 0, []string{"carol"}, "approved change CHG-1"
	insertSessions(t, conn, 1000, forged)
	st := NewStore(conn) // no keys: the summary check needs none

	r := runCLI(st, "verify", "d1")
	if r.code != ExitFailure || !strings.Contains(r.stdout, "the sessions row disagrees with the recording") ||
		!strings.Contains(r.stdout, `approvers "carol" (recording: "")`) || !strings.Contains(r.stdout, `exit "0" (recording: "1")`) {
		t.Fatalf("audit verify d1 = %+v; want FAILED naming exit and approvers", r)
	}
	r = runCLI(st, "show", "d1")
	if !strings.HasPrefix(r.stdout, "WARNING: this recording does NOT verify") || strings.Contains(r.stdout, "CHG-1\n") ||
		!strings.Contains(r.stdout, "exit     1\n") {
		t.Fatalf("audit show d1:\n%s\nwant the warning and the recording's exit 1, not the forged row", r.stdout)
	}
	r = runCLI(st, "show", "d1", "--json")
	var head sessionJSON
	if err := json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 2)[0]), &head); err != nil {
		t.Fatal(err)
	}
	if head.Verified || len(head.Problems) == 0 || head.ExitStatus != 1 || len(head.Approvers) != 0 {
		t.Fatalf("show --json session record = %+v; want verified false, exit 1, no approvers", head)
	}
	r = runCLI(st, "export", "d1")
	if !strings.Contains(r.stdout, `"foureyes_verified":false`) || !strings.Contains(r.stderr, "WARNING") {
		t.Fatalf("export d1: stdout %q stderr %q; want the header flag and a warning", r.stdout, r.stderr)
	}
	r = runCLI(st, "sessions", "--json")
	if !strings.Contains(r.stdout, `"verified":false`) {
		t.Fatalf("sessions --json: %s; want the row flagged", r.stdout)
	}
}

// TestPlayWarnsOnAlteredEvents: play printed altered events without a
// word; it now warns before and after the replay.
func TestPlayWarnsOnAlteredEvents(t *testing.T) {
	conn := testConn(t)
	r := shellSession("s1", t0)
	evs := r.events()
	evs[4].Data = []byte("altered output\r\n")
	insertEvents(t, conn, evs)
	insertSessions(t, conn, 1, r.summary())
	res := runCLI(NewStore(conn), "play", "s1")
	if res.code != ExitOK || strings.Count(res.stderr, "WARNING: this recording does NOT verify") != 2 || !strings.Contains(res.stderr, "content altered") {
		t.Fatalf("play s1: %+v; want the warning twice, naming the altered content", res)
	}
}

func TestVerifyWindowGatewayAnchors(t *testing.T) {
	conn := testConn(t)
	oldKey, oldPub := signedTestKey(t)
	newKey, newPub := signedTestKey(t)
	// Key rotation: gw-a and s1 are signed with the old key, gw-b and s2
	// with the new one; gw-b's start anchors gw-a's end.
	s1 := signStream(shellSession("s1", t0).evs, oldKey, 3)
	s2 := signStream(shellSession("s2", t0.Add(2*time.Hour)).evs, newKey, 3)
	gwA := gwStream("gw-a", oldKey, t0.Add(-time.Minute), nil, s1)
	gwB := gwStream("gw-b", newKey, t0.Add(90*time.Minute), &gwA[len(gwA)-1], s2)
	for _, evs := range [][]event.Event{s1, s2, gwA, gwB} {
		insertEvents(t, conn, evs)
	}
	st := func(keys ...ed25519.PublicKey) *Store {
		s := NewStore(conn, WithTrustedKeys(keys...))
		s.now = func() time.Time { return t0.Add(5 * time.Hour) }
		return s
	}
	r := runCLI(st(oldPub, newPub), "verify", "--since", "2026-03-14")
	if r.code != ExitOK || !strings.Contains(r.stdout, "OK: 4 streams (2 gateway streams)") || !strings.Contains(r.stdout, "1 anchors, 0 hold releases, ") ||
		!strings.Contains(r.stdout, oldKey.KeyID()) || !strings.Contains(r.stdout, newKey.KeyID()) {
		t.Fatalf("verify --since with both keys = %+v; want OK, both keys named", r)
	}
	r = runCLI(st(newPub), "verify", "--since", "2026-03-14")
	if r.code != ExitFailure || !strings.Contains(r.stdout, "FAILED: s1: seq") || !strings.Contains(r.stdout, "untrusted key") {
		t.Fatalf("verify --since with the new key only = %+v; want the old key's streams refused", r)
	}
	// Delete the older gateway stream: gw-b's anchor names it.
	rewrite(t, conn, s1, s2, gwB)
	r = runCLI(st(oldPub, newPub), "verify", "--since", "2026-03-14")
	if r.code != ExitFailure || !strings.Contains(r.stdout, "FAILED: gw-b: deleted: its predecessor gateway stream gw-a") {
		t.Fatalf("verify --since after deleting gw-a = %+v; want gw-b's anchor to name it", r)
	}
}

// auditStream builds a signed audit stream of user running line.
func auditStream(id, user, line string, s *event.Signer, at time.Time) []event.Event {
	r := newRec(id, user, "", "audit", at)
	r.at(time.Millisecond, event.AuditQuery, user, line, nil)
	r.at(2*time.Millisecond, event.SessionEnd, "", "", map[string]string{"exit_status": "0", "kind": "audit", "user": user})
	return signStream(r.evs, s, 1000)
}

// TestVerifyWindowHoldReleases: a hold released by two auditors verifies
// when both `audit release` commands are in signed audit streams; a holds
// row claiming a two-auditor release nobody ran (a database writer's
// forgery) fails verify --since.
func TestVerifyWindowHoldReleases(t *testing.T) {
	f := newSignedFixture(t)
	ctx := context.Background()
	placed := t0.Add(time.Hour)
	if _, err := f.st.Hold(ctx, "s1", "carol", "legal request 2026-17 from the board", time.Time{}, placed); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Release(ctx, "s1", "dave", placed.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Release(ctx, "s1", "erin", placed.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	insertEvents(t, f.conn, auditStream("a-dave", "dave", "audit release s1", f.signer, placed.Add(time.Minute)))
	insertEvents(t, f.conn, auditStream("a-erin", "erin", "audit release 's1'", f.signer, placed.Add(2*time.Minute)))
	r := runCLI(f.st, "verify", "--since", "2026-03-14")
	if r.code != ExitOK || !strings.Contains(r.stdout, "1 hold releases, ") {
		t.Fatalf("verify --since with a backed release = %+v; want OK", r)
	}
	// A forged newer version of the holds row: released by mallory,
	// confirmed by eve, who never ran the command.
	if err := f.conn.Exec(ctx, "INSERT INTO holds (session, placed_ns, placed_by, reason, until, class, released_ns, released_by, version) "+
		"SELECT session, placed_ns, placed_by, reason, until, class, released_ns, 'mallory|eve', version + 1000 FROM holds FINAL WHERE session = 's1'"); err != nil {
		t.Fatal(err)
	}
	r = runCLI(f.st, "verify", "--since", "2026-03-14")
	if r.code != ExitFailure || !strings.Contains(r.stdout, "FAILED: hold:s1: the release of carol's hold on s1 by mallory is not backed by a signed `audit release` of mallory") {
		t.Fatalf("verify --since with a forged release = %+v; want it named", r)
	}
}

// TestVerifyFrontRemovedByRetention: retention drops whole days, so a
// stream spanning midnight (a long-running gateway stream above all) loses
// its front first. That verifies, from the first event left, with a note;
// a front removed by a database writer from data not about to expire is a
// missing event.
func TestVerifyFrontRemovedByRetention(t *testing.T) {
	conn := testConn(t)
	signer, pub := signedTestKey(t)
	r := newRec("long", "alice", "demo-prod", "shell", t0)
	for i := 1; i <= 6; i++ {
		r.at(time.Duration(i)*4*time.Hour, event.Output, "", "tick\r\n", nil) // crosses into 2026-03-15
	}
	long := signStream(r.end(26*time.Hour, "0").evs, signer, 2)
	other := signStream(shellSession("cut", t0.Add(10*24*time.Hour)).evs, signer, 2) // far from the class' cutoff
	insertEvents(t, conn, long)
	insertEvents(t, conn, other[2:]) // its front removed by hand
	j := retention.New(conn, retention.Config{Classes: map[string]int{"production": 90}})
	p, err := j.Plan(context.Background(), time.Date(2026, 6, 13, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	st := NewStore(conn, WithTrustedKeys(pub))
	st.now = func() time.Time { return time.Date(2026, 6, 13, 13, 0, 0, 0, time.UTC) }
	res, err := st.Verify(context.Background(), "long")
	if err != nil || !res.OK() || !strings.Contains(strings.Join(res.Integrity.Notes, "\n"), "removed by retention") {
		t.Fatalf("Verify(long) = %+v, %v; want OK, noting the front removed by retention", res.Integrity, err)
	}
	res, err = st.Verify(context.Background(), "cut")
	if err != nil || res.OK() {
		t.Fatalf("Verify(cut) = %+v, %v; want the deleted front reported", res.Integrity, err)
	}
}

// TestVerifyWindowLocalAnchor: the newest gateway stream is named by no
// anchor in the database until the next one starts, so deleting it (and
// the sessions it records) went unnoticed until a restart. The gateway
// serving the query knows the newest point it sealed; verify --since
// checks that the database holds it.
func TestVerifyWindowLocalAnchor(t *testing.T) {
	conn := testConn(t)
	key, pub := signedTestKey(t)
	s1 := signStream(shellSession("s1", t0).evs, key, 3)
	gw := gwStream("gw-a", key, t0.Add(-time.Minute), nil, s1)
	for _, evs := range [][]event.Event{s1, gw} {
		insertEvents(t, conn, evs)
	}
	now := t0.Add(5 * time.Hour)
	last := gw[len(gw)-1]
	verify := func(stream string, seq uint64, h event.Hash, at time.Time) result {
		s := NewStore(conn, WithTrustedKeys(pub), WithLocalAnchor(func() (string, uint64, event.Hash, time.Time, bool) {
			return stream, seq, h, at, true
		}))
		s.now = func() time.Time { return now }
		return runCLI(s, "verify", "--since", "2026-03-14")
	}
	if r := verify("gw-a", last.Seq, last.Hash, now.Add(-time.Hour)); r.code != ExitOK || !strings.Contains(r.stdout, "1 anchors") {
		t.Fatalf("verify with the stored newest seal = %+v; want OK, one anchor checked", r)
	}
	// A seal younger than the grace may still be on its way through Kafka.
	if r := verify("gw-new", 7, last.Hash, now.Add(-10*time.Second)); r.code != ExitOK {
		t.Fatalf("verify with a fresh seal not yet stored = %+v; want OK", r)
	}
	if r := verify("gw-new", 7, last.Hash, now.Add(-time.Hour)); r.code != ExitFailure ||
		!strings.Contains(r.stdout, "gw-new: deleted: this gateway sealed seq 7 of its own stream") {
		t.Fatalf("verify with the newest gateway stream deleted = %+v; want it named", r)
	}
	if r := verify("gw-a", last.Seq, event.Hash{1}, now.Add(-time.Hour)); r.code != ExitFailure ||
		!strings.Contains(r.stdout, "gw-a: rewritten: this gateway sealed seq") {
		t.Fatalf("verify with the newest seal rewritten = %+v; want it named", r)
	}
}
