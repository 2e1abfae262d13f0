package devstack

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/query"
)

// TestInvalidUTF8VerifiesEndToEnd is the end-to-end regression test of the
// trust issue's hole 3: with the JSON wire form, TERM=xterm\xff made the
// user's own recording fail verification from seq 0, and a pre-auth user
// name with invalid UTF-8 broke the gateway's stream. Both go through the
// real ssh client, the spool, Kafka, ingest and ClickHouse here, and both
// streams verify with the bytes intact.
func TestInvalidUTF8VerifiesEndToEnd(t *testing.T) {
	st := startStack(t)
	ctx := context.Background()

	stranger := &sshtest.Client{Addr: st.SSHAddr(), User: "mal\xffory", Key: filepath.Join(st.Dir, "keys", "alice"), Args: []string{"demo-staging", "--", "true"}}
	if res := sshtest.Run(t, stranger); res.Exit == 0 {
		t.Fatalf("unknown user logged in: %+v", res)
	}

	alice := st.client("alice", true, "demo-staging")
	alice.Env = []string{"TERM=xterm\xff"}
	alice.Start(t)
	alice.Expect("demo-staging$ ", 20*time.Second)
	alice.Send("printf 'A\\377B\\n'; exit 0\r")
	if got := alice.Wait(); got != 0 {
		t.Fatalf("ssh exit status = %d\n%s", got, alice.Output())
	}
	sess := waitSession(t, st, "alice", "demo-staging")
	events, err := st.Store.Events(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := events[0].Meta["term"]; got != "xterm\xff" {
		t.Errorf("session.start term = %q; want the bytes the client sent", got)
	}
	var out strings.Builder
	for _, e := range events {
		if e.Type == event.Output {
			out.Write(e.Data)
		}
	}
	if !strings.Contains(out.String(), "A\xffB") {
		t.Errorf("recorded output lacks the raw byte: %q", out.String())
	}
	if res, err := st.Store.Verify(ctx, sess.ID); err != nil || !res.OK() {
		t.Errorf("Verify(alice's session) = %+v, %v; want OK", res, err)
	}

	// The gateway stream holds the stranger's name, byte for byte, and verifies.
	deadline := time.Now().Add(60 * time.Second)
	for {
		gw, err := st.Store.Sessions(ctx, query.Filter{Kind: "gateway"})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, g := range gw {
			evs, err := st.Store.Events(ctx, g.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.Type == event.AuthFailure && strings.Contains(e.Meta["user"], "mal\xffory") {
					found = true
				}
			}
			if found {
				if res, err := st.Store.Verify(ctx, g.ID); err != nil || !res.OK() {
					t.Fatalf("Verify(gateway stream) = %+v, %v; want OK", res, err)
				}
			}
		}
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no auth.failure naming the stranger in ClickHouse after 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
