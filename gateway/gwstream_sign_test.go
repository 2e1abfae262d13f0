package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"strconv"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
)

// TestGatewayStreamRecordsStreams runs a session through a gateway that
// signs, and checks that the session ends signed and that the gateway
// stream records its start and its end at the session's last seq and
// hash — what lets audit verify detect a cut-off tail or a deleted
// session.
func TestGatewayStreamRecordsStreams(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fixtureOptions{signer: event.NewSigner(priv)})
	if res := runClient(t, f.client("alice", false, "demo", "--", "echo signed")); res.Exit != 0 || res.Stdout != "signed\n" {
		t.Fatalf("exec = %+v", res)
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.Command == "echo signed" })
	v := event.NewStreamVerifier(event.NewKeyring(pub))
	for i := range evs {
		v.Add(&evs[i])
	}
	res := v.Result()
	if res.Break != nil || !res.Ended || !res.EndSigned {
		t.Fatalf("session stream = %+v; want intact and its end signed", res)
	}
	id, last := evs[0].Session, evs[len(evs)-1]
	if _, ok := findEvent(f.gatewayEvents(event.StreamStarted), event.StreamStarted, map[string]string{"session": id, "kind": "exec", "user": "alice", "host": "demo"}); !ok {
		t.Errorf("the gateway stream does not record the start of %s", id)
	}
	want := map[string]string{"session": id, "last_seq": strconv.FormatUint(last.Seq, 10), "last_hash": last.Hash.String()}
	if _, ok := findEvent(f.gatewayEvents(event.StreamEnded), event.StreamEnded, want); !ok {
		t.Errorf("the gateway stream does not record the end of %s: want %v among %v", id, want, f.gatewayEvents(event.StreamEnded))
	}
}
