package devstack

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/query"
)

var windowID = regexp.MustCompile(`approval window ([0-9a-f-]{36}) for`)

// TestWindowSessionsFoundByApprover runs the real flow over ssh: alice
// requests a window on demo-prod, bob approves it, alice runs a command
// under it; the auditor's `audit sessions --approver bob` and
// `--participant bob` list that command's session (not only the window's
// own recording), and an approver who did not approve it finds nothing.
func TestWindowSessionsFoundByApprover(t *testing.T) {
	st := startStack(t)
	req := st.client("alice", false, "request", "demo-prod", "--for", "10m", "--reason", "rotate-certs")
	req.Start(t)
	m := windowID.FindStringSubmatch(req.Expect(windowID, 30*time.Second))
	bob := st.client("bob", false, "join", m[1])
	bob.Stdin = "y\n"
	if res := sshtest.Run(t, bob); res.Exit != 0 || !strings.Contains(res.Stderr, "you approved window "+m[1]) {
		t.Fatalf("bob's approval: exit %d %s", res.Exit, res.Stderr)
	}
	req.Expect("approved by bob", 30*time.Second)
	if got := req.Wait(); got != 0 {
		t.Fatalf("request exit = %d", got)
	}
	res := sshtest.Run(t, st.client("alice", false, "demo-prod", "--", "echo under-window"))
	if res.Exit != 0 || !strings.Contains(res.Stdout, "under-window") {
		t.Fatalf("exec under the window: exit %d %q %s", res.Exit, res.Stdout, res.Stderr)
	}
	var exec query.Session
	for deadline := time.Now().Add(60 * time.Second); exec.ID == ""; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("exec session not in ClickHouse after 60s (ingest %+v)", st.Ingester.Stats())
		}
		list, err := st.Store.Sessions(context.Background(), query.Filter{User: "alice", Host: "demo-prod", Kind: "exec"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.Command == "echo under-window" && !s.Open {
				exec = s
			}
		}
	}
	if !slices.Equal(exec.Approvers, []string{"bob"}) {
		t.Errorf("exec session approvers = %v; want [bob]", exec.Approvers)
	}
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"--approver", "bob"}, true},
		{[]string{"--participant", "bob"}, true},
		{[]string{"--approver", "alice"}, false}, // she asked; she did not approve
		{[]string{"--approver", "carol"}, false},
	} {
		res := sshtest.Run(t, st.client("carol", false, append([]string{"audit", "sessions", "--json", "--kind", "all"}, tc.args...)...))
		if res.Exit != 0 {
			t.Fatalf("audit sessions %v: exit %d %s", tc.args, res.Exit, res.Stderr)
		}
		var ids []string
		for _, r := range jsonLines(t, res.Stdout) {
			if id, ok := r["id"].(string); ok && r["record"] == nil {
				ids = append(ids, id)
			}
		}
		if got := slices.Contains(ids, exec.ID); got != tc.want {
			t.Errorf("audit sessions %v lists the window's exec session: %v; want %v (ids %v)", tc.args, got, tc.want, ids)
		}
	}
}
