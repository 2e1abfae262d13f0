package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/foureyes/foureyes/event"
)

// Exit statuses of Run.
const (
	ExitOK      = 0 // success; verify: chain intact
	ExitFailure = 1 // not found, query failed, verify failed
	ExitUsage   = 2 // unknown verb, bad flag or argument
)

// maxSpeed is the fastest play --speed.
const maxSpeed = 1000

const usageText = `usage: audit VERB [arguments]

  sessions [--user U] [--host H] [--participant U] [--approver U] [--since T]
           [--until T] [--kind K] [--limit N] [--before ID] [--transfers]
           [--host-channel-open] [--json]
        list sessions, newest first. T is a duration ago (90m, 24h, 7d, 2w) or
        a time (2026-11-25, 2026-11-25T10:00, 2026-11-25T10:00:00Z; UTC
        unless an offset is given). K is shell, exec, sftp, tunnel, window,
        audit, gateway or all (default: shell, exec, sftp and tunnel). --limit defaults to 100 (at most 100000).
        When more match, a last line says how many and gives the next page's
        command (--before ID: the sessions listed after ID); with --json it
        is {"record":"more","more":N,"before":ID,"next":COMMAND}.
        --transfers: only sessions that moved or changed files (scp, rsync,
        git, SFTP).
        --host-channel-open: only sessions whose host kept the channel open
        after the session ended (a process may have run on); such a session
        is marked after its EXIT and in --json has "host_channel_open":true
        and "host_channel_action" (login_closed or login_retired).
        --participant U: sessions U started, approved, denied, viewed
        pending, joined, typed in, terminated or was refused joining;
        --approver U: approved.
  search --command TEXT [--regex] | --output TEXT | --file PATH
         [--user U] [--host H] [--session ID] [--class C] [--kind K]
         [--since T] [--until T] [--limit N] [--before CURSOR] [--json]
        find commands typed or run (as show reconstructs them; spaces match
        any blanks, quotes are ignored, case too; --regex: an RE2
        expression), lines of output (needs --since, --host or --session;
        stops early past a scan cap and says so) or files transferred,
        newest first: time, session, host, who typed it, the line. K is
        shell, exec or all. Paging as for sessions.
  show ID [--json]
        session details and timeline: start, resizes, commands typed (with
        typist), exec, file transfers (direction, path, size, SHA-256,
        duration), SFTP file operations, output not stored past the cap,
        signals and other events, end.
  play ID [--speed N] [--max-idle D]
        replay the output with its timing (escape sequences that act beyond
        drawing are removed). N is greater than 0, at most 1000 (default 1).
        --max-idle caps pauses (default 2s; 0: no cap). A session without
        recorded output (a denied request, the gateway's own stream) prints
        nothing on stdout, says why on stderr and exits with status 1.
  export ID [--format asciicast] [--sanitize]
        write the recording to stdout as asciicast v2, faithful to the bytes
        recorded; --sanitize removes what play removes.
  verify ID [--json] | verify --since T [--until T] [--json]
        check the hash chain, the gateway's signatures, the summary row and
        what the gateway stream recorded of the session's end; --since: every
        stream of the window and the gateway streams' anchors. Exit status 1
        when anything does not verify. show, play, export and sessions warn
        when what they print does not verify.
  hold ID --reason TEXT [--until DATE]
        keep a session beyond its retention class (at most retention.max_hold
        past the day its class drops it; the default --until). DATE is
        YYYY-MM-DD (held through that day, UTC) or RFC3339.
  holds [--all] [--json]
        list the active holds (--all: also released and ended ones).
  release ID
        end your own holds of a session now; someone else's hold needs two
        auditors: the first asks, a different one confirms with release ID.
        Without holds left, its held copy goes at the next run.
  retention [--json]
        per class: oldest data, next drop; active holds; the last drop.
  help
        this text. VERB -h shows the flags of a verb.

Flags go anywhere after the verb: --name VALUE or --name=VALUE.
Exit status: 0 success, 1 failure (not found, verify failed, no output to
play), 2 usage error.
`

// cli holds what one Run needs; tests build it with a fixed clock and a
// sleep that does not wait.
type cli struct {
	st             *Store
	user           string // the auditor, for holds; empty when unknown
	stdout, stderr io.Writer
	now            func() time.Time
	sleep          func(ctx context.Context, d time.Duration) error
}

// Run executes one auditor command — args is its argv without "audit",
// e.g. ["sessions", "--user", "alice", "--json"] — writing results to
// stdout and errors to stderr. It returns the exit status: ExitOK,
// ExitFailure or ExitUsage. Every string taken from a recording is made
// harmless for the auditor's terminal before it is printed.
func Run(ctx context.Context, st *Store, args []string, stdout, stderr io.Writer) int {
	return RunAs(ctx, st, "", args, stdout, stderr)
}

// RunAs is Run on behalf of the named auditor, who is recorded as the
// author of holds and releases. Run (user unknown) refuses those.
func RunAs(ctx context.Context, st *Store, user string, args []string, stdout, stderr io.Writer) int {
	c := &cli{st: st, user: user, stdout: stdout, stderr: stderr, now: time.Now}
	return c.run(ctx, args)
}

func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usageText)
		return ExitUsage
	}
	verb, rest := args[0], args[1:]
	switch verb {
	case "sessions":
		return c.sessions(ctx, rest)
	case "show":
		return c.show(ctx, rest)
	case "play":
		return c.play(ctx, rest)
	case "export":
		return c.export(ctx, rest)
	case "verify":
		return c.verify(ctx, rest)
	case "hold":
		return c.hold(ctx, rest)
	case "holds":
		return c.holds(ctx, rest)
	case "release":
		return c.release(ctx, rest)
	case "retention":
		return c.retention(ctx, rest)
	case "search":
		return c.search(ctx, rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, usageText)
		return ExitOK
	}
	fmt.Fprintf(c.stderr, "audit: unknown verb %q\n\n%s", printable(verb), usageText)
	return ExitUsage
}

// fail reports err and returns ExitFailure.
func (c *cli) fail(id string, err error) int {
	var exp *ExpiredError
	switch {
	case errors.As(err, &exp):
		fmt.Fprintf(c.stderr, "audit: %s\n", exp.message())
	case isNotFound(err):
		fmt.Fprintf(c.stderr, "audit: session %s not found\n", printable(id))
	default:
		fmt.Fprintf(c.stderr, "audit: %s\n", printable(err.Error()))
	}
	return ExitFailure
}

// sessionKinds are the values of sessions --kind.
var sessionKinds = []string{"shell", "exec", "sftp", "tunnel", "window", "audit", "gateway", KindAll}

func (c *cli) sessions(ctx context.Context, args []string) int {
	fs := c.flagSet("sessions", "[--user U] [--host H] [--participant U] [--approver U] [--since T] [--until T] [--kind K] [--limit N] [--before ID] [--transfers] [--host-channel-open] [--json]")
	fs.note = "When more sessions match than --limit, a last line says how many and gives the command of the next page (--before ID)."
	user := fs.nonEmpty("user", "U", "a user name", "only sessions of this user")
	host := fs.nonEmpty("host", "H", "a host name", "only sessions to this host")
	participant := fs.nonEmpty("participant", "U", "a user name", "only sessions this user started, approved, denied, viewed pending, joined, typed in, terminated or was refused joining")
	approver := fs.nonEmpty("approver", "U", "a user name", "only sessions this user approved")
	var since, until time.Time
	fs.timeSpec("since", "started at or after T: a duration ago (90m, 24h, 7d, 2w) or a time (2026-11-25, 2026-11-25T10:00:00Z; UTC)", &since, c.now)
	fs.timeSpec("until", "started before T, same forms as --since", &until, c.now)
	kind := fs.enum("kind", "K", sessionKinds, "shell, exec, sftp, tunnel, window, audit, gateway or all (default shell, exec, sftp and tunnel)")
	limit := fs.integer("limit", "N", DefaultLimit, 1, MaxLimit, fmt.Sprintf("at most N sessions, 1 to %d", MaxLimit))
	before := fs.nonEmpty("before", "ID", "a session ID", "only sessions listed after session ID (the next page)")
	transfers := fs.boolean("transfers", "only sessions that moved or changed files (scp, rsync, git, SFTP)")
	hostOpen := fs.boolean("host-channel-open", "only sessions whose host kept the channel open after the session ended (a process may have run on)")
	asJSON := fs.boolean("json", "one JSON object per line")
	if code, ok := fs.parseNone(args); !ok {
		return code
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return fs.errorf("--since %s is not before --until %s: no session can match",
			since.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339))
	}
	f := Filter{User: *user, Host: *host, Since: since, Until: until, Kind: *kind, Limit: *limit, Before: *before,
		Participant: *participant, Approver: *approver, Transfers: *transfers,
		HostChannelOpen: *hostOpen}
	page, err := c.st.SessionsPage(ctx, f)
	if err != nil {
		if isNotFound(err) && *before != "" {
			fmt.Fprintf(c.stderr, "audit sessions: --before %s: no such session\n", printable(*before))
			return ExitFailure
		}
		return c.fail("", err)
	}
	list := page.Sessions
	checked, ends, err := c.st.checkRows(ctx, list)
	if err != nil {
		return c.fail("", err)
	}
	if *hostOpen {
		list = dropHostChannelDecoys(list, ends)
	}
	if *asJSON {
		for i := range list {
			j := toSessionJSON(&list[i], "")
			if problems, ok := checked[list[i].ID]; ok {
				j.withIntegrity(&Integrity{Problems: problems})
			}
			if end := ends[list[i].ID]; end != nil {
				j.withHostChannel(hostChannelOf(end.Meta))
			}
			if err := writeJSONLine(c.stdout, j); err != nil {
				return c.fail("", err)
			}
		}
		if err := writeMore(c.stdout, fs, page, true); err != nil {
			return c.fail("", err)
		}
		return ExitOK
	}
	if len(list) == 0 && page.More == 0 {
		fmt.Fprintln(c.stdout, "No matching sessions.")
		return ExitOK
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tUSER\tHOST\tKIND\tDURATION\tEXIT\tAPPROVERS")
	for i := range list {
		s := &list[i]
		approvers := "-"
		if len(s.Approvers) > 0 {
			approvers = strings.Join(s.Approvers, ",")
		}
		exit := exitText(s)
		if end := ends[s.ID]; end != nil && hostChannelOf(end.Meta).Open {
			exit += hostChannelMarker
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(s.ID), s.Started.UTC().Format(time.RFC3339),
			printable(s.User), printable(s.Host), printable(s.Kind), durationText(s), exit, printable(approvers))
	}
	if err := tw.Flush(); err != nil {
		return c.fail("", err)
	}
	for i := range list {
		if p := checked[list[i].ID]; len(p) > 0 {
			fmt.Fprintf(c.stdout, "WARNING: session %s: the row above does not match its recording: %s; run audit verify %s\n",
				printable(list[i].ID), printable(p[0]), printable(list[i].ID))
		}
	}
	for i := range list {
		if end := ends[list[i].ID]; end != nil {
			if warn := hostChannelOf(end.Meta).warning(); warn != "" {
				fmt.Fprintf(c.stdout, "NOTE: session %s %s: %s\n", printable(list[i].ID), hostChannelMarker, warn)
			}
		}
	}
	if err := writeMore(c.stdout, fs, page, false); err != nil {
		return c.fail("", err)
	}
	return ExitOK
}

// hostChannelMarker follows the EXIT of a session whose host kept the
// channel open after it ended, without a blank (the columns stay
// whitespace-separated); a NOTE line under the table explains it.
const hostChannelMarker = "[host-channel-open]"

// durationText is the DURATION column: "open" or the rounded duration.
func durationText(s *Session) string {
	if s.Open {
		return "open"
	}
	switch d := s.Duration(); {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

// exitText is the EXIT column: "-" while open, "interrupted" for a session
// the recorder closed after a crash, else the status.
func exitText(s *Session) string {
	switch {
	case s.Open:
		return "-"
	case s.Interrupted:
		return "interrupted"
	}
	return fmt.Sprint(s.ExitStatus)
}

func (c *cli) show(ctx context.Context, args []string) int {
	fs := c.flagSet("show", "ID [--json]")
	asJSON := fs.boolean("json", "print the session and its timeline as JSON lines")
	id, code, ok := fs.parseID(args)
	if !ok {
		return code
	}
	// Output bytes are not shown (only their size), so they are not
	// kept: show holds the other events, not the session's output.
	var (
		evs   []event.Event
		sizes []int
	)
	rd, err := c.st.checkStream(ctx, id, func(e *event.Event) {
		ev := *e
		sizes = append(sizes, len(e.Data))
		if ev.Type == event.Output {
			ev.Data = nil
		}
		evs = append(evs, ev)
	})
	if err != nil {
		return c.fail(id, err)
	}
	sess := rd.head
	if *asJSON {
		err = writeTimelineJSON(c.stdout, &sess, &rd.in, evs, sizes)
	} else {
		writeBanner(c.stdout, &rd.in)
		err = writeTimeline(c.stdout, &sess, evs)
	}
	if err != nil {
		return c.fail(id, err)
	}
	return ExitOK
}

func (c *cli) play(ctx context.Context, args []string) int {
	fs := c.flagSet("play", "ID [--speed N] [--max-idle D]")
	fs.note = "A session without recorded output prints nothing on stdout, says why on stderr and exits with status 1."
	speed := fs.number("speed", "N", 1, func(v float64) bool { return v > 0 && v <= maxSpeed },
		fmt.Sprintf("a number greater than 0 and at most %d, e.g. 2 or 0.5", maxSpeed), "playback speed factor (2: twice as fast)")
	maxIdle := fs.duration("max-idle", "D", DefaultMaxIdle, "a duration such as 2s, 500ms or 1m (0: no cap)", "longest pause (0: no cap)")
	id, code, ok := fs.parseID(args)
	if !ok {
		return code
	}
	// The events noOutputReason reads, kept from the one checked walk:
	// never output, input or resizes, so memory stays bounded whatever the
	// session's size.
	var outline []event.Event
	rd, err := c.st.checkStream(ctx, id, func(e *event.Event) {
		switch e.Type {
		case event.Output, event.Input, event.Resize:
		default:
			outline = append(outline, *e)
		}
	})
	if err != nil {
		return c.fail(id, err)
	}
	writeBanner(c.stderr, &rd.in)
	if rd.outputs == 0 {
		msg := fmt.Sprintf("audit play: session %s has no recorded output", printable(id))
		if why := noOutputReason(outline); why != "" {
			msg += " (" + why + ")"
		}
		fmt.Fprintln(c.stderr, msg)
		return ExitFailure
	}
	opt := PlayOptions{Speed: *speed, MaxIdle: *maxIdle, sleep: c.sleep}
	if *maxIdle <= 0 {
		opt.MaxIdle = -1
	}
	var rerr error
	rc := newReplayCheck(&rd, c.st.keys)
	if err := playSeq(ctx, c.stdout, c.st.replaySeq(ctx, id, rc, &rerr), opt); err != nil {
		return c.fail(id, err)
	}
	if code, done := c.replayed(id, &rd, rc, rerr, "replay"); done {
		return code
	}
	if !rd.in.OK() {
		writeBanner(c.stderr, &rd.in) // again below the replay, where the auditor looks
	}
	return ExitOK
}

// replayed reports the end of the second walk of play or export (what,
// "replay" or "export"): a stream that changed after its check is a
// failure, named in the banner like any other; a read error fails the
// read. It returns the exit status when the caller is done.
func (c *cli) replayed(id string, rd *checkedRead, rc *replayCheck, rerr error, what string) (int, bool) {
	var chg *changedError
	switch {
	case errors.As(rerr, &chg):
		rd.in.problem("the recording changed while it was read: %s; the %s stopped before it", chg, what)
		writeBanner(c.stderr, &rd.in)
		return ExitFailure, true
	case rerr != nil:
		return c.fail(id, rerr), true
	}
	if rc.more {
		fmt.Fprintf(c.stderr, "note: the session is still being written; shown up to seq %d, where the check ended\n", rd.in.Stream.LastSeq)
	}
	return 0, false
}

func (c *cli) export(ctx context.Context, args []string) int {
	fs := c.flagSet("export", "ID [--format asciicast] [--sanitize]")
	fs.choice("format", "F", []string{"asciicast"}, "output format")
	sanitize := fs.boolean("sanitize", "remove escape sequences that act beyond drawing from the output, as play does")
	id, code, ok := fs.parseID(args)
	if !ok {
		return code
	}
	var (
		start map[string]string
		base  int64
	)
	rd, err := c.st.checkStream(ctx, id, func(e *event.Event) {
		if base == 0 {
			base = e.Time
		}
		if start == nil && e.Type == event.SessionStart {
			start = e.Meta
		}
	})
	if err != nil {
		return c.fail(id, err)
	}
	h := castHeader{sess: rd.head, start: start, base: base}
	if writeBanner(c.stderr, &rd.in) {
		h.integrity = rd.in.Problems
	}
	var rerr error
	rc := newReplayCheck(&rd, c.st.keys)
	h.after = func() string {
		var chg *changedError
		if errors.As(rerr, &chg) {
			return fmt.Sprintf("foureyes: NOT VERIFIED: the recording changed while it was read: %s; the export stopped before it", chg)
		}
		return ""
	}
	if err := writeAsciicastSeq(c.stdout, h, c.st.replaySeq(ctx, id, rc, &rerr), *sanitize); err != nil {
		return c.fail(id, err)
	}
	if code, done := c.replayed(id, &rd, rc, rerr, "export"); done {
		return code
	}
	return ExitOK
}

func (c *cli) verify(ctx context.Context, args []string) int {
	fs := c.flagSet("verify", "ID | --since T [--until T] [--json]")
	var since, until time.Time
	fs.timeSpec("since", "verify every stream with events at or after T (all kinds, their signatures, the gateway streams' records and anchors)", &since, c.now)
	fs.timeSpec("until", "with --since: events before T", &until, c.now)
	asJSON := fs.boolean("json", "print the verdict as JSON lines")
	if hasFlag(args, "since") {
		if code, ok := fs.parseNone(args); !ok {
			return code
		}
		return c.verifyWindow(ctx, since, until, *asJSON)
	}
	id, code, ok := fs.parseID(args)
	if !ok {
		return code
	}
	res, err := c.st.Verify(ctx, id)
	if err != nil {
		return c.fail(id, err)
	}
	if *asJSON {
		if err := writeJSONLine(c.stdout, toVerifyJSON(&res)); err != nil {
			return c.fail(id, err)
		}
		if !res.OK() {
			return ExitFailure
		}
		return ExitOK
	}
	in := &res.Integrity
	if len(res.Conflicts) > 0 {
		fmt.Fprintf(c.stdout, "conflicting copies stored for seq %s\n", joinSeqs(res.Conflicts))
	}
	if !res.OK() {
		if res.Break != nil {
			fmt.Fprintf(c.stdout, "FAILED: seq %d: %s\n", res.Break.Seq, printable(res.Break.Reason))
		} else {
			fmt.Fprintf(c.stdout, "FAILED: %s\n", printable(in.Problems[0]))
		}
		for _, p := range in.Problems {
			fmt.Fprintf(c.stdout, "problem: %s\n", printable(p))
		}
		return ExitFailure
	}
	signed := "chain intact"
	if in.Signatures && in.Stream.Seals > 0 {
		signed = fmt.Sprintf("chain intact, signed by %s", strings.Join(in.Stream.Keys, ", "))
	}
	fmt.Fprintf(c.stdout, "OK: session %s, %d events, %s, last hash %s\n", printable(id), res.Events, signed, res.LastHash)
	if res.Open {
		fmt.Fprintf(c.stdout, "note: the session has not ended; verified up to seq %d\n", res.LastSeq)
	}
	if !res.Summary {
		fmt.Fprintln(c.stdout, "note: no summary row; a lost tail cannot be detected")
	}
	for _, n := range in.Notes {
		fmt.Fprintf(c.stdout, "note: %s\n", printable(n))
	}
	return ExitOK
}

func joinSeqs(seqs []uint64) string {
	parts := make([]string, len(seqs))
	for i, s := range seqs {
		parts[i] = fmt.Sprint(s)
	}
	return strings.Join(parts, ", ")
}
