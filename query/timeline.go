package query

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/foureyes/foureyes/event"
)

// Timeline rendering limits.
const (
	// minCollapse is the shortest run of consecutive resizes shown as one line.
	minCollapse = 3
	// maxDetail bounds the runes of event data shown on a timeline line.
	maxDetail = 200
)

// timelineItem is one line of the show timeline.
type timelineItem struct {
	at      time.Time
	actor   string
	what    string
	detail  string
	resizes int // > 0: a resize; the number of resizes collapsed into it
	first   string
}

// timeline turns events into the lines of show: everything but output and
// input, with input replaced by the commands reconstructed from it.
func timeline(evs []event.Event) []timelineItem {
	cmds := Commands(evs)
	var items []timelineItem
	ci := 0
	for i := range evs {
		e := &evs[i]
		switch e.Type {
		case event.Output, event.Input, event.Exec:
		case event.Resize:
			size := printable(e.Meta["cols"] + "x" + e.Meta["rows"])
			items = append(items, timelineItem{at: e.Timestamp(), actor: e.Actor, what: "resize", detail: size, resizes: 1, first: size})
		default:
			what, detail, ok := transferItem(e) // transfers.go
			if !ok {
				what, detail = string(e.Type), eventDetail(e)
			}
			items = append(items, timelineItem{at: e.Timestamp(), actor: e.Actor, what: what, detail: detail})
		}
		for ; ci < len(cmds) && cmds[ci].Seq == e.Seq; ci++ {
			c := &cmds[ci]
			what := "command"
			if e.Type == event.Exec {
				what = "exec"
			}
			line := printable(c.Line)
			if c.Approximate {
				what += "~"
				if c.Line == "" {
					line = "(recalled from history or completed; not known from input)"
				}
			}
			if c.Blind > 0 {
				// Typed while the host did not echo: reviewers saw its
				// length only. The text stays in the auditor's view: an
				// input.blind written into the store must not hide a
				// command from an audit.
				what += "!"
				line += "   [typed without echo: reviewers saw only " + strconv.Itoa(c.Blind) + " characters]"
			}
			if len(c.Typists) > 0 {
				line += "   [typed by " + printable(strings.Join(c.Typists, ", ")) + "]"
			}
			if c.Joined != "" {
				line += "   [the whole command: " + printable(c.Joined) + "]"
			}
			items = append(items, timelineItem{at: c.Time, actor: c.Actor, what: what, detail: line})
		}
	}
	return collapseResizes(items)
}

// collapseResizes folds runs of at least minCollapse consecutive resizes
// (a window being dragged) into one line.
func collapseResizes(items []timelineItem) []timelineItem {
	out := items[:0]
	for i := 0; i < len(items); {
		j := i
		for j < len(items) && items[j].resizes > 0 {
			j++
		}
		if j-i >= minCollapse {
			it := items[i]
			last := items[j-1]
			it.resizes = j - i
			it.detail = fmt.Sprintf("%s → %s (%d changes over %s)", it.first, last.detail, j-i, last.at.Sub(it.at).Round(time.Millisecond))
			out = append(out, it)
			i = j
			continue
		}
		if j == i {
			j++
		}
		out = append(out, items[i:j]...)
		i = j
	}
	return out
}

// eventDetail renders an event's meta (sorted key=value) and data.
func eventDetail(e *event.Event) string {
	keys := make([]string, 0, len(e.Meta))
	for k := range e.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		v := e.Meta[k]
		if v == "" || strings.ContainsAny(v, " \t\"") {
			v = fmt.Sprintf("%q", v)
		}
		b.WriteString(printable(k) + "=" + printable(v))
	}
	if len(e.Data) > 0 {
		if b.Len() > 0 {
			b.WriteString("  ")
		}
		b.WriteString(printable(truncateRunes(string(e.Data), maxDetail)))
	}
	return b.String()
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := 0; k < n; k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}

// hostChannelWarning says, when the session's session.end records that
// the host kept the session's channel open after the bastion ended the
// session (gateway: host_channel_open), what that means for the auditor;
// "" otherwise. The result is safe to print.
func hostChannelWarning(evs []event.Event) string {
	return endHostChannel(evs).warning()
}

// endHostChannel is what the last session.end of evs says of the host's
// channel.
func endHostChannel(evs []event.Event) hostChannel {
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == event.SessionEnd {
			return hostChannelOf(evs[i].Meta)
		}
	}
	return hostChannel{}
}

// warning is hostChannelWarning's sentence for hc, "" when the host
// closed the channel. The result is safe to print.
func (hc hostChannel) warning() string {
	if !hc.Open {
		return ""
	}
	msg := "the host kept the session's channel open after the session ended: a process may still run on the host, and what it printed after the end is not recorded"
	switch a := hc.Action; a {
	case "login_closed":
		msg += " (the bastion then closed its login to the host)"
	case "login_retired":
		msg += " (the bastion's login stayed open for the client's other channels until they ended)"
	case "":
	default:
		msg += " (" + printable(truncateRunes(a, maxReasonRunes)) + ")"
	}
	return msg
}

// writeTimeline prints the header and timeline of show.
func writeTimeline(w io.Writer, s *Session, evs []event.Event) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("session", printable(s.ID))
	row("user", printable(s.User))
	row("host", printable(s.Host))
	row("login", printable(s.Login))
	row("from", printable(s.Remote))
	row("gateway", printable(s.Gateway))
	row("kind", printable(s.Kind))
	row("started", s.Started.UTC().Format(time.RFC3339Nano))
	if s.Open {
		row("ended", "open")
	} else {
		row("ended", fmt.Sprintf("%s (%s)", s.Ended.UTC().Format(time.RFC3339Nano), durationText(s)))
	}
	row("exit", exitText(s))
	row("class", fmt.Sprintf("%s (retention %d days)", printable(s.Class), s.RetentionDays))
	if len(s.Approvers) > 0 {
		row("approvers", printable(strings.Join(s.Approvers, ", ")))
	}
	if s.Reason != "" {
		row("reason", printable(s.Reason))
	}
	if s.Command != "" {
		row("command", printable(s.Command))
	}
	row("bytes", fmt.Sprintf("in %d, out %d", s.BytesIn, s.BytesOut))
	if s.Open {
		row("events", fmt.Sprintf("%d (open; last seq %d so far)", len(evs), s.LastSeq))
	} else {
		row("events", fmt.Sprintf("%d (last seq %d)", len(evs), s.LastSeq))
	}
	if warn := hostChannelWarning(evs); warn != "" {
		row("warning", warn)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("query: write: %w", err)
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return fmt.Errorf("query: write: %w", err)
	}
	if len(evs) == 0 {
		_, err := fmt.Fprintln(w, "(no events stored)")
		return err
	}
	base := evs[0].Timestamp()
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tOFFSET\tACTOR\tEVENT\tDETAIL")
	for _, it := range timeline(evs) {
		actor := printable(it.actor)
		if actor == "" {
			actor = "-"
		}
		fmt.Fprintf(tw, "%s\t+%.3fs\t%s\t%s\t%s\n", it.at.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			it.at.Sub(base).Seconds(), actor, printable(it.what), it.detail)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("query: write: %w", err)
	}
	return nil
}

// writeTimelineJSON prints show --json: a "session" record (with the
// verdict: verified, problems), then every
// event (output and input with their size only) and, after the event that
// completed it, each reconstructed "command".
func writeTimelineJSON(w io.Writer, s *Session, in *Integrity, evs []event.Event, sizes []int) error {
	j := toSessionJSON(s, "session")
	if in != nil {
		j.withIntegrity(in)
	}
	if hc := endHostChannel(evs); hc.Open {
		j.withHostChannel(hc)
		j.Warnings = append(j.Warnings, hc.warning())
	}
	if err := writeJSONLine(w, j); err != nil {
		return err
	}
	cmds := Commands(evs)
	ci := 0
	for i := range evs {
		ej := toEventJSON(&evs[i])
		if sizes != nil {
			ej.Bytes = sizes[i]
		}
		if err := writeJSONLine(w, ej); err != nil {
			return err
		}
		for ; ci < len(cmds) && cmds[ci].Seq == evs[i].Seq; ci++ {
			if err := writeJSONLine(w, toCommandJSON(&cmds[ci])); err != nil {
				return err
			}
		}
	}
	return nil
}
