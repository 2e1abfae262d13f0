package recorder

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

func testSigner(t testing.TB) (*event.Signer, *event.Keyring) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return event.NewSigner(priv), event.NewKeyring(pub)
}

// waitSealed waits until s has no seal request in flight.
func waitSealed(t *testing.T, s *Session) {
	t.Helper()
	for i := 0; ; i++ {
		s.mu.Lock()
		pending := s.sealSt.pending
		s.mu.Unlock()
		if !pending {
			return
		}
		if i > 10000 {
			t.Fatal("seal request never completed")
		}
		time.Sleep(time.Millisecond)
	}
}

func verifyStream(keys *event.Keyring, evs []event.Event) event.StreamResult {
	v := event.NewStreamVerifier(keys)
	for i := range evs {
		v.Add(&evs[i])
	}
	return v.Result()
}

func TestSealsCheckpointsAndEnd(t *testing.T) {
	signer, keys := testSigner(t)
	cfg := testConfig(t)
	cfg.Signer, cfg.SealEvery, cfg.SealInterval = signer, 3, time.Hour
	r := openTest(t, cfg, options{})
	s, err := r.Start(StartInfo{User: "alice", Host: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		s.Input("alice", []byte{'a' + byte(i)})
		waitSealed(t, s)
	}
	if err := s.End(0, map[string]string{"approvers": "bob"}); err != nil {
		t.Fatal(err)
	}
	evs := bySession(diskEvents(t, cfg.SpoolDir))[s.ID()]
	seals := 0
	for _, e := range evs {
		if e.Type == event.ChainSeal {
			seals++
		}
	}
	if seals != 3 {
		t.Errorf("chain.seal events = %d; want 3 (every 3 events of 11)", seals)
	}
	res := verifyStream(keys, evs)
	if res.Break != nil || !res.Ended || !res.EndSigned || res.SignedThrough != res.LastSeq {
		t.Fatalf("verify = %+v; want every event signed", res)
	}
	if got := evs[len(evs)-1].Meta[event.MetaEndKey]; got != signer.KeyID() {
		t.Errorf("session.end seal_key = %q; want %q", got, signer.KeyID())
	}
}

func TestSealsIdleTail(t *testing.T) {
	signer, keys := testSigner(t)
	cfg := testConfig(t)
	cfg.Signer, cfg.SealEvery, cfg.SealInterval = signer, 1000, 5*time.Millisecond
	r := openTest(t, cfg, options{})
	s, err := r.Start(StartInfo{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	s.Input("alice", []byte("x"))
	for i := 0; ; i++ {
		syncNow(t, r)
		res := verifyStream(keys, bySession(diskEvents(t, cfg.SpoolDir))[s.ID()])
		if res.Break != nil {
			t.Fatal(res.Break)
		}
		if res.Signed && res.SignedThrough == 1 {
			break
		}
		if i > 5000 {
			t.Fatal("the idle tail was never sealed")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGatewayStreamAnchor(t *testing.T) {
	signer, keys := testSigner(t)
	dir := t.TempDir()
	cfg := Config{Gateway: "gw-test", SpoolDir: filepath.Join(dir, "spool"), Logger: testLogger(t),
		Signer: signer, SealEvery: 1000, SealInterval: time.Hour, AnchorFile: filepath.Join(dir, "anchor.json")}
	r1, err := newRecorder(cfg, options{})
	if err != nil {
		t.Fatal(err)
	}
	g1, err := r1.Start(StartInfo{Kind: "gateway", User: "gateway"})
	if err != nil {
		t.Fatal(err)
	}
	if err := g1.Record(event.AuthFailure, "", nil, map[string]string{"user": "mallory"}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, _, ok := r1.GatewayAnchor(); ok {
		t.Error("GatewayAnchor before any seal of the gateway stream: ok")
	}
	if err := g1.End(0, nil); err != nil {
		t.Fatal(err)
	}
	stream, seq, h, _, ok := r1.GatewayAnchor()
	r1.Close()
	first := bySession(diskEvents(t, cfg.SpoolDir))[g1.ID()]
	end := first[len(first)-1]
	if !ok || stream != g1.ID() || seq != end.Seq || h != end.Hash {
		t.Errorf("GatewayAnchor = %s %d %s %v; want the signed end %s %d %s", stream, seq, h, ok, g1.ID(), end.Seq, end.Hash)
	}
	if res := verifyStream(keys, first); res.Break != nil || !res.EndSigned {
		t.Fatalf("first gateway stream: %+v", res)
	}

	r2 := openTest(t, cfg, options{})
	g2, err := r2.Start(StartInfo{Kind: "gateway", User: "gateway"})
	if err != nil {
		t.Fatal(err)
	}
	syncNow(t, r2)
	start := bySession(diskEvents(t, cfg.SpoolDir))[g2.ID()][0]
	want := map[string]string{"anchor_stream": g1.ID(), "anchor_seq": "2", "anchor_hash": end.Hash.String()}
	for k, v := range want {
		if start.Meta[k] != v {
			t.Errorf("second gateway stream start %s = %q; want %q", k, start.Meta[k], v)
		}
	}
}

func TestObserveStreams(t *testing.T) {
	signer, _ := testSigner(t)
	cfg := testConfig(t)
	cfg.Signer = signer
	r := openTest(t, cfg, options{})
	var (
		mu    sync.Mutex
		notes []streamNote
	)
	r.ObserveStreams(func(typ event.Type, meta map[string]string) {
		mu.Lock()
		notes = append(notes, streamNote{t: typ, meta: meta})
		mu.Unlock()
	})
	g, err := r.Start(StartInfo{Kind: "gateway"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.Start(StartInfo{Kind: "shell", User: "alice", Host: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	s.Input("alice", []byte("ls\r"))
	if err := s.End(0, nil); err != nil {
		t.Fatal(err)
	}
	g.End(0, nil)
	evs := bySession(diskEvents(t, cfg.SpoolDir))[s.ID()]
	last := evs[len(evs)-1]
	mu.Lock()
	defer mu.Unlock()
	if len(notes) != 2 || notes[0].t != event.StreamStarted || notes[1].t != event.StreamEnded {
		t.Fatalf("notes = %+v; want the shell session's start and end only", notes)
	}
	if notes[0].meta["session"] != s.ID() || notes[0].meta["host"] != "prod" ||
		notes[1].meta["last_seq"] != "2" || notes[1].meta["last_hash"] != last.Hash.String() {
		t.Errorf("notes = %+v; want session %s ending at seq 2 hash %s", notes, s.ID(), last.Hash)
	}
}

func TestLoadSigningKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "signing_ed25519")
	k1, err := LoadSigningKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	k2, err := LoadSigningKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second load: %v; want the same key", err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigningKey(path); !errors.Is(err, ErrSigningKeyPermissions) {
		t.Fatalf("group-readable key: %v; want ErrSigningKeyPermissions", err)
	}
	if _, err := LoadSigningKey(""); !errors.Is(err, ErrConfig) {
		t.Fatalf("no path: %v; want ErrConfig", err)
	}
}

// BenchmarkSessionInputSealing measures one keystroke (Input of one
// byte) with signing off and on (default seal_every 1000) and reports the
// p99 latency of the call: the keystroke path only counts and, once per
// 1000 events, queues a request; the signature is made on the sealer
// goroutine.
func BenchmarkSessionInputSealing(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			cfg := Config{Gateway: "gw-bench", SpoolDir: b.TempDir(), SpoolMaxBytes: 1 << 40,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			if on {
				cfg.Signer, _ = testSigner(b)
			}
			r, err := newRecorder(cfg, options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { r.Close() })
			s, err := r.Start(StartInfo{User: "alice"})
			if err != nil {
				b.Fatal(err)
			}
			key := []byte{'a'}
			lat := make([]time.Duration, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				s.Input("alice", key)
				lat[i] = time.Since(t0)
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
			if err := s.End(0, nil); err != nil {
				b.Fatal(err)
			}
		})
	}
}
