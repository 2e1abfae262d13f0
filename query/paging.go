package query

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// moreJSON is the last line of `sessions --json` when more sessions match
// than were listed. Its "record" tells it from the session lines, which
// have none. Field names are a contract: extend, never rename.
type moreJSON struct {
	Record string `json:"record"` // "more"
	More   int    `json:"more"`   // matching sessions after the last line
	Before string `json:"before"` // the --before value of the next page
	Next   string `json:"next"`   // the whole command of the next page
	// AtMost marks More as an upper bound (Page.MoreAtMost); absent when
	// More is exact.
	AtMost bool `json:"at_most,omitempty"`
}

// nextCommand is the command that lists the page after the session last:
// the verb, the flags given (but --before) and --before last.
func (fs *flagSet) nextCommand(last string) string {
	parts := []string{fs.name()}
	fs.set.Visit(func(f *pflag.Flag) {
		switch {
		case f.Name == "before":
		case f.NoOptDefVal != "":
			if f.Value.String() == "true" {
				parts = append(parts, "--"+f.Name)
			}
		default:
			parts = append(parts, "--"+f.Name, shellQuote(f.Value.String()))
		}
	})
	return strings.Join(append(parts, "--before", shellQuote(last)), " ")
}

// shellQuote returns s as one shell word: as is when it holds only
// characters no shell treats specially, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeMore tells how many more sessions match and how to list them: a
// line of text, or a moreJSON line.
func writeMore(w io.Writer, fs *flagSet, p Page, asJSON bool) error {
	if p.More == 0 || len(p.Sessions) == 0 {
		return nil
	}
	last := p.Sessions[len(p.Sessions)-1].ID
	next := fs.nextCommand(last)
	if asJSON {
		return writeJSONLine(w, moreJSON{Record: "more", More: p.More, Before: last, Next: next, AtMost: p.MoreAtMost})
	}
	noun := "sessions match"
	if p.More == 1 {
		noun = "session matches"
	}
	count := strconv.Itoa(p.More)
	if p.MoreAtMost {
		count = "up to " + count
		noun = "sessions match"
	}
	_, err := fmt.Fprintf(w, "%s more %s; next page: %s (or a larger --limit)\n", count, noun, printable(next))
	return err
}
