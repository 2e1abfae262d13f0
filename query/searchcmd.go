package query

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// hitJSON is one line of `search --json`. Field names are a contract:
// extend, never rename.
type hitJSON struct {
	Record      string   `json:"record"` // "hit"
	Kind        string   `json:"kind"`   // typed, exec, file, output
	Session     string   `json:"session"`
	Seq         uint64   `json:"seq"`
	Idx         int      `json:"idx,omitempty"`
	Time        string   `json:"time"`
	Host        string   `json:"host"`
	User        string   `json:"user"`
	Actor       string   `json:"actor,omitempty"`
	Typists     []string `json:"typists,omitempty"`
	Line        string   `json:"line"`
	Detail      string   `json:"detail,omitempty"`
	Approximate bool     `json:"approximate"`
	Blind       int      `json:"blind,omitempty"`
	Cursor      string   `json:"cursor"`
	// As in sessions --json: the hit's session ended with the host
	// keeping its channel open.
	hostChannelJSON
}

// stoppedJSON is the last line of an output search that hit its scan cap.
type stoppedJSON struct {
	Record  string `json:"record"` // "stopped"
	Reason  string `json:"reason"`
	MaxScan uint64 `json:"max_scan"`
}

func toHitJSON(h *Hit) hitJSON {
	return hitJSON{Record: "hit", Kind: h.Kind, Session: h.Session, Seq: h.Seq, Idx: h.Idx, Time: h.Time.Format(time.RFC3339Nano),
		Host: h.Host, User: h.User, Actor: h.Actor, Typists: h.Typists, Line: h.Line, Detail: h.Detail,
		Approximate: h.Approximate, Blind: h.Blind, Cursor: h.Cursor()}
}

// searchKinds are the values of search --kind.
var searchKinds = []string{"shell", "exec", KindAll}

func (c *cli) search(ctx context.Context, args []string) int {
	fs := c.flagSet("search", "--command TEXT [--regex] | --output TEXT | --file PATH [--user U] [--host H] [--session ID] "+
		"[--class C] [--kind K] [--since T] [--until T] [--limit N] [--before CURSOR] [--json]")
	fs.note = "Give one of --command, --output or --file. --output needs --since, --host or --session. " +
		"When more hits match than --limit, a last line gives the command of the next page (--before CURSOR)."
	command := fs.nonEmpty("command", "TEXT", "the text of a command", "commands typed or run containing TEXT (case, blanks and quotes ignored)")
	regex := fs.boolean("regex", "--command is an RE2 regular expression (case-insensitive)")
	output := fs.nonEmpty("output", "TEXT", "a text", "lines of terminal output containing TEXT")
	file := fs.nonEmpty("file", "PATH", "a path or part of one", "files transferred or changed whose path contains PATH")
	user := fs.nonEmpty("user", "U", "a user name", "only sessions of this user")
	host := fs.nonEmpty("host", "H", "a host name", "only sessions to this host")
	session := fs.nonEmpty("session", "ID", "a session ID", "only this session")
	class := fs.nonEmpty("class", "C", "a retention class", "only sessions of this retention class")
	kind := fs.enum("kind", "K", searchKinds, "shell (typed lines), exec or all (default)")
	var since, until time.Time
	fs.timeSpec("since", "at or after T: a duration ago (90m, 24h, 7d, 2w) or a time (2026-11-25, 2026-11-25T10:00:00Z; UTC)", &since, c.now)
	fs.timeSpec("until", "before T, same forms as --since", &until, c.now)
	limit := fs.integer("limit", "N", DefaultLimit, 1, MaxLimit, fmt.Sprintf("at most N hits, 1 to %d", MaxLimit))
	before := fs.nonEmpty("before", "CURSOR", "the cursor a previous page printed", "only hits listed after CURSOR (the next page)")
	asJSON := fs.boolean("json", "one JSON object per line")
	if code, ok := fs.parseNone(args); !ok {
		return code
	}
	if *regex && *command == "" {
		return fs.errorf("--regex applies to --command; give --command EXPR")
	}
	k := *kind
	if k == KindAll {
		k = ""
	}
	f := SearchFilter{Command: *command, Regex: *regex, Output: *output, File: *file, User: *user, Host: *host,
		Session: *session, Class: *class, Kind: k, Since: since, Until: until, Limit: *limit, Before: *before}
	page, err := c.st.Search(ctx, f)
	if err != nil {
		if errors.Is(err, ErrSearch) {
			return fs.errorf("%s", printable(strings.TrimPrefix(err.Error(), ErrSearch.Error()+": ")))
		}
		return c.fail("", err)
	}
	if *asJSON {
		err = writeHitsJSON(ctx, c, fs, &page)
	} else {
		err = writeHitsText(c, fs, &page)
	}
	if err != nil {
		return c.fail("", err)
	}
	return ExitOK
}

func writeHitsJSON(ctx context.Context, c *cli, fs *flagSet, page *SearchPage) error {
	var ids []string
	seen := map[string]bool{}
	for i := range page.Hits {
		if id := page.Hits[i].Session; !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	channels, err := c.st.hostChannels(ctx, ids)
	if err != nil {
		return err
	}
	for i := range page.Hits {
		j := toHitJSON(&page.Hits[i])
		j.withHostChannel(channels[j.Session])
		if err := writeJSONLine(c.stdout, j); err != nil {
			return err
		}
	}
	if page.More > 0 && len(page.Hits) > 0 {
		last := page.Hits[len(page.Hits)-1].Cursor()
		if err := writeJSONLine(c.stdout, moreJSON{Record: "more", More: page.More, Before: last, Next: fs.nextCommand(last)}); err != nil {
			return err
		}
	}
	if page.StoppedEarly {
		return writeJSONLine(c.stdout, stoppedJSON{Record: "stopped", MaxScan: DefaultMaxScan,
			Reason: "stopped early: the scan cap was reached before the whole window was read; narrow --since/--until, --host or --session"})
	}
	return nil
}

func writeHitsText(c *cli, fs *flagSet, page *SearchPage) error {
	if len(page.Hits) == 0 {
		fmt.Fprintln(c.stdout, "No matches.")
	} else {
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tSESSION\tHOST\tUSER\tTYPIST\tWHAT\tLINE")
		for i := range page.Hits {
			h := &page.Hits[i]
			typist := h.Actor
			if len(h.Typists) > 1 {
				typist = strings.Join(h.Typists, ",")
			}
			if typist == "" {
				typist = "-"
			}
			what, line := printable(hitKind(h.Kind)), printable(h.Line)
			if h.Approximate {
				what += "~"
				if h.Line == "" {
					line = "(recalled from history or completed; not known from input)"
				}
			}
			if h.Blind > 0 {
				what += "!"
				line += "   [typed without echo: reviewers saw only " + strconv.Itoa(h.Blind) + " characters]"
			}
			if h.Detail != "" {
				line += "   [" + printable(h.Detail) + "]"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Time.Format(time.RFC3339), printable(h.Session), printable(h.Host),
				printable(h.User), printable(typist), what, line)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if page.More > 0 && len(page.Hits) > 0 {
		next := fs.nextCommand(page.Hits[len(page.Hits)-1].Cursor())
		noun := "hits match"
		if page.More == 1 {
			noun = "hit matches"
		}
		fmt.Fprintf(c.stdout, "%d more %s; next page: %s (or a larger --limit)\n", page.More, noun, printable(next))
	}
	if page.StoppedEarly {
		fmt.Fprintln(c.stdout, "stopped early: the output scan reached its cap before covering the window; narrow --since/--until, --host or --session")
	}
	return nil
}
