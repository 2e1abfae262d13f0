package gateway

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
)

func TestAudit(t *testing.T) {
	var mu sync.Mutex
	var calls [][]string
	audit := func(ctx context.Context, user string, args []string, stdout, stderr io.Writer) int {
		mu.Lock()
		calls = append(calls, append([]string{user}, args...))
		mu.Unlock()
		if len(args) > 0 && args[0] == "fail" {
			fmt.Fprintln(stderr, "audit: bad verb")
			return 2
		}
		fmt.Fprintf(stdout, "line one\nline two %s\n", strings.Join(args, ","))
		return 0
	}
	f := newFixture(t, fixtureOptions{audit: audit})

	res := f.run("carol", "audit", "show", "'a b'", "--json")
	if res.Exit != 0 || res.Stdout != "line one\nline two show,a b,--json\n" {
		t.Errorf("audit: got %+v", res)
	}
	res = f.run("carol", "audit", "fail")
	if res.Exit != 2 || res.Stderr != "audit: bad verb\n" {
		t.Errorf("failing audit: got %+v", res)
	}
	// With a terminal the output gets CRLF line ends.
	c := f.client("carol", true, "audit", "show")
	c.Start(t)
	c.Expect("line one\r\nline two show\r\n", timeout)
	if code := c.Wait(); code != 0 {
		t.Errorf("tty audit exit = %d", code)
	}
	mu.Lock()
	if len(calls) != 3 || strings.Join(calls[0], "|") != "carol|show|a b|--json" {
		t.Errorf("audit calls = %q", calls)
	}
	mu.Unlock()

	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.Kind == "audit" && i.Command == "audit show 'a b' --json" })
	if !hasMeta(evs[0], map[string]string{"kind": "audit", "user": "carol"}) {
		t.Errorf("session.start meta = %v", evs[0].Meta)
	}
	q, ok := findEvent(evs, event.AuditQuery, nil)
	if !ok || q.Actor != "carol" || string(q.Data) != "audit show 'a b' --json" {
		t.Errorf("audit.query = %+v, %v", q, ok)
	}
	for _, e := range evs {
		if e.Type == event.Output {
			t.Errorf("audit output recorded: %q", e.Data)
		}
	}
	if end := evs[len(evs)-1]; end.Type != event.SessionEnd || end.Meta["exit_status"] != "0" {
		t.Errorf("last event %s %v", end.Type, end.Meta)
	}
	failed := f.sessionOf(func(i recorder.StartInfo) bool { return i.Command == "audit fail" })
	if end := failed[len(failed)-1]; end.Meta["exit_status"] != "2" {
		t.Errorf("failed audit session.end = %v", end.Meta)
	}
}
