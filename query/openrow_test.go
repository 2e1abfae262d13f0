package query

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// TestForgedOpenRow: a database writer inserts a sessions row with a
// higher version that says the signed, ended s1 is still open, approved
// by dave for a reason, with a command. The row would hide the exit
// status and invent the approval: the listing warns (text and JSON) and
// verify fails and reports the session ended, as the chain says.
func TestForgedOpenRow(t *testing.T) {
	f := newSignedFixture(t)
	forged := f.row
	forged.Open, forged.Ended, forged.LastSeq, forged.LastHash, forged.ExitStatus = true, time.Time{}, 0, f.s1[0].Hash.String(), -1
	forged.Approvers, forged.Reason = []string{"dave"}, "CHG-1234 approved change"
	forged.Command = "sudo systemctl restart billing"
	insertSessions(t, f.conn, 1<<62, forged)

	l := runCLI(f.st, "sessions")
	if !strings.Contains(l.stdout, "WARNING: session s1") || !strings.Contains(l.stdout, "the recording ended") {
		t.Errorf("sessions lists the forged open row without a warning that the recording ended:\n%s", l.stdout)
	}
	j := sessionLines(t, runCLI(f.st, "sessions", "--json").stdout)["s1"]
	if j.Verified || len(j.Problems) == 0 {
		t.Errorf("sessions --json: %+v; want verified false with problems", j)
	}
	v := runCLI(f.st, "verify", "s1")
	if v.code == ExitOK || !strings.Contains(v.stdout, "open but the recording ended") || !strings.Contains(v.stdout, `approvers "dave"`) {
		t.Errorf("verify s1 = %d:\n%s\nwant a failure naming the ended recording and the invented approver", v.code, v.stdout)
	}
	res, err := f.st.Verify(context.Background(), "s1")
	if err != nil || res.Open {
		t.Errorf("Verify: open %v, %v; want ended, as the signed end says", res.Open, err)
	}
}

// TestLaggingOpenRow: the row ingest wrote from the start of a signed,
// ended session, while the end's row has not arrived, is what a lagging
// summary looks like: verify notes it and says the session ended. The
// listing, which shows the row, warns that it does not match.
func TestLaggingOpenRow(t *testing.T) {
	f := newSignedFixture(t)
	s2 := signStream(shellSession("s2", t0.Add(time.Minute)).evs, f.signer, 3)
	insertEvents(t, f.conn, s2)
	r := &rec{id: "s2", evs: s2}
	insertSessions(t, f.conn, 0, r.openRow())

	res, err := f.st.Verify(context.Background(), "s2")
	if err != nil || !res.OK() || res.Open || !strings.Contains(strings.Join(res.Integrity.Notes, "\n"), "has not caught up") {
		t.Errorf("Verify(s2) = OK %v, open %v, %+v, %v; want OK, ended, a note that the row lags", res.OK(), res.Open, res.Integrity, err)
	}
	if l := runCLI(f.st, "sessions"); !strings.Contains(l.stdout, "WARNING: session s2") {
		t.Errorf("sessions shows s2 open without a warning:\n%s", l.stdout)
	}
}

// TestOpenRowsChecked: open rows are checked against their session.start:
// a start only a writer without the key made (no seal, older than
// unsignedGrace), a row whose fields differ from its start's, and one of
// another version are flagged; a sealed open session is not. JSON always
// carries verified.
func TestOpenRowsChecked(t *testing.T) {
	f := newSignedFixture(t) // now: t0+2h
	// fake: only a forged, unsigned session.start and input, 3 hours old.
	fake := newRec("fake", "bob", "payroll-db", "shell", t0.Add(-time.Hour))
	fake.at(time.Second, event.Input, "bob", "cat /srv/payroll.csv\r", nil)
	store(t, f.conn, fake)
	// sealed: a genuine open session, sealed by the gateway's key.
	sealed := &rec{id: "sealed"}
	sealed.evs = signStream(newRec("sealed", "carol", "db1", "shell", t0.Add(-time.Hour)).at(time.Second, event.Input, "carol", "ls\r", nil).evs, f.signer, 2)
	insertEvents(t, f.conn, sealed.evs)
	insertSessions(t, f.conn, 0, sealed.openRow())
	// approved: the same, with a row that claims an approver.
	approved := &rec{id: "approved"}
	approved.evs = signStream(newRec("approved", "carol", "db2", "shell", t0.Add(-time.Hour)).at(time.Second, event.Input, "carol", "ls\r", nil).evs, f.signer, 2)
	insertEvents(t, f.conn, approved.evs)
	row := approved.openRow()
	row.Approvers = []string{"dave"}
	insertSessions(t, f.conn, 0, row)
	// versioned: a row of version 7 for an open session.
	versioned := &rec{id: "versioned"}
	versioned.evs = signStream(newRec("versioned", "carol", "db3", "shell", t0.Add(-time.Hour)).at(time.Second, event.Input, "carol", "ls\r", nil).evs, f.signer, 2)
	insertEvents(t, f.conn, versioned.evs)
	insertSessions(t, f.conn, 7, versioned.openRow())

	l := runCLI(f.st, "sessions")
	for _, w := range []string{"WARNING: session fake: the row above does not match its recording: no trusted key sealed the stream",
		"WARNING: session approved: the row above does not match its recording: the sessions row disagrees with the recording's start: approvers \"dave\"",
		"WARNING: session versioned: the row above does not match its recording: the sessions row disagrees with the recording's start: version \"7\""} {
		if !strings.Contains(l.stdout, w) {
			t.Errorf("sessions: no line %q:\n%s", w, l.stdout)
		}
	}
	if strings.Contains(l.stdout, "WARNING: session sealed") || strings.Contains(l.stdout, "WARNING: session s1") {
		t.Errorf("sessions warns about a genuine session:\n%s", l.stdout)
	}
	out := runCLI(f.st, "sessions", "--json").stdout
	if n := strings.Count(out, `"verified":`); n != 5 {
		t.Errorf("sessions --json: %d lines carry verified; want all 5:\n%s", n, out)
	}
	js := sessionLines(t, out)
	for id, want := range map[string]bool{"s1": true, "sealed": true, "fake": false, "approved": false, "versioned": false} {
		if js[id].Verified != want {
			t.Errorf("sessions --json: %s verified %v; want %v", id, js[id].Verified, want)
		}
	}
	for _, id := range []string{"approved", "versioned"} {
		if v := runCLI(f.st, "verify", id); v.code == ExitOK {
			t.Errorf("verify %s = OK; want the row's difference from its start reported:\n%s", id, v.stdout)
		}
	}
}
