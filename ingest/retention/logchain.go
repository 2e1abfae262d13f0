package retention

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/event"
)

// The retention_log rows are the proof of what retention deleted, so a
// database writer must not be able to delete, change or add one
// unnoticed. Each row the job writes is chained to the previous row of
// its signing key (Seq, Prev) and signed: Hash is SHA-256 over a
// domain-separated canonical encoding of every field and Prev, and Sig
// is the key's Ed25519 signature over Hash (event.RetentionMessage).
// There is one chain per signing key: every ingest host has its own key,
// so jobs on several hosts never extend the same chain. Two processes
// sharing one key fork it (two rows with one Seq); the verifier reports
// that as a failure. Rows written before signing have an empty Key.

// logDomain separates the row hash from every other hash of foureyes.
const logDomain = "foureyes-retention-row-v1\x00"

// LogRow is one retention_log row as stored.
type LogRow struct {
	At            time.Time // the at column (seconds)
	AtNS          int64
	Run           string
	Action        string
	Table         string // the tbl column
	Class         string
	RetentionDays uint16
	Day           uint32
	Session       string
	Rows, Bytes   uint64
	Detail        string
	// Seq numbers the rows of Key's chain from 0; Prev is the Hash of row
	// Seq-1 (hex; the zero hash for row 0).
	Seq  uint64
	Prev string
	// Hash is the hex SHA-256 of the row (ComputeHash), Key the KeyID of
	// the signing key ("" when the row is not signed) and Sig the base64
	// signature of Hash.
	Hash, Key, Sig string
}

// LogColumns lists the retention_log columns in the order of LogRow's
// fields, for SELECT and INSERT.
const LogColumns = logCols + ", seq, prev_hash, hash, key, sig"

// ComputeHash returns the hash of r: SHA-256 over the domain and every
// field but Hash and Sig, each string length-prefixed, integers
// big-endian.
func (r *LogRow) ComputeHash() event.Hash {
	b := make([]byte, 0, 256+len(r.Detail))
	b = append(b, logDomain...)
	b = binary.BigEndian.AppendUint64(b, uint64(r.At.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(r.AtNS))
	for _, s := range []string{r.Run, r.Action, r.Table, r.Class} {
		b = appendStr(b, s)
	}
	b = binary.BigEndian.AppendUint16(b, r.RetentionDays)
	b = binary.BigEndian.AppendUint32(b, r.Day)
	b = appendStr(b, r.Session)
	b = binary.BigEndian.AppendUint64(b, r.Rows)
	b = binary.BigEndian.AppendUint64(b, r.Bytes)
	b = appendStr(b, r.Detail)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = appendStr(b, r.Prev)
	b = appendStr(b, r.Key)
	return event.Hash(sha256.Sum256(b))
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// logChain is the head of the job's chain in retention_log.
type logChain struct {
	next uint64 // Seq of the next row
	prev string // Hash of the last row, hex
}

// chainHead reads the head of the chain of key from retention_log.
func (j *Job) chainHead(ctx context.Context, key string) (logChain, error) {
	rows, err := j.conn.Query(ctx, "SELECT seq, hash FROM retention_log WHERE key = ? ORDER BY seq DESC, at_ns DESC LIMIT 1", key)
	if err != nil {
		return logChain{}, fmt.Errorf("retention: log chain head: %w", err)
	}
	defer rows.Close()
	head := logChain{prev: event.Hash{}.String()}
	if rows.Next() {
		var seq uint64
		if err := rows.Scan(&seq, &head.prev); err != nil {
			return logChain{}, fmt.Errorf("retention: log chain head: %w", err)
		}
		head.next = seq + 1
	}
	return head, rows.Err()
}

// seal chains and signs r as the next row of c and advances c.
func (c *logChain) seal(r *LogRow, s *event.Signer) {
	r.Seq, r.Prev, r.Key = c.next, c.prev, s.KeyID()
	h := r.ComputeHash()
	r.Hash, r.Sig = h.String(), s.SignRetention(h)
	c.next, c.prev = r.Seq+1, r.Hash
}

// ReadLog returns the retention_log rows with at_ns in [since, until) (a
// zero until: no upper bound), ordered by key, seq and at_ns.
func ReadLog(ctx context.Context, conn driver.Conn, since, until time.Time) ([]LogRow, error) {
	cond, args := "at_ns >= ?", []any{since.UnixNano()}
	if !until.IsZero() {
		cond += " AND at_ns < ?"
		args = append(args, until.UnixNano())
	}
	return readLog(ctx, conn, cond, args...)
}

// ReadLogRow returns the row seq of the chain of key, and whether it is
// stored (the first copy when there are several).
func ReadLogRow(ctx context.Context, conn driver.Conn, key string, seq uint64) (LogRow, bool, error) {
	rows, err := readLog(ctx, conn, "key = ? AND seq = ?", key, seq)
	if err != nil || len(rows) == 0 {
		return LogRow{}, false, err
	}
	return rows[0], true, nil
}

func readLog(ctx context.Context, conn driver.Conn, cond string, args ...any) ([]LogRow, error) {
	rows, err := conn.Query(ctx, "SELECT "+LogColumns+" FROM retention_log WHERE "+cond+" ORDER BY key, seq, at_ns, hash", args...)
	if err != nil {
		return nil, fmt.Errorf("retention: read retention_log: %w", err)
	}
	defer rows.Close()
	var out []LogRow
	for rows.Next() {
		var r LogRow
		if err := rows.Scan(&r.At, &r.AtNS, &r.Run, &r.Action, &r.Table, &r.Class, &r.RetentionDays, &r.Day, &r.Session,
			&r.Rows, &r.Bytes, &r.Detail, &r.Seq, &r.Prev, &r.Hash, &r.Key, &r.Sig); err != nil {
			return nil, fmt.Errorf("retention: read retention_log: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention: read retention_log: %w", err)
	}
	return out, nil
}
