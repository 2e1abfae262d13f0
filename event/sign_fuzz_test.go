package event

import (
	"crypto/ed25519"
	"testing"
)

// FuzzVerifySeal feeds arbitrary seal and end Meta (as stored in a
// database anyone may write to) to the verifier: it must never panic and
// never accept a signature it did not check.
func FuzzVerifySeal(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	s := NewSigner(seed)
	keys := NewKeyring(s.Public())
	m := s.SealMeta("s1", 3, Hash{1})
	f.Add("s1", uint64(4), m[MetaSealSeq], m[MetaSealHash], m[MetaSealKey], m[MetaSealSig])
	f.Add("", uint64(0), "", "", "", "")
	f.Add("s1", uint64(1), "18446744073709551615", "zz", "ed25519:", "====")
	f.Fuzz(func(t *testing.T, session string, seq uint64, sealSeq, hash, key, sig string) {
		e := Event{V: Version, Session: session, Seq: seq, Type: ChainSeal, Time: 1,
			Meta: map[string]string{MetaSealSeq: sealSeq, MetaSealHash: hash, MetaSealKey: key, MetaSealSig: sig}}
		if got, h, err := keys.VerifySeal(&e); err == nil {
			if ok := ed25519.Verify(s.Public(), SealMessage(session, got.Seq, h), mustSig(t, sig)); !ok {
				t.Fatalf("VerifySeal accepted %+v without a valid signature", e.Meta)
			}
		}
		end := Event{V: Version, Session: session, Seq: seq, Type: SessionEnd, Time: 1,
			Meta: map[string]string{MetaEndKey: key, MetaEndSig: sig, "exit_status": sealSeq}}
		keys.VerifyEnd(&end) //nolint:errcheck // must not panic
		ParsePublicKey(key)  //nolint:errcheck // must not panic
		v := NewStreamVerifier(keys)
		v.Add(&e)
		v.Add(&end)
		v.Result()
	})
}

func mustSig(t *testing.T, s string) []byte {
	t.Helper()
	sig, err := decodeSig(s)
	if err != nil {
		t.Fatalf("accepted signature %q does not decode: %v", s, err)
	}
	return sig
}
