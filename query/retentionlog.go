package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/ingest/retention"
)

// The retention_log rows are the proof of what retention deleted. The
// retention job chains them per signing key and signs each one
// (ingest/retention/logchain.go); checkRetentionLog verifies the rows of
// a window: every row's hash, its signature against the trusted keys, and
// that each chain continues without a gap from the row before the window.
// It cannot see rows removed from the end of a chain after its newest
// stored row.

// logFailureID is the WindowResult failure id of a retention_log chain.
func logFailureID(key string) string {
	if key == "" {
		return "retention_log (unsigned rows)"
	}
	return "retention_log chain " + key
}

// checkRetentionLog verifies the retention_log rows of [since, until)
// into res.
func (s *Store) checkRetentionLog(ctx context.Context, res *WindowResult, since, until time.Time) error {
	rows, err := retention.ReadLog(ctx, s.conn, since, until)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	var signed uint64
	var firstSigned int64
	if err := s.conn.QueryRow(ctx, "SELECT countIf(key != ''), minIf(at_ns, key != '') FROM retention_log").Scan(&signed, &firstSigned); err != nil {
		return fmt.Errorf("query: retention_log: %w", err)
	}
	pred := func(key string, seq uint64) (retention.LogRow, bool, error) {
		return retention.ReadLogRow(ctx, s.conn, key, seq)
	}
	lc := logCheck{keys: s.keys, pred: pred, signedFrom: firstSigned, anySigned: signed > 0}
	if err := lc.check(rows); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	res.LogRows += len(rows)
	res.LogUnsigned += lc.unsigned
	res.LogFailures = append(res.LogFailures, lc.failures...)
	return nil
}

// logCheck verifies retention_log rows ordered by key, seq and at_ns.
type logCheck struct {
	keys *event.Keyring
	// pred reads the row seq of key's chain (for the row before the window).
	pred func(key string, seq uint64) (retention.LogRow, bool, error)
	// signedFrom is the at_ns of the first signed row of the table;
	// anySigned whether there is one.
	signedFrom int64
	anySigned  bool

	unsigned int
	failures []StreamFailure
}

func (c *logCheck) problem(key, format string, args ...any) {
	id := logFailureID(key)
	if n := len(c.failures); n > 0 && c.failures[n-1].ID == id {
		c.failures[n-1].Problems = append(c.failures[n-1].Problems, fmt.Sprintf(format, args...))
		return
	}
	c.failures = append(c.failures, StreamFailure{ID: id, Problems: []string{fmt.Sprintf(format, args...)}})
}

func (c *logCheck) check(rows []retention.LogRow) error {
	var last *retention.LogRow // previous row of the current chain
	for i := range rows {
		r := &rows[i]
		if r.Key == "" {
			if c.anySigned && r.AtNS >= c.signedFrom {
				c.problem("", "%s: not signed, but written after the retention job began signing its log (inserted by a database writer?)", describeLogRow(r))
			} else {
				c.unsigned++
			}
			continue
		}
		if last != nil && last.Key != r.Key {
			last = nil
		}
		if last != nil && r.Seq == last.Seq {
			if r.Hash != last.Hash {
				c.problem(r.Key, "%s: stored twice with different contents (a forged copy, or two ingest processes sharing one signing key)", describeLogRow(r))
			}
			continue
		}
		c.row(r)
		switch {
		case last == nil && r.Seq == 0:
			if r.Prev != (event.Hash{}).String() {
				c.problem(r.Key, "%s: first row of the chain does not start it (prev hash is not zero)", describeLogRow(r))
			}
		case last == nil:
			p, ok, err := c.pred(r.Key, r.Seq-1)
			switch {
			case err != nil:
				return err
			case !ok:
				c.problem(r.Key, "row seq %d is missing (removed): %s follows no stored row", r.Seq-1, describeLogRow(r))
			case p.Hash != r.Prev:
				c.problem(r.Key, "%s: prev hash %s does not match the stored row seq %d (%s): chain rewritten", describeLogRow(r), shortHex(r.Prev), p.Seq, shortHex(p.Hash))
			}
		case r.Seq > last.Seq+1:
			c.problem(r.Key, "rows seq %d..%d are missing (removed) before %s", last.Seq+1, r.Seq-1, describeLogRow(r))
		case r.Prev != last.Hash:
			c.problem(r.Key, "%s: prev hash %s does not match row seq %d (%s): chain rewritten", describeLogRow(r), shortHex(r.Prev), last.Seq, shortHex(last.Hash))
		}
		last = r
	}
	return nil
}

// row checks the hash and the signature of r.
func (c *logCheck) row(r *retention.LogRow) {
	h := r.ComputeHash()
	if h.String() != r.Hash {
		c.problem(r.Key, "%s: content altered: stored hash %s, recomputed %s", describeLogRow(r), shortHex(r.Hash), shortHex(h.String()))
		return
	}
	if c.keys.Len() == 0 {
		return
	}
	err := c.keys.VerifyRetention(r.Key, r.Sig, h)
	switch {
	case err == nil:
	case errors.Is(err, event.ErrUnknownKey):
		c.problem(r.Key, "%s: signed by a key that is not trusted (forged, or add the ingest host's key from `foureyes ingest --print-signing-key` to signing.trusted_keys)", describeLogRow(r))
	default:
		c.problem(r.Key, "%s: invalid signature, forged or altered (%v)", describeLogRow(r), err)
	}
}

func describeLogRow(r *retention.LogRow) string {
	what := r.Table
	if r.Session != "" {
		what += " session " + r.Session
	}
	return fmt.Sprintf("row seq %d (%s %s, run %s, at %s)", r.Seq, r.Action, what, shortHex(r.Run), time.Unix(0, r.AtNS).UTC().Format(time.RFC3339))
}
