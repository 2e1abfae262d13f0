package devstack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/ingest/retention"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/query"
	"github.com/foureyes/foureyes/recorder"
)

// TestRetentionEndToEnd records a session on the 3-day host demo-staging
// (class logs) through the real ssh client and one of the 90-day class
// production, moves the retention job's clock five days ahead and runs
// it: the auditor, over ssh, no longer finds the logs session in the list,
// is told it expired on that day by class logs, still finds the
// production one intact, and sees both classes in `audit retention`.
func TestRetentionEndToEnd(t *testing.T) {
	st := startStack(t)
	ctx := context.Background()

	res := sshtest.Run(t, st.client("alice", false, "demo-staging", "--", "echo staged"))
	if res.Exit != 0 || res.Stdout != "staged\n" {
		t.Fatalf("exec on demo-staging: exit %d stdout %q stderr %q", res.Exit, res.Stdout, res.Stderr)
	}
	// The 90-day session is recorded directly: demo-prod needs a reviewer's
	// approval, which is not what this test is about.
	prod, err := st.Recorder.Start(recorder.StartInfo{Kind: "exec", User: "alice", Host: "demo-prod", Login: "root", Remote: "127.0.0.1:1",
		Command: "uptime", Class: "production", Retention: st.Config.RetentionDays("production")})
	if err != nil {
		t.Fatal(err)
	}
	prod.Output([]byte("up 42 days\r\n"))
	if err := prod.End(0, nil); err != nil {
		t.Fatal(err)
	}
	staging := waitSession(t, st, "alice", "demo-staging")
	production := waitSession(t, st, "alice", "demo-prod")
	if staging.Class != "logs" || staging.RetentionDays != 3 || production.Class != "production" || production.RetentionDays != 90 {
		t.Fatalf("classes: staging %s/%d, production %s/%d; want logs/3 and production/90",
			staging.Class, staging.RetentionDays, production.Class, production.RetentionDays)
	}

	// A second staging session goes on hold before the run, over ssh as the
	// auditor would; a hold without a reason, or by an admin, is refused.
	res = sshtest.Run(t, st.client("alice", false, "demo-staging", "--", "echo evidence"))
	if res.Exit != 0 {
		t.Fatalf("second exec on demo-staging: exit %d %s", res.Exit, res.Stderr)
	}
	var held query.Session
	for deadline := time.Now().Add(60 * time.Second); held.ID == ""; {
		if time.Now().After(deadline) {
			t.Fatal("second staging session not in ClickHouse after 60s")
		}
		list, err := st.Store.Sessions(ctx, query.Filter{User: "alice", Host: "demo-staging"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.ID != staging.ID && !s.Open {
				held = s
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	auditAs := func(user string, args ...string) sshtest.Result {
		return sshtest.Run(t, st.client(user, false, append([]string{"audit"}, args...)...))
	}
	if res := auditAs("carol", "hold", held.ID); res.Exit == 0 {
		t.Errorf("hold without a reason: exit 0; want refusal\n%s", res.Stdout)
	}
	if res := auditAs("alice", "hold", held.ID, "--reason", "'incident 4711 under investigation'"); res.Exit == 0 {
		t.Errorf("hold by an admin: exit 0; want refusal\n%s", res.Stdout)
	}
	if res := auditAs("carol", "hold", held.ID, "--reason", "'incident 4711 under investigation'"); res.Exit != 0 {
		t.Fatalf("audit hold: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
	}

	// Five days later the logs day is past its class, the production day is not.
	later := time.Now().Add(5 * 24 * time.Hour)
	job := retention.New(st.ClickHouse, retention.FromConfig(st.Config, discard()))
	plan, err := job.Plan(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range plan.Drops {
		if d.Class != "logs" {
			t.Errorf("plan drops %s day %s of class %s; only logs may go", d.Table, d.Day.Format(time.DateOnly), d.Class)
		}
	}
	if _, err := job.Apply(ctx, plan); err != nil {
		t.Fatal(err)
	}

	carol := func(args ...string) sshtest.Result {
		return sshtest.Run(t, st.client("carol", false, append([]string{"audit"}, args...)...))
	}
	res = carol("sessions", "--user", "alice")
	if res.Exit != 0 || strings.Contains(res.Stdout, staging.ID) || !strings.Contains(res.Stdout, production.ID) {
		t.Errorf("audit sessions after retention: exit %d; want the production session only\n%s%s", res.Exit, res.Stdout, res.Stderr)
	}
	want := "expired on " + later.UTC().Format(time.DateOnly) + " by retention class logs"
	if res := carol("show", staging.ID); res.Exit != 1 || !strings.Contains(res.Stderr, want) {
		t.Errorf("audit show %s: exit %d; want 1 and %q\n%s%s", staging.ID, res.Exit, want, res.Stdout, res.Stderr)
	}
	if res := carol("verify", production.ID); res.Exit != 0 || !strings.HasPrefix(res.Stdout, "OK") {
		t.Errorf("audit verify of the production session: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
	}
	res = carol("retention")
	if res.Exit != 0 || !strings.Contains(res.Stdout, "logs") || !strings.Contains(res.Stdout, "production") ||
		!strings.Contains(res.Stdout, "90d") || !strings.Contains(res.Stdout, "last drop: ") || strings.Contains(res.Stdout, "last drop: none") {
		t.Errorf("audit retention: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
	}
	if res := carol("verify", held.ID); res.Exit != 0 || !strings.HasPrefix(res.Stdout, "OK") {
		t.Errorf("audit verify of the held session: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
	}
	if res := carol("holds"); res.Exit != 0 || !strings.Contains(res.Stdout, held.ID) || !strings.Contains(res.Stdout, "incident 4711") {
		t.Errorf("audit holds: exit %d\n%s%s", res.Exit, res.Stdout, res.Stderr)
	}
	if _, err := st.Store.Session(ctx, staging.ID); !isExpired(err, "logs") {
		t.Errorf("Store.Session(staging) = %v; want expired by class logs", err)
	}
}

func isExpired(err error, class string) bool {
	var exp *query.ExpiredError
	return errors.As(err, &exp) && exp.Class == class
}
