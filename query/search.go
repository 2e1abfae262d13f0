package query

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Search kinds: what a Hit matched.
const (
	HitTyped  = "typed"  // a command line reconstructed from input
	HitExec   = "exec"   // the command of an exec session
	HitFile   = "file"   // a file transfer or SFTP operation; Line is the path
	HitOutput = "output" // a line of terminal output
	// HitUnknown is a commands row of a kind ingest does not write.
	HitUnknown = "unknown"
)

// DefaultMaxScan is how many output rows an output search reads at most
// (SearchFilter.MaxScan) before it stops early.
const DefaultMaxScan = 5_000_000

// maxPattern bounds the length of a search text or expression.
const maxPattern = 1000

// ErrSearch is a search the auditor must change: no text, a bad
// expression, an output search without a window. Its message says what
// to change.
var ErrSearch = errors.New("query: search")

// SearchFilter selects search hits. Exactly one of Command, Output and
// File is set; zero fields of the rest do not filter.
type SearchFilter struct {
	// Command matches typed and exec command lines: a substring, with
	// case, shell quotes and backslashes ignored and any run of blanks
	// matching any other (DR'O'P  table finds DROP TABLE): both sides are
	// normalized alike (commands.norm).
	// With Regex it is an RE2 expression, matched against the line in
	// lower case (its literal letters are lower-cased too).
	Command string
	Regex   bool
	// Output matches a line of terminal output (case-insensitive
	// substring, escape sequences removed before matching). It needs
	// Since, Host or Session: it scans output within those.
	Output string
	// File matches the path of a transfer or SFTP operation.
	File string

	// User selects the commands of U's sessions and, in other sessions,
	// those U typed (as a peer) or ran; output and files of U's sessions.
	User    string
	Host    string
	Session string // one session
	Class   string // retention class
	// Kind is "shell" (typed lines), "exec" or "" (both).
	Kind         string
	Since, Until time.Time
	Limit        int // default DefaultLimit, at most MaxLimit
	// Before is the Cursor of a hit listed earlier: only the hits after
	// it match (the next page).
	Before string
	// MaxScan caps the output rows read (default DefaultMaxScan).
	MaxScan uint64
}

// hitKind returns the Hit kind constant a commands.kind column names,
// or HitUnknown: a hit's kind is printed, and the column is as writable
// as the rest of the table, so what it holds never reaches a terminal.
func hitKind(col string) string {
	switch col {
	case HitTyped:
		return HitTyped
	case HitExec:
		return HitExec
	case HitFile:
		return HitFile
	case HitOutput:
		return HitOutput
	}
	return HitUnknown
}

// Hit is one match: a command, a file or a line of output.
type Hit struct {
	Kind    string // HitTyped, HitExec, HitFile, HitOutput (HitUnknown: not a kind ingest writes)
	Session string
	Seq     uint64
	Idx     int
	Time    time.Time
	Host    string
	User    string // the session's owner
	Actor   string // who typed it (pressed Enter), ran it or moved the file; empty for output
	Typists []string
	Line    string
	Detail  string // files: via, direction or op, status, bytes
	// Approximate and Blind as in Command.
	Approximate bool
	Blind       int
}

// Cursor names h for SearchFilter.Before.
func (h *Hit) Cursor() string {
	return fmt.Sprintf("%d.%d.%d.%s", h.Time.UnixNano(), h.Seq, h.Idx, h.Session)
}

// SearchPage is one page of hits, newest first.
type SearchPage struct {
	Hits []Hit
	// More counts the hits after the page (commands and files); for
	// output, the hits found after it among the rows scanned.
	More int
	// StoppedEarly reports that an output search read MaxScan rows
	// without covering its window: narrow it to see the rest.
	StoppedEarly bool
}

// cursor is a parsed SearchFilter.Before.
type cursor struct {
	tsNs     int64
	seq      uint64
	idx      uint32
	session  string
	asString string
}

func parseCursor(s string) (cursor, error) {
	parts := strings.SplitN(s, ".", 4)
	bad := fmt.Errorf("%w: --before %s: use the value a previous page printed", ErrSearch, s)
	if len(parts) != 4 || parts[3] == "" {
		return cursor{}, bad
	}
	ts, err1 := strconv.ParseInt(parts[0], 10, 64)
	seq, err2 := strconv.ParseUint(parts[1], 10, 64)
	idx, err3 := strconv.ParseUint(parts[2], 10, 32)
	if err1 != nil || err2 != nil || err3 != nil || ts < 0 {
		return cursor{}, bad
	}
	return cursor{tsNs: ts, seq: seq, idx: uint32(idx), session: parts[3], asString: s}, nil
}

// Search returns the hits of f, newest first, with how many more match.
// Commands and files come from the commands table (and its held copy);
// output is scanned in the events within f's window, host or session.
func (s *Store) Search(ctx context.Context, f SearchFilter) (SearchPage, error) {
	set := 0
	for _, v := range []string{f.Command, f.Output, f.File} {
		if strings.TrimSpace(v) != "" {
			set++
		}
	}
	if set != 1 {
		return SearchPage{}, fmt.Errorf("%w: give one of --command, --output or --file", ErrSearch)
	}
	for _, v := range []string{f.Command, f.Output, f.File} {
		if len(v) > maxPattern {
			return SearchPage{}, fmt.Errorf("%w: the search text is longer than %d bytes", ErrSearch, maxPattern)
		}
	}
	switch f.Kind {
	case "", "shell", "exec", KindAll:
	default:
		return SearchPage{}, fmt.Errorf("%w: --kind %s: use shell, exec or all", ErrSearch, f.Kind)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return SearchPage{}, fmt.Errorf("%w: --since is not before --until: nothing can match", ErrSearch)
	}
	var cur *cursor
	if f.Before != "" {
		c, err := parseCursor(f.Before)
		if err != nil {
			return SearchPage{}, err
		}
		cur = &c
	}
	if f.Output != "" {
		return s.searchOutput(ctx, f, cur)
	}
	return s.searchCommands(ctx, f, cur)
}

// textPattern returns the RE2 expression of a plain search text, to be
// matched against a lower-cased line: its words, lower-cased and quoted,
// separated by any run of blanks.
//
// Case is ignored by lower-casing both sides, never with (?i): ClickHouse
// 18.16 looks for the expression's literal part case-sensitively before
// it runs the expression, so (?i)DROP never matched "drop".
func textPattern(text string) string {
	words := strings.Fields(strings.ToLower(text))
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	return strings.Join(words, `\s+`)
}

// lowerRegex lower-cases the literal letters of an RE2 expression, for
// matching against a lower-cased line: escapes (\S, \W, \x1B), Unicode
// classes (\p{Greek}) and ASCII classes ([:upper:]) keep their case.
func lowerRegex(expr string) string {
	var b strings.Builder
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '\\' && i+1 < len(expr):
			end := i + 2
			if (expr[i+1] == 'p' || expr[i+1] == 'P') && end < len(expr) && expr[end] == '{' {
				if j := strings.IndexByte(expr[end:], '}'); j >= 0 {
					end += j + 1
				}
			}
			b.WriteString(expr[i:end])
			i = end - 1
		case c == '[' && strings.HasPrefix(expr[i:], "[:"):
			if j := strings.Index(expr[i:], ":]"); j >= 0 {
				b.WriteString(expr[i : i+j+2])
				i += j + 1
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteString(strings.ToLower(string(c)))
		}
	}
	return b.String()
}

// quoteChars are removed from a search text (and, by the schema, from
// the line): the shell drops them, so DR'O'P and DROP run the same.
const quoteChars = `['"\\]`

var quoteRe = regexp.MustCompile(quoteChars)

// commandMatch returns the SQL condition on line for a command or file
// search, with its arguments.
func commandMatch(f SearchFilter) (string, []any, error) {
	switch {
	case f.File != "":
		return "positionCaseInsensitiveUTF8(line, ?) > 0", []any{f.File}, nil
	case f.Regex:
		if _, err := regexp.Compile(f.Command); err != nil {
			return "", nil, fmt.Errorf("%w: --command is not a valid regular expression (RE2): %w", ErrSearch, err)
		}
		return "match(lowerUTF8(line), ?)", []any{lowerRegex(f.Command)}, nil
	}
	norm := normText(f.Command)
	if norm == "" {
		return "", nil, fmt.Errorf("%w: --command has nothing to search for but quotes", ErrSearch)
	}
	return "position(norm, ?) > 0", []any{norm}, nil
}

// normText normalizes a search text as ingest's schema normalizes a
// command line into commands.norm (ingest normExpr): lower case, no
// quotes or backslashes, blanks (RE2 \s) collapsed to one space.
func normText(text string) string {
	text = quoteRe.ReplaceAllString(strings.ToLower(text), "")
	return strings.Join(strings.FieldsFunc(text, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\f' || r == '\r'
	}), " ")
}

// commonConds returns the conditions on the columns the search tables and
// events share: time (ts prunes partitions, ts_ns is exact), class,
// session and the cursor.
func commonConds(f SearchFilter, cur *cursor) (where []string, args []any) {
	return commonCondsIdx(f, cur, idxCol)
}

// commonCondsIdx is commonConds with idx, the expression of the command
// index ("0" for events).
func commonCondsIdx(f SearchFilter, cur *cursor, idx string) (where []string, args []any) {
	if !f.Since.IsZero() {
		where = append(where, "ts >= toDateTime(?)", "ts_ns >= ?")
		args = append(args, clampUnix(f.Since.Unix()), f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where = append(where, "ts <= toDateTime(?)", "ts_ns < ?")
		args = append(args, clampUnix(f.Until.Unix()), f.Until.UnixNano())
	}
	if f.Class != "" {
		where = append(where, "class = ?")
		args = append(args, f.Class)
	}
	if f.Session != "" {
		where = append(where, "session = ?")
		args = append(args, f.Session)
	}
	if cur != nil {
		where = append(where, "ts <= toDateTime(?)",
			"(ts_ns < ? OR (ts_ns = ? AND (session < ? OR (session = ? AND (seq < ? OR (seq = ? AND "+idx+" < ?))))))")
		args = append(args, clampUnix(cur.tsNs/1e9), cur.tsNs, cur.tsNs, cur.session, cur.session, cur.seq, cur.seq, cur.idx)
	}
	return where, args
}

// keySet is the result of commandKeys.
type keySet struct {
	set         clickhouse.GroupSet // of (session, seq, idx)
	first, last time.Time           // the lowest and highest ts
}

// commandKeys returns the first want distinct keys (session, seq, idx)
// of the rows query(n) selects, in its order, as a set for `(session,
// seq, idx) IN ?` with the bounds of their ts. query(n) reads the first
// n rows without LIMIT BY, which would sort every match: copies of a
// row (redeliveries, held copies) share its key and sort next to it, so
// twice the rows wanted nearly always hold want keys; when not, and the
// rows ran out at n, it reads eight times more.
func (s *Store) commandKeys(ctx context.Context, query func(n int) string, want int, args []any) (keySet, error) {
	for n := 2 * want; ; n *= 8 {
		ks, rows, err := s.readKeys(ctx, query(n), want, args)
		if err != nil || len(ks.set.Value) >= want || rows < n {
			return ks, err
		}
	}
}

// readKeys reads the keys of q's rows, at most want distinct ones, and
// how many rows it read.
func (s *Store) readKeys(ctx context.Context, q string, want int, args []any) (ks keySet, n int, err error) {
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return ks, 0, fmt.Errorf("query: search: %w", err)
	}
	defer rows.Close()
	type key struct {
		session string
		seq     uint64
		idx     uint32
	}
	var last key
	for rows.Next() {
		var (
			k  key
			ts time.Time
		)
		if err := rows.Scan(&k.session, &k.seq, &k.idx, &ts); err != nil {
			return ks, n, fmt.Errorf("query: search: scan: %w", err)
		}
		n++
		if (n > 1 && k == last) || len(ks.set.Value) >= want {
			continue // a copy of the row before
		}
		last = k
		ks.set.Value = append(ks.set.Value, clickhouse.GroupSet{Value: []any{k.session, k.seq, k.idx}})
		if ks.first.IsZero() || ts.Before(ks.first) {
			ks.first = ts
		}
		if ts.After(ks.last) {
			ks.last = ts
		}
	}
	if err := rows.Err(); err != nil {
		return ks, n, fmt.Errorf("query: search: %w", err)
	}
	return ks, n, nil
}

// idxCol is the idx column of the commands tables; events have none.
const idxCol = "idx"

// hitColumns are the columns of a commands row read by scanHit.
const hitColumns = "session, seq, idx, ts_ns, kind, host, user, actor, typists, approximate, blind, line, detail"

func (s *Store) searchCommands(ctx context.Context, f SearchFilter, cur *cursor) (SearchPage, error) {
	match, margs, err := commandMatch(f)
	if err != nil {
		return SearchPage{}, err
	}
	// kind is the kind condition; the page query repeats it, so that a
	// row of another kind stored under a hit's key (only a database
	// writer makes one) cannot take the hit's place.
	var kind string
	switch {
	case f.File != "":
		kind = "kind = 'file'"
	case f.Kind == "shell":
		kind = "kind = 'typed'"
	case f.Kind == "exec":
		kind = "kind = 'exec'"
	default:
		kind = "kind IN ('typed', 'exec')"
	}
	where := []string{match, kind}
	args := margs
	if f.User != "" {
		// What U did: in U's sessions, and what U typed in others'.
		where = append(where, "(user = ? OR actor = ? OR has(typists, ?))")
		args = append(args, f.User, f.User, f.User)
	}
	if f.Host != "" {
		where = append(where, "host = ?")
		args = append(args, f.Host)
	}
	w, a := commonConds(f, cur)
	where, args = append(where, w...), append(args, a...)
	limit := clampLimit(f.Limit)
	// The text match is read first (PREWHERE): only the granules with a
	// match read the other columns; a rare text reads norm alone.
	cond := " PREWHERE " + match + whereClause(where[1:])
	both := append(append([]any{}, args...), args...)
	// The highest blind wins among copies: an input.blind after the
	// line re-sends its row with the mark.
	// Two steps, as for sessions: choose the newest matching keys from
	// narrow columns, then read those rows whole by key; sorting every
	// match with its line costs far more when a common word matches. The
	// keys come back as a literal set, so the match runs once.
	// One key more than the page: whether there are more hits, without
	// counting them when there are none.
	keys, err := s.commandKeys(ctx, func(n int) string {
		return fmt.Sprintf(`SELECT session, seq, idx, ts FROM (
		SELECT session, seq, idx, ts, ts_ns FROM commands%[1]s UNION ALL SELECT session, seq, idx, ts, ts_ns FROM held_commands%[1]s)
		ORDER BY ts_ns DESC, session DESC, seq DESC, idx DESC LIMIT %[2]d`, cond, n)
	}, limit+1, both)
	if err != nil || len(keys.set.Value) == 0 {
		return SearchPage{}, err
	}
	more := len(keys.set.Value) > limit
	count := make(chan uint64Result, 1)
	cctx, stopCount := context.WithCancel(ctx)
	defer stopCount()
	if more {
		keys.set.Value = keys.set.Value[:limit]
		// Counted beside reading the page (another server thread).
		go func() {
			var r uint64Result
			r.err = s.conn.QueryRow(cctx, fmt.Sprintf(`SELECT uniqExact(session, seq, idx) FROM (
				SELECT session, seq, idx FROM commands%[1]s UNION ALL SELECT session, seq, idx FROM held_commands%[1]s)`, cond), both...).Scan(&r.n)
			count <- r
		}()
	}
	// A key's ts never changes: its bounds prune the day partitions and
	// the (host, ts, …) index.
	q := fmt.Sprintf(`SELECT %[1]s FROM (
		SELECT %[1]s FROM commands WHERE ts BETWEEN toDateTime(?) AND toDateTime(?) AND (session, seq, idx) IN ? AND %[3]s
		UNION ALL SELECT %[1]s FROM held_commands WHERE (session, seq, idx) IN ? AND %[3]s)
		ORDER BY ts_ns DESC, session DESC, seq DESC, idx DESC, blind DESC LIMIT 1 BY session, seq, idx LIMIT %[2]d`, hitColumns, limit, kind)
	rows, err := s.conn.Query(ctx, q, clampUnix(keys.first.Unix()), clampUnix(keys.last.Unix()), keys.set, keys.set)
	if err != nil {
		return SearchPage{}, fmt.Errorf("query: search: %w", err)
	}
	defer rows.Close()
	var page SearchPage
	for rows.Next() {
		var (
			h       Hit
			tsNs    int64
			idx     uint32
			approx  uint8
			blind   uint32
			kindCol string
		)
		if err := rows.Scan(&h.Session, &h.Seq, &idx, &tsNs, &kindCol, &h.Host, &h.User, &h.Actor, &h.Typists, &approx, &blind, &h.Line, &h.Detail); err != nil {
			return SearchPage{}, fmt.Errorf("query: search: scan: %w", err)
		}
		h.Kind, h.Idx, h.Time, h.Approximate, h.Blind = hitKind(kindCol), int(idx), time.Unix(0, tsNs).UTC(), approx != 0, int(blind)
		page.Hits = append(page.Hits, h)
	}
	if err := rows.Err(); err != nil {
		return SearchPage{}, fmt.Errorf("query: search: %w", err)
	}
	if !more {
		return page, nil
	}
	c := <-count
	if c.err != nil {
		return SearchPage{}, fmt.Errorf("query: search: count: %w", c.err)
	}
	// The page holds distinct matching keys; More is the rest.
	page.More = max(1, int(c.n)-len(page.Hits))
	return page, nil
}

// uint64Result is a count computed on another goroutine.
type uint64Result struct {
	n   uint64
	err error
}
