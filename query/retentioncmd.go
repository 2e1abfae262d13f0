package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/foureyes/foureyes/ingest/retention"
)

// holdJSON is the --json form of a hold. Field names are a contract.
type holdJSON struct {
	Record     string `json:"record"` // "hold"
	Session    string `json:"session"`
	Class      string `json:"class"`
	PlacedBy   string `json:"placed_by"`
	Placed     string `json:"placed"` // RFC3339Nano, UTC
	Reason     string `json:"reason"`
	Until      string `json:"until"`
	Active     bool   `json:"active"`
	ReleasedBy string `json:"released_by,omitempty"`
	Released   string `json:"released,omitempty"`
	// ConfirmedBy is the second auditor of a release of someone else's
	// hold; ReleaseRequestedBy names who asked while it waits.
	ConfirmedBy        string `json:"confirmed_by,omitempty"`
	ReleaseRequestedBy string `json:"release_requested_by,omitempty"`
}

func toHoldJSON(h retention.Hold, now time.Time) holdJSON {
	j := holdJSON{Record: "hold", Session: h.Session, Class: h.Class, PlacedBy: h.PlacedBy, Placed: h.Placed.UTC().Format(time.RFC3339Nano),
		Reason: h.Reason, Until: h.Until.UTC().Format(time.RFC3339), Active: h.Active(now), ReleasedBy: h.ReleasedBy,
		ConfirmedBy: h.ConfirmedBy, ReleaseRequestedBy: h.RequestedBy}
	if !h.Released.IsZero() {
		j.Released = h.Released.UTC().Format(time.RFC3339Nano)
	}
	return j
}

// classJSON is the --json form of one class in `audit retention`.
type classJSON struct {
	Record        string `json:"record"` // "class"
	Class         string `json:"class"`
	RetentionDays int    `json:"retention_days"`
	Oldest        string `json:"oldest,omitempty"`    // YYYY-MM-DD; absent without data
	NextDrop      string `json:"next_drop,omitempty"` // RFC3339
	Partitions    int    `json:"partitions"`
	Rows          uint64 `json:"rows"`
	Bytes         uint64 `json:"bytes"`
}

// untilWant says what hold --until accepts.
const untilWant = "a date (2026-12-31, kept through that day, UTC) or a time (2026-12-31T18:00:00Z)"

// parseUntil parses --until: a date means through the end of that day
// (UTC), else an RFC3339 time.
func parseUntil(s string) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.AddDate(0, 0, 1), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("query: %q: want %s", s, untilWant)
}

// holdError prints a refused hold or release and returns the exit status.
func (c *cli) holdError(verb, id string, err error) int {
	for _, e := range []error{retention.ErrNoReason, retention.ErrHoldTooLong, retention.ErrUntilPast, retention.ErrNoIdentity, retention.ErrNoHold, retention.ErrSecondAuditor, ErrUnverifiedHold} {
		if errors.Is(err, e) {
			msg := strings.TrimPrefix(err.Error(), "query: ")
			msg = strings.TrimPrefix(msg, verb+" "+id+": ")
			msg = strings.TrimPrefix(strings.TrimPrefix(msg, "query: "), "retention: ")
			fmt.Fprintf(c.stderr, "audit %s: refused: %s\n", verb, printable(msg))
			return ExitFailure
		}
	}
	return c.fail(id, err)
}

func (c *cli) hold(ctx context.Context, args []string) int {
	fs := c.flagSet("hold", "ID --reason TEXT [--until DATE]")
	reason := fs.str("reason", "TEXT", "why the session must be kept (required)")
	var until time.Time
	fs.custom("until", "DATE", untilWant, "end of the hold: YYYY-MM-DD (through that day, UTC) or RFC3339; default the longest allowed",
		func(s string) (err error) {
			until, err = parseUntil(s)
			return err
		})
	id, code, ok := fs.parseID(args)
	if !ok {
		return code
	}
	if strings.TrimSpace(*reason) == "" {
		fmt.Fprintln(c.stderr, "audit hold: refused: a hold needs --reason TEXT saying why the session must be kept")
		return ExitUsage
	}
	h, err := c.st.Hold(ctx, id, c.user, *reason, until, c.now())
	if err != nil {
		return c.holdError("hold", id, err)
	}
	fmt.Fprintf(c.stdout, "held session %s (class %s) until %s by %s: %s\n", printable(id), printable(h.Class),
		h.Until.UTC().Format(time.RFC3339), printable(h.PlacedBy), printable(h.Reason))
	if h.Unverified != "" {
		fmt.Fprintf(c.stderr, "audit hold: warning: the recording does not authenticate the session's class (%s); the hold is bounded by the longest class, %s, from today (run audit verify %s)\n",
			printable(h.Unverified), printable(h.Class), printable(id))
	}
	return ExitOK
}

func (c *cli) release(ctx context.Context, args []string) int {
	fs := c.flagSet("release", "ID")
	id, code, ok := fs.parseID(args)
	if !ok {
		return code
	}
	hs, err := c.st.Release(ctx, id, c.user, c.now())
	if err != nil {
		return c.holdError("release", id, err)
	}
	var released, requested []string
	for _, h := range hs {
		switch {
		case !h.Released.IsZero() && h.ConfirmedBy != "":
			released = append(released, fmt.Sprintf("%s's (requested by %s, confirmed by you)", h.PlacedBy, h.ReleasedBy))
		case !h.Released.IsZero():
			released = append(released, "yours")
		default:
			requested = append(requested, h.PlacedBy+"'s")
		}
	}
	if len(released) > 0 {
		fmt.Fprintf(c.stdout, "released %d hold(s) on session %s: %s\n", len(released), printable(id), printable(strings.Join(released, ", ")))
	}
	if len(requested) > 0 {
		fmt.Fprintf(c.stdout, "release of %s hold on session %s requested; a different auditor must confirm it with: audit release %s\n",
			printable(strings.Join(requested, ", ")), printable(id), printable(id))
	}
	if len(released) > 0 {
		fmt.Fprintln(c.stdout, "without other active holds the session follows its retention class from the next run")
	}
	return ExitOK
}

func (c *cli) holds(ctx context.Context, args []string) int {
	fs := c.flagSet("holds", "[--all] [--json]")
	all := fs.boolean("all", "also released and ended holds")
	asJSON := fs.boolean("json", "one JSON object per line")
	if code, ok := fs.parseNone(args); !ok {
		return code
	}
	now := c.now()
	hs, err := c.st.Holds(ctx, now, *all)
	if err != nil {
		return c.fail("", err)
	}
	if *asJSON {
		for _, h := range hs {
			if err := writeJSONLine(c.stdout, toHoldJSON(h, now)); err != nil {
				return c.fail("", err)
			}
		}
		return ExitOK
	}
	if len(hs) == 0 {
		if *all {
			fmt.Fprintln(c.stdout, "No holds placed.")
		} else {
			fmt.Fprintln(c.stdout, "No active holds.")
		}
		return ExitOK
	}
	return c.flushHolds(hs, now)
}

// flushHolds prints holds as a table.
func (c *cli) flushHolds(hs []retention.Hold, now time.Time) int {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tCLASS\tUNTIL\tPLACED BY\tPLACED\tSTATE\tREASON")
	for _, h := range hs {
		state := "active"
		switch {
		case !h.Released.IsZero() && h.Active(now):
			state = "active (release by " + h.ReleasedBy + " alone is not valid)"
		case !h.Released.IsZero() && h.ConfirmedBy != "":
			state = "released by " + h.ReleasedBy + ", confirmed by " + h.ConfirmedBy + " " + h.Released.UTC().Format(time.RFC3339)
		case !h.Released.IsZero():
			state = "released by " + h.ReleasedBy + " " + h.Released.UTC().Format(time.RFC3339)
		case h.RequestedBy != "" && h.Active(now):
			state = "active, release requested by " + h.RequestedBy + " (waits for a second auditor)"
		case !h.Active(now):
			state = "ended"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(h.Session), printable(h.Class), h.Until.UTC().Format(time.RFC3339),
			printable(h.PlacedBy), h.Placed.UTC().Format(time.RFC3339), printable(state), printable(h.Reason))
	}
	if err := tw.Flush(); err != nil {
		return c.fail("", err)
	}
	return ExitOK
}

func (c *cli) retention(ctx context.Context, args []string) int {
	fs := c.flagSet("retention", "[--json]")
	asJSON := fs.boolean("json", "one JSON object per line (class and hold records)")
	if code, ok := fs.parseNone(args); !ok {
		return code
	}
	now := c.now()
	st, err := c.st.RetentionStatus(ctx, now)
	if err != nil {
		return c.fail("", err)
	}
	if *asJSON {
		for _, cl := range st.Classes {
			j := classJSON{Record: "class", Class: cl.Class, RetentionDays: cl.RetentionDays, Partitions: cl.Partitions, Rows: cl.Rows, Bytes: cl.Bytes}
			if !cl.Oldest.IsZero() {
				j.Oldest, j.NextDrop = cl.Oldest.Format(time.DateOnly), cl.NextDrop.UTC().Format(time.RFC3339)
			}
			if err := writeJSONLine(c.stdout, j); err != nil {
				return c.fail("", err)
			}
		}
		for _, h := range st.Holds {
			if err := writeJSONLine(c.stdout, toHoldJSON(h, now)); err != nil {
				return c.fail("", err)
			}
		}
		return ExitOK
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	if len(st.Classes) == 0 {
		fmt.Fprintln(tw, "No retention class configured and no data stored.")
	} else {
		fmt.Fprintln(tw, "CLASS\tKEEPS\tOLDEST DATA\tNEXT DROP\tDAYS\tROWS\tBYTES")
	}
	for _, cl := range st.Classes {
		oldest, next := "-", "-"
		if !cl.Oldest.IsZero() {
			oldest = cl.Oldest.Format(time.DateOnly)
			next = cl.NextDrop.UTC().Format(time.RFC3339)
			if !cl.NextDrop.After(now) {
				next = "due: next run (" + oldest + ")"
			} else {
				next += " (" + oldest + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%dd\t%s\t%s\t%d\t%d\t%d\n", printable(cl.Class), cl.RetentionDays, oldest, next, cl.Partitions, cl.Rows, cl.Bytes)
	}
	if err := tw.Flush(); err != nil {
		return c.fail("", err)
	}
	fmt.Fprintf(c.stdout, "\nactive holds: %d\n", len(st.Holds))
	if len(st.Holds) > 0 {
		if code := c.flushHolds(st.Holds, now); code != ExitOK {
			return code
		}
	}
	if st.LastDrop.IsZero() {
		fmt.Fprintln(c.stdout, "last drop: none recorded")
	} else {
		fmt.Fprintf(c.stdout, "last drop: %s: %s\n", st.LastDrop.UTC().Format(time.RFC3339), printable(st.LastDropWhat))
	}
	return ExitOK
}
