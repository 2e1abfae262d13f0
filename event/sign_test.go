package event

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"maps"
	"strings"
	"testing"
)

func newKey(t *testing.T) (*Signer, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return NewSigner(priv), pub
}

// signedStream builds n output events with a chain.seal of the previous
// event after every third, and a signed session.end.
func signedStream(s *Signer, n int) []Event { return sealedEvery(s, n, 3) }

// sealedEvery builds n output events with a chain.seal after every
// every-th, and a signed session.end.
func sealedEvery(s *Signer, n, every int) []Event {
	var c Chain
	var evs []Event
	add := func(e Event) {
		e.V, e.Session, e.Gateway, e.Class, e.Retention = Version, "s1", "gw", "production", 90
		e.Time = int64(1e18 + len(evs))
		c.Seal(&e)
		evs = append(evs, e)
	}
	add(Event{Type: SessionStart, Meta: map[string]string{"user": "alice"}})
	for i := 0; i < n; i++ {
		add(Event{Type: Output, Data: []byte{byte(i)}})
		if i%every == every-1 {
			last := evs[len(evs)-1]
			add(Event{Type: ChainSeal, Meta: s.SealMeta("s1", last.Seq, last.Hash)})
		}
	}
	end := Event{V: Version, Session: "s1", Gateway: "gw", Class: "production", Retention: 90, Time: int64(2e18),
		Type: SessionEnd, Meta: map[string]string{"exit_status": "1", "approvers": "bob"}}
	end.Seq, end.Prev = c.Next(), c.Last()
	s.SignEnd(&end)
	c.Seal(&end)
	return append(evs, end)
}

// rehash recomputes every hash from i on, as a database writer without
// the key would after changing an event.
func rehash(evs []Event, i int) {
	for ; i < len(evs); i++ {
		if i > 0 {
			evs[i].Prev = evs[i-1].Hash
		}
		evs[i].Hash = ComputeHash(&evs[i])
	}
}

func verifyAll(keys *Keyring, evs []Event) StreamResult {
	v := NewStreamVerifier(keys)
	for i := range evs {
		v.Add(&evs[i])
	}
	return v.Result()
}

func TestStreamVerifierSignatures(t *testing.T) {
	signer, pub := newKey(t)
	other, otherPub := newKey(t)
	tests := []struct {
		name   string
		keys   *Keyring
		mutate func([]Event) []Event
		reason string // substring of the break; "" for intact
		// unchecked: intact, but nothing reported signed.
		unchecked bool
	}{
		{name: "intact", keys: NewKeyring(pub), mutate: func(e []Event) []Event { return e }},
		{name: "rotation: old and new key trusted", keys: NewKeyring(otherPub, pub), mutate: func(e []Event) []Event { return e }},
		{name: "untrusted key", keys: NewKeyring(otherPub), mutate: func(e []Event) []Event { return e }, reason: "untrusted key"},
		{name: "no keys: signatures not checked", keys: nil, mutate: func(e []Event) []Event { return e }, unchecked: true},
		{name: "chain recomputed after a change", keys: NewKeyring(pub), mutate: func(e []Event) []Event {
			e[2].Data = []byte("evil")
			rehash(e, 2)
			return e
		}, reason: "chain rewritten"},
		{name: "end changed and rehashed", keys: NewKeyring(pub), mutate: func(e []Event) []Event {
			n := len(e) - 1
			e[n].Meta = maps.Clone(e[n].Meta)
			e[n].Meta["exit_status"] = "0"
			rehash(e, n)
			return e
		}, reason: "end signature: invalid signature"},
		{name: "seal re-signed by another key", keys: NewKeyring(pub), mutate: func(e []Event) []Event {
			e[4].Meta = other.SealMeta("s1", 3, e[3].Hash)
			rehash(e, 4)
			return e
		}, reason: "untrusted key"},
		{name: "seal signature forged", keys: NewKeyring(pub), mutate: func(e []Event) []Event {
			e[4].Meta = maps.Clone(e[4].Meta)
			e[4].Meta[MetaSealSig] = strings.Repeat("A", 86) + "=="
			rehash(e, 4)
			return e
		}, reason: "invalid signature"},
		{name: "seal names a later point", keys: NewKeyring(pub), mutate: func(e []Event) []Event {
			e[4].Meta = signer.SealMeta("s1", 9, e[3].Hash)
			rehash(e, 4)
			return e
		}, reason: "later point"},
		{name: "event after the end", keys: NewKeyring(pub), mutate: func(e []Event) []Event {
			extra := Event{V: Version, Session: "s1", Type: Output, Time: 3e18, Data: []byte("x")}
			c := Resume(e[len(e)-1].Seq, e[len(e)-1].Hash)
			c.Seal(&extra)
			return append(e, extra)
		}, reason: "after the session's end"},
		{name: "removed event", keys: NewKeyring(pub), mutate: func(e []Event) []Event { return append(e[:2:2], e[3:]...) }, reason: "missing event"},
		{name: "reordered", keys: NewKeyring(pub), mutate: func(e []Event) []Event { e[1], e[2] = e[2], e[1]; return e }, reason: "missing event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := verifyAll(tt.keys, tt.mutate(signedStream(signer, 7)))
			if tt.unchecked {
				if r.Break != nil || r.Signed || r.EndSigned {
					t.Fatalf("got %+v; want intact and nothing reported signed", r)
				}
				return
			}
			if tt.reason == "" {
				if r.Break != nil || !r.EndSigned || !r.Ended || r.SignedThrough != r.LastSeq || r.Seals != 3 {
					t.Fatalf("got %+v; want a fully signed stream with 3 signatures", r)
				}
				return
			}
			if r.Break == nil || !strings.Contains(r.Break.Reason, tt.reason) {
				t.Fatalf("break = %v; want one containing %q", r.Break, tt.reason)
			}
		})
	}
}

func TestStreamVerifierUnsignedTail(t *testing.T) {
	signer, pub := newKey(t)
	evs := signedStream(signer, 7)
	evs = evs[:len(evs)-3] // cut the end and the events before it
	r := verifyAll(NewKeyring(pub), evs)
	if r.Break != nil || r.Ended || !r.Signed || r.SignedThrough >= r.LastSeq {
		t.Fatalf("got %+v; want an intact, unended stream signed short of its last event", r)
	}
}

func TestPublicKeyText(t *testing.T) {
	_, pub := newKey(t)
	got, err := ParsePublicKey(FormatPublicKey(pub))
	if err != nil || !got.Equal(pub) {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	for _, bad := range []string{"", "ssh-ed25519 AAAA", "ed25519:!!", "ed25519:AAAA"} {
		if _, err := ParsePublicKey(bad); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParsePublicKey(%q) = %v; want ErrBadKey", bad, err)
		}
	}
}

func BenchmarkStreamVerifier(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	evs := sealedEvery(NewSigner(priv), 100000, 1000) // the recorder's default seal_every
	keys := NewKeyring(pub)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		verifyAll(keys, evs)
	}
	b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestRetentionSignature checks the signatures of retention_log rows and
// each way they are refused, including a seal signature over the same
// hash (domain separation).
func TestRetentionSignature(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, otherPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, other := NewSigner(priv), NewSigner(otherPriv)
	keys := NewKeyring(pub)
	h := Hash(sha256.Sum256([]byte("row")))
	h2 := Hash(sha256.Sum256([]byte("another row")))
	seal := s.SealMeta("x", 1, h)
	tests := []struct {
		name    string
		id, sig string
		h       Hash
		want    error
	}{
		{"valid", s.KeyID(), s.SignRetention(h), h, nil},
		{"not signed", "", "", h, ErrNotSigned},
		{"other row", s.KeyID(), s.SignRetention(h), h2, ErrBadSignature},
		{"untrusted key", other.KeyID(), other.SignRetention(h), h, ErrUnknownKey},
		{"claims the trusted key", s.KeyID(), other.SignRetention(h), h, ErrBadSignature},
		{"malformed", s.KeyID(), "not base64!", h, ErrBadSignature},
		{"seal signature", s.KeyID(), seal[MetaSealSig], h, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := keys.VerifyRetention(tt.id, tt.sig, tt.h)
			if (tt.want == nil && err != nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("VerifyRetention = %v; want %v", err, tt.want)
			}
		})
	}
}
