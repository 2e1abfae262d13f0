package query

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/ingest/retention"
)

// logFixture is a database whose retention job, signing with signer, has
// dropped four days of events: retention_log holds four signed rows,
// seq 0..3 of the signer's chain, written at t0.
type logFixture struct {
	conn   driver.Conn
	st     *Store
	signer *event.Signer
	pub    ed25519.PublicKey
	rows   []retention.LogRow
}

func newLogFixture(t *testing.T) *logFixture {
	t.Helper()
	f := &logFixture{conn: testConn(t)}
	f.signer, f.pub = signedTestKey(t)
	for i := range 4 {
		insertEvents(t, f.conn, shellSession(fmt.Sprintf("old%d", i), t0.AddDate(0, 0, -100-i)).evs)
	}
	ctx := context.Background()
	job := retention.New(f.conn, retention.Config{Signer: f.signer})
	p, err := job.Plan(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := job.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	f.rows = readLogRows(t, f.conn)
	if len(f.rows) != 4 {
		t.Fatalf("retention_log has %d rows; want 4", len(f.rows))
	}
	f.st = NewStore(f.conn, WithTrustedKeys(f.pub))
	f.st.now = func() time.Time { return t0.Add(2 * time.Hour) }
	return f
}

func readLogRows(t *testing.T, conn driver.Conn) []retention.LogRow {
	t.Helper()
	rows, err := retention.ReadLog(context.Background(), conn, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// insertLog inserts rows into retention_log as a database writer can.
func insertLog(t *testing.T, conn driver.Conn, rows ...retention.LogRow) {
	t.Helper()
	b, err := conn.PrepareBatch(context.Background(), "INSERT INTO retention_log ("+retention.LogColumns+")")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := b.Append(r.At, r.AtNS, r.Run, r.Action, r.Table, r.Class, r.RetentionDays, r.Day, r.Session, r.Rows, r.Bytes,
			r.Detail, r.Seq, r.Prev, r.Hash, r.Key, r.Sig); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

// rewriteLog replaces retention_log by rows: drop the partition of t0,
// insert what they like (18.16 has no reliable in-place update).
func rewriteLog(t *testing.T, conn driver.Conn, rows ...retention.LogRow) {
	t.Helper()
	if err := conn.Exec(context.Background(), "ALTER TABLE retention_log DROP PARTITION "+t0.Format("200601")); err != nil {
		t.Fatal(err)
	}
	if len(rows) > 0 {
		insertLog(t, conn, rows...)
	}
}

func cloneLog(rows []retention.LogRow) []retention.LogRow {
	return append([]retention.LogRow(nil), rows...)
}

// rehash recomputes the hashes of rows from i on, as someone without the
// key would after changing one; the signatures stay as they were.
func rehash(rows []retention.LogRow, i int) []retention.LogRow {
	for ; i < len(rows); i++ {
		if i > 0 {
			rows[i].Prev = rows[i-1].Hash
		}
		rows[i].Hash = rows[i].ComputeHash().String()
	}
	return rows
}

func TestVerifyWindowSignedRetentionLog(t *testing.T) {
	f := newLogFixture(t)
	res, err := f.st.VerifyWindow(context.Background(), t0.Add(-time.Hour), time.Time{})
	if err != nil || !res.OK() {
		t.Fatalf("VerifyWindow = %+v, %v; want OK", res, err)
	}
	if res.LogRows != 4 || res.LogUnsigned != 0 {
		t.Errorf("LogRows, LogUnsigned = %d, %d; want 4, 0", res.LogRows, res.LogUnsigned)
	}
	r := runCLI(f.st, "verify", "--since", t0.Add(-time.Hour).Format(time.RFC3339))
	if r.code != ExitOK || !strings.Contains(r.stdout, "4 retention_log rows checked") {
		t.Errorf("audit verify --since = %+v; want OK with 4 retention_log rows", r)
	}
	// A window after the first rows: the first row in it links to the
	// stored row before it.
	res, err = f.st.VerifyWindow(context.Background(), t0, time.Time{})
	if err != nil || !res.OK() {
		t.Fatalf("VerifyWindow from t0 = %+v, %v; want OK", res, err)
	}
}

// TestVerifyWindowRetentionLogUnsignedBefore checks that rows written
// before signing began are reported, not failed, and that an unsigned
// row after it is a failure.
func TestVerifyWindowRetentionLogUnsigned(t *testing.T) {
	f := newLogFixture(t)
	old := retention.LogRow{At: t0.Add(-30 * time.Minute), AtNS: t0.Add(-30 * time.Minute).UnixNano(), Run: "r-old", Action: "drop",
		Table: "events", Class: "production", RetentionDays: 90, Day: 20251101, Rows: 7, Detail: "before signing"}
	insertLog(t, f.conn, old)
	res, err := f.st.VerifyWindow(context.Background(), t0.Add(-time.Hour), time.Time{})
	if err != nil || !res.OK() || res.LogUnsigned != 1 {
		t.Fatalf("VerifyWindow = %+v, %v; want OK with 1 unsigned row", res, err)
	}
	r := runCLI(f.st, "verify", "--since", t0.Add(-time.Hour).Format(time.RFC3339))
	if r.code != ExitOK || !strings.Contains(r.stdout, "1 retention_log rows are not signed") {
		t.Errorf("audit verify --since = %+v; want OK noting the unsigned row", r)
	}
	late := old
	late.At, late.AtNS, late.Detail = t0.Add(time.Minute), t0.Add(time.Minute).UnixNano(), "inserted later"
	insertLog(t, f.conn, late)
	res, err = f.st.VerifyWindow(context.Background(), t0.Add(-time.Hour), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got := logProblems(res); res.OK() || !strings.Contains(got, "not signed, but written after") {
		t.Errorf("problems = %q; want the late unsigned row named", got)
	}
	r = runCLI(f.st, "verify", "--since", t0.Add(-time.Hour).Format(time.RFC3339), "--json")
	if r.code != ExitFailure || !strings.Contains(r.stdout, `"record":"retention_log_failure"`) || !strings.Contains(r.stdout, `"retention_log_unsigned":1`) {
		t.Errorf("audit verify --since --json = %+v; want a retention_log_failure record", r)
	}
}

func logProblems(res WindowResult) string {
	var b strings.Builder
	for _, f := range res.LogFailures {
		for _, p := range f.Problems {
			fmt.Fprintf(&b, "%s: %s\n", f.ID, p)
		}
	}
	return b.String()
}

// TestVerifyWindowDetectsRetentionLogWriter tampers with retention_log as
// someone with write access to ClickHouse but without the retention key
// can, and checks that verify --since names each change.
func TestVerifyWindowDetectsRetentionLogWriter(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, f *logFixture)
		want   []string
	}{
		{"changed row, hash kept", func(t *testing.T, f *logFixture) {
			rows := cloneLog(f.rows)
			rows[2].Rows = 1
			rewriteLog(t, f.conn, rows...)
		}, []string{"row seq 2 ", "content altered"}},
		{"changed row, chain rehashed", func(t *testing.T, f *logFixture) {
			rows := cloneLog(f.rows)
			rows[1].Detail = "day 2025-12-01 older than 90 days (routine)"
			rewriteLog(t, f.conn, rehash(rows, 1)...)
		}, []string{"row seq 1 ", "invalid signature"}},
		{"removed row in the middle", func(t *testing.T, f *logFixture) {
			rows := cloneLog(f.rows)
			rewriteLog(t, f.conn, append(rows[:2:2], rows[3:]...)...)
		}, []string{"rows seq 2..2 are missing (removed)"}},
		{"removed first row", func(t *testing.T, f *logFixture) {
			rewriteLog(t, f.conn, cloneLog(f.rows)[1:]...)
		}, []string{"row seq 0 is missing (removed)"}},
		{"removed row, chain relinked", func(t *testing.T, f *logFixture) {
			rows := cloneLog(f.rows)
			rows = append(rows[:1:1], rows[2:]...)
			for i := range rows {
				rows[i].Seq = uint64(i)
			}
			rewriteLog(t, f.conn, rehash(rows, 1)...)
		}, []string{"row seq 1 ", "invalid signature"}},
		{"forged row, untrusted key", func(t *testing.T, f *logFixture) {
			other, _ := signedTestKey(t)
			r := f.rows[3]
			r.Run, r.Detail, r.Seq, r.Prev, r.Key = "forged", "forged drop", 4, r.Hash, other.KeyID()
			h := r.ComputeHash()
			r.Hash, r.Sig = h.String(), other.SignRetention(h)
			insertLog(t, f.conn, r)
		}, []string{"signed by a key that is not trusted"}},
		{"forged row, trusted key id", func(t *testing.T, f *logFixture) {
			r := f.rows[3]
			r.Run, r.Detail, r.Seq, r.Prev = "forged", "forged drop", 4, r.Hash
			r.Hash = r.ComputeHash().String()
			insertLog(t, f.conn, r) // the signature of seq 3
		}, []string{"row seq 4 ", "invalid signature"}},
		{"forged second copy", func(t *testing.T, f *logFixture) {
			r := f.rows[1]
			r.Detail = "a second story"
			r.Hash = r.ComputeHash().String()
			insertLog(t, f.conn, r)
		}, []string{"row seq 1 ", "stored twice with different contents"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLogFixture(t)
			tt.tamper(t, f)
			res, err := f.st.VerifyWindow(context.Background(), t0.Add(-time.Hour), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			got := logProblems(res)
			if res.OK() {
				t.Fatalf("VerifyWindow OK after tampering; want failure")
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("problems = %q; want %q", got, w)
				}
			}
			if !strings.Contains(got, "retention_log chain ed25519:") {
				t.Errorf("problems = %q; want the chain named", got)
			}
			if len(res.Failures) != 0 {
				t.Errorf("stream failures = %v; want only the retention log's", res.Failures)
			}
			r := runCLI(f.st, "verify", "--since", t0.Add(-time.Hour).Format(time.RFC3339))
			if r.code != ExitFailure || !strings.Contains(r.stdout, "FAILED: retention_log chain") || !strings.Contains(r.stdout, "FAILED (the retention log)") {
				t.Errorf("audit verify --since = %+v; want FAILED naming the chain", r)
			}
		})
	}
}

// TestVerifyWindowRetentionLogEdge checks the link of a window's first
// row to the stored row before the window: intact it verifies; with the
// rows before the window rewritten (rehashed) it names the broken link.
func TestVerifyWindowRetentionLogEdge(t *testing.T) {
	f := newLogFixture(t)
	ctx := context.Background()
	insertEvents(t, f.conn, shellSession("old9", t0.AddDate(0, 0, -120)).evs)
	later := t0.Add(time.Hour)
	job := retention.New(f.conn, retention.Config{Signer: f.signer})
	p, err := job.Plan(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := job.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	all := readLogRows(t, f.conn)
	if len(all) != 5 || all[4].Seq != 4 || all[4].Prev != all[3].Hash {
		t.Fatalf("after the second run: %d rows, last %+v; want seq 4 continuing seq 3", len(all), all[len(all)-1])
	}
	res, err := f.st.VerifyWindow(ctx, later, time.Time{})
	if err != nil || !res.OK() || res.LogRows != 1 {
		t.Fatalf("VerifyWindow from the second run = %+v, %v; want OK with 1 row", res, err)
	}
	rows := cloneLog(all)
	rows[0].Detail = "rewritten before the window"
	rewriteLog(t, f.conn, rehash(rows[:4], 0)...) // the fifth row keeps its prev
	insertLog(t, f.conn, all[4])
	res, err = f.st.VerifyWindow(ctx, later, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got := logProblems(res); res.OK() || !strings.Contains(got, "does not match the stored row seq 3") {
		t.Errorf("problems = %q; want the link to seq 3 named", got)
	}
}
