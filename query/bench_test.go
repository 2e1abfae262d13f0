package query

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// BenchmarkSessions searches 100k summary rows spread over 30 days, 50
// users and 20 hosts: one user over a week, and the default listing.
func BenchmarkSessions(b *testing.B) {
	conn := testConn(b)
	const n = 100_000
	rows := make([]Session, n)
	for i := range rows {
		start := t0.Add(-time.Duration(i) * 26 * time.Second) // 30 days back
		rows[i] = Session{ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), Kind: []string{"shell", "exec", "audit"}[i%3],
			User: fmt.Sprintf("user%02d", i%50), Host: fmt.Sprintf("host%02d", i%20), Started: start, Ended: start.Add(time.Minute),
			Class: "production", RetentionDays: 90, Approvers: []string{"bob"}, LastSeq: 100, LastHash: "00"}
	}
	insertSessions(b, conn, 1, rows...)
	insertSessions(b, conn, 2, rows[:n/10]...) // updated rows not merged yet
	st := NewStore(conn)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		f    Filter
	}{
		{"user-week", Filter{User: "user07", Since: t0.AddDate(0, 0, -7)}},
		{"default-100", Filter{}},
		{"host-all-1000", Filter{Host: "host03", Kind: KindAll, Limit: 1000}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				got, err := st.Sessions(ctx, bc.f)
				if err != nil || len(got) == 0 {
					b.Fatal(len(got), err)
				}
			}
		})
	}
}

// BenchmarkEventsVerify loads and verifies a 100k-event session (100-byte
// output chunks).
func BenchmarkEventsVerify(b *testing.B) {
	conn := testConn(b)
	const n = 100_000
	r := newRec("big", "alice", "h", "shell", t0)
	chunk := make([]byte, 100)
	for i := range chunk {
		chunk[i] = 'a' + byte(i%26)
	}
	for i := 1; i < n-1; i++ {
		r.at(time.Duration(i)*time.Millisecond, event.Output, "", string(chunk), nil)
	}
	store(b, conn, r.end(n*time.Millisecond, "0"))
	st := NewStore(conn)
	ctx := context.Background()
	b.Run("events", func(b *testing.B) {
		for b.Loop() {
			evs, err := st.Events(ctx, "big")
			if err != nil || len(evs) != n {
				b.Fatal(len(evs), err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			res, err := st.Verify(ctx, "big")
			if err != nil || !res.OK() || res.Events != n {
				b.Fatal(res, err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	// The same session as the recorder writes it with signing on: a
	// chain.seal every 1000 events and a signed end; the signatures are
	// checked against the trusted key.
	signer, pub := signedTestKey(b)
	rs := newRec("signed", "alice", "h", "shell", t0)
	for i := 1; i < n-1; i++ {
		rs.at(time.Duration(i)*time.Millisecond, event.Output, "", string(chunk), nil)
	}
	signed := signStream(rs.end(n*time.Millisecond, "0").evs, signer, 1000)
	insertEvents(b, conn, signed)
	sst := NewStore(conn, WithTrustedKeys(pub))
	b.Run("verify-signed", func(b *testing.B) {
		for b.Loop() {
			res, err := sst.Verify(ctx, "signed")
			if err != nil || !res.OK() || res.Events != len(signed) {
				b.Fatal(res.Integrity.Problems, err)
			}
		}
		b.ReportMetric(float64(len(signed))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkCommands reconstructs commands from 1 MiB of typed input.
func BenchmarkCommands(b *testing.B) {
	var evs []event.Event
	for i := 0; i < 1<<20/32; i++ {
		evs = append(evs, event.Event{Seq: uint64(i), Type: event.Input, Actor: "alice", Data: []byte("ls -la /var/log\x7f\x7f\x1b[Dg | wc\r")})
	}
	b.SetBytes(1 << 20)
	for b.Loop() {
		Commands(evs)
	}
}

// BenchmarkSessionsListing is `audit sessions` as the auditor runs it,
// the rows checked against their recordings: 20k signed sessions over 30
// days, one in ten still open, their events and their rows as ingest
// writes them.
func BenchmarkSessionsListing(b *testing.B) {
	conn := testConn(b)
	signer, pub := signedTestKey(b)
	const n = 20_000
	var evs []event.Event
	var ended, open []Session
	for i := range n {
		start := t0.Add(-time.Duration(i) * 130 * time.Second) // 30 days back
		r := newRec(fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), fmt.Sprintf("user%02d", i%50), fmt.Sprintf("host%02d", i%20), "shell", start)
		r.at(time.Second, event.Input, "u", "ls\r", nil)
		r.at(2*time.Second, event.Output, "", "a b c\r\n", nil)
		if i%10 != 0 {
			r.end(time.Minute, "0")
		}
		s := signStream(r.evs, signer, 2)
		evs = append(evs, s...)
		r.evs = s
		if i%10 == 0 {
			open = append(open, r.summary())
		} else {
			ended = append(ended, r.summary())
		}
	}
	insertEvents(b, conn, evs)
	insertSessions(b, conn, 0, open...)
	insertSessions(b, conn, 1, ended...)
	st := NewStore(conn, WithTrustedKeys(pub))
	st.now = func() time.Time { return t0 }
	for _, bc := range []struct {
		name string
		args []string
	}{
		{"default-100", []string{"sessions"}},
		{"all-200", []string{"sessions", "--kind", "all", "--limit", "200"}},
		{"json-200", []string{"sessions", "--limit", "200", "--json"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if r := runCLI(st, bc.args...); r.code != ExitOK || strings.Contains(r.stdout, "WARNING") || strings.Contains(r.stdout, `"verified":false`) {
					b.Fatalf("%v: %d %.300s %s", bc.args, r.code, r.stdout, r.stderr)
				}
			}
		})
	}
}
