package query

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/foureyes/foureyes/event"
)

// transferTypes are the event types of sessions that moved or changed
// files: what sessions --transfers selects.
const transferTypes = `'transfer', 'file.op'`

// transferItem renders the events of file transfers, SFTP file
// operations and output summaries as a timeline line; ok is false for
// other events.
func transferItem(e *event.Event) (what, detail string, ok bool) {
	m := e.Meta
	switch e.Type {
	case event.Transfer:
		if m["scope"] == "file" || m["scope"] == "dir" {
			return "transfer", fileText(m), true
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s %s", printable(m["via"]), printable(m["direction"]), quoted(m["path"]))
		if h := m["handle"]; h != "" {
			fmt.Fprintf(&b, " (handle %s)", printable(h))
		}
		if f := m["open_flags"]; f != "" {
			fmt.Fprintf(&b, " [%s]", printable(f))
		}
		b.WriteString(attrText(m))
		fmt.Fprintf(&b, ": up %s, down %s", streamText(m["bytes_up"], m["sha256_up"]), streamText(m["bytes_down"], m["sha256_down"]))
		if o := m["out_of_order"]; o != "" {
			// The content did not pass front to back: the hash is of the
			// bytes as they passed, not of the file they made.
			fmt.Fprintf(&b, "; OUT OF ORDER (%s): the hash is not the file's", printable(o))
		}
		if n := m["files"]; n != "" {
			fmt.Fprintf(&b, "; %s files", printable(n))
		}
		if d := m["duration_ms"]; d != "" {
			fmt.Fprintf(&b, "; %s ms", printable(d))
		}
		status := printable(m["status"])
		if x := m["exit_status"]; x != "" {
			status += " (exit " + printable(x) + ")"
		}
		fmt.Fprintf(&b, "; %s", status)
		return "transfer", b.String(), true
	case event.FileOp:
		d := printable(m["op"]) + " " + quoted(m["path"])
		if t := m["target"]; t != "" {
			d += " → " + quoted(t)
		}
		if f := m["open_flags"]; f != "" {
			d += " [" + printable(f) + "]"
		}
		return "file", d + attrText(m) + ": " + printable(m["status"]), true
	case event.OutputSummary:
		return "summary", summaryText(m), true
	}
	return "", "", false
}

// attrNames are the attributes an SFTP client asked to set, in the
// order show prints them, with their labels.
var attrNames = [...]struct{ key, label string }{
	{"attr_size", "size"}, {"attr_mode", "mode"}, {"attr_uid", "uid"}, {"attr_gid", "gid"},
	{"attr_atime", "atime"}, {"attr_mtime", "mtime"}, {"attr_extended", "extended attributes"},
}

// attrText renders the attributes a file.op or transfer asked to set:
// " (set size 0, mode 0104755)", or "" when none was sent. A size of 0
// truncates, a mode may add setuid: what an auditor looks for.
func attrText(m map[string]string) string {
	var parts []string
	for _, a := range attrNames {
		if v, ok := m[a.key]; ok {
			parts = append(parts, a.label+" "+printable(v))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (set " + strings.Join(parts, ", ") + ")"
}

// fileText renders one file of an exec transfer (scp's headers):
// `scp upload file "tree/a.bin" → "copied" (mode 0644): 40960 bytes
// sha256 …; ok`.
func fileText(m map[string]string) string {
	side := "up"
	if m["direction"] == "download" {
		side = "down"
	}
	kind := "file"
	if m["scope"] == "dir" {
		kind = "directory"
	}
	d := fmt.Sprintf("%s %s %s %s", printable(m["via"]), printable(m["direction"]), kind, quoted(m["path"]))
	if t := m["target"]; t != "" {
		if side == "up" {
			d += " → " + quoted(t)
		} else {
			d += " ← " + quoted(t)
		}
	}
	if mode := m["mode"]; mode != "" {
		d += " (mode " + printable(mode) + ")"
	}
	if m["scope"] != "dir" {
		d += ": " + streamText(m["bytes_"+side], m["sha256_"+side])
		if m["size"] != "" && m["size"] != m["bytes_"+side] {
			d += " of " + printable(m["size"]) + " announced"
		}
	}
	d += "; " + printable(m["status"])
	if e := m["error"]; e != "" {
		// The receiving end's (or the sender's) error text: data.
		d += " (" + quoted(e) + ")"
	}
	return d
}

// summaryText says what an output.summary stands for:
// "stdout past 1 MiB not stored: 52428800 bytes, sha256 …".
func summaryText(m map[string]string) string {
	stream := m["stream"]
	if stream == "" {
		stream = "output"
	}
	return fmt.Sprintf("%s past %s not stored: %s bytes, sha256 %s (first %s bytes stored, last KiB kept)",
		printable(stream), capText(m["cap"]), printable(m["bytes"]), printable(m["sha256"]), printable(m["stored"]))
}

// capText renders a byte cap as "1 MiB", "64 KiB" or "1000 bytes".
func capText(s string) string {
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil:
		return printable(s) + " bytes"
	case n > 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n > 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// streamText renders one direction of a transfer: "307220 bytes sha256
// …", or "0 bytes".
func streamText(n, sum string) string {
	if n == "" {
		n = "0"
	}
	if sum == "" {
		return printable(n) + " bytes"
	}
	return printable(n) + " bytes sha256 " + printable(sum)
}

// quoted renders a path from a recording in double quotes, escaped.
func quoted(s string) string { return printable(strconv.Quote(s)) }

// transferMarker is the one line export and play show where a transfer
// or an output summary happened, or "" for other events.
func transferMarker(e *event.Event) string {
	what, detail, ok := transferItem(e)
	if !ok {
		return ""
	}
	return "[foureyes " + what + ": " + detail + "]"
}

// transferCond selects the sessions with a transfer or file.op event,
// stored or held: their "file" rows in the commands tables (ingest
// derives one per such event), a small table rather than every event's
// type. Events come after their session's start, so since prunes the
// day partitions too.
func transferCond(since time.Time) string {
	cond := "kind = 'file'"
	if !since.IsZero() {
		cond += fmt.Sprintf(" AND ts >= toDateTime(%d)", clampUnix(since.Unix()))
	}
	return fmt.Sprintf("session IN (SELECT session FROM commands WHERE %[1]s UNION ALL SELECT session FROM held_commands WHERE %[1]s)", cond)
}
