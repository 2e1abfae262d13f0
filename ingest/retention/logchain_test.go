package retention

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/keyfile"
)

func testSigner(t *testing.T) (*event.Signer, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return event.NewSigner(priv), pub
}

// TestSignedLogChain checks that runs write retention_log rows chained per
// key and signed, that a new job with the same key continues the chain,
// and that another key starts a chain of its own.
func TestSignedLogChain(t *testing.T) {
	conn := testDB(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	classes := map[string]int{"logs": 3}
	var all []session
	for i := range 6 {
		all = append(all, record(fmt.Sprintf("s%d", i), "logs", 3, now.Add(-time.Duration(10+i)*24*time.Hour), 3, time.Minute))
	}
	insert(t, conn, all[:3]...)
	s1, pub1 := testSigner(t)
	run := func(s *event.Signer, at time.Time) {
		t.Helper()
		j := New(conn, Config{Classes: classes, Logger: testLogger(t), Signer: s})
		j.now = func() time.Time { return at }
		if _, err := j.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	run(s1, now)
	insert(t, conn, all[3:5]...)
	run(s1, now.Add(time.Hour)) // a new Job: reads the chain head
	s2, pub2 := testSigner(t)
	insert(t, conn, all[5])
	run(s2, now.Add(2*time.Hour))

	rows, err := ReadLog(ctx, conn, now.Add(-time.Hour), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	keys := event.NewKeyring(pub1, pub2)
	chains := map[string][]LogRow{}
	for _, r := range rows {
		chains[r.Key] = append(chains[r.Key], r)
	}
	if got := len(chains[s1.KeyID()]); got != 10 {
		t.Errorf("rows of key 1 = %d; want 10 (5 days of events and sessions)", got)
	}
	if got := len(chains[s2.KeyID()]); got != 2 {
		t.Errorf("rows of key 2 = %d; want 2", got)
	}
	if n := len(chains[""]); n != 0 {
		t.Errorf("%d unsigned rows; want 0", n)
	}
	for key, c := range chains {
		prev := event.Hash{}.String()
		for i, r := range c {
			if r.Seq != uint64(i) || r.Prev != prev {
				t.Fatalf("chain %s row %d: seq %d prev %.16s; want seq %d prev %.16s", key, i, r.Seq, r.Prev, i, prev)
			}
			h := r.ComputeHash()
			if h.String() != r.Hash {
				t.Fatalf("chain %s seq %d: stored hash %.16s, recomputed %.16s", key, r.Seq, r.Hash, h)
			}
			if err := keys.VerifyRetention(r.Key, r.Sig, h); err != nil {
				t.Fatalf("chain %s seq %d: %v", key, r.Seq, err)
			}
			prev = r.Hash
		}
	}
	// The signature covers the row: another row's hash does not verify.
	a, b := chains[s1.KeyID()][0], chains[s1.KeyID()][1]
	bh, _ := event.ParseHash(b.Hash)
	if err := keys.VerifyRetention(a.Key, a.Sig, bh); !errors.Is(err, event.ErrBadSignature) {
		t.Errorf("signature of seq 0 over the hash of seq 1: %v; want ErrBadSignature", err)
	}
}

// TestUnsignedJobWritesUnsignedRows checks that a job without a signer
// writes rows with an empty key (as before signing).
func TestUnsignedJobWritesUnsignedRows(t *testing.T) {
	conn := testDB(t)
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	insert(t, conn, record("s0", "logs", 3, now.Add(-10*24*time.Hour), 3, time.Minute))
	j := New(conn, Config{Classes: map[string]int{"logs": 3}, Logger: testLogger(t)})
	j.now = func() time.Time { return now }
	if _, err := j.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := ReadLog(context.Background(), conn, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("no rows logged")
	}
	for _, r := range rows {
		if r.Key != "" || r.Sig != "" || r.Hash != "" {
			t.Errorf("row %+v is signed; want unsigned", r)
		}
	}
}

func TestSignerFromConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ingest", "retention_ed25519")
	cfg := &config.Config{}
	cfg.Retention.SigningKeyFile = path
	s1, err := SignerFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := SignerFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s1.KeyID() != s2.KeyID() {
		t.Errorf("key changed between loads: %s, %s", s1.KeyID(), s2.KeyID())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want error
	}{
		{"world-readable", path, keyfile.ErrPermissions},
		{"empty", "", ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &config.Config{}
			c.Retention.SigningKeyFile = tt.path
			if _, err := SignerFromConfig(c); !errors.Is(err, tt.want) {
				t.Errorf("SignerFromConfig = %v; want %v", err, tt.want)
			}
		})
	}
}
