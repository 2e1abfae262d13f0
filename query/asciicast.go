package query

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/termsafe"
)

// Default terminal of an asciicast whose session start carries no size or
// TERM.
const (
	defaultCols = 80
	defaultRows = 24
	defaultTerm = "xterm-256color"
)

// WriteAsciicast writes sess as an asciicast v2 recording: a header line
// {"version":2,"width","height","timestamp","title","env":{"TERM"}} then one
// line per event — [t, "o", data] for output, [t, "i", data] for input and
// [t, "r", "COLSxROWS"] for resizes (asciinema ≥ 2.2) — with t in seconds
// since the first event. Data is written faithfully: a UTF-8 character
// split across events is joined, invalid bytes become U+FFFD, and control
// characters including C1 are \u-escaped, so the file itself is safe to
// print on a terminal (playing it replays whatever the session sent; see
// the CLI's --sanitize).
func WriteAsciicast(w io.Writer, sess Session, events []event.Event) error {
	return writeAsciicast(w, sess, events, false)
}

// writeAsciicast is WriteAsciicast, optionally passing output through a
// Sanitizer.
func writeAsciicast(w io.Writer, sess Session, events []event.Event, sanitize bool) error {
	h := castHeader{sess: sess}
	if len(events) > 0 {
		h.base = events[0].Time
		for i := range events {
			if events[i].Type == event.SessionStart {
				h.start = events[i].Meta
				break
			}
		}
	}
	return writeAsciicastSeq(w, h, func(yield func(*event.Event) bool) {
		for i := range events {
			if !yield(&events[i]) {
				return
			}
		}
	}, sanitize)
}

// castHeader is what the asciicast header is made of: the session, the
// Meta of its session.start (size, TERM), the time of its first event,
// and the verdict of the read ("" when it verified). after (may be nil),
// called once the events are written, returns the text of a last marker
// event, "" for none: what the read found while it wrote, too late for
// the header.
type castHeader struct {
	sess      Session
	start     map[string]string
	base      int64
	integrity []string
	after     func() string
}

// writeAsciicastSeq is writeAsciicast over a sequence of events, holding
// none of them after they are written.
func writeAsciicastSeq(w io.Writer, h castHeader, events iter.Seq[*event.Event], sanitize bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	sess, base := h.sess, h.base
	cols, rows, term := defaultCols, defaultRows, defaultTerm
	if m := h.start; m != nil {
		cols = metaInt(m, "cols", cols)
		rows = metaInt(m, "rows", rows)
		if t := m["term"]; t != "" {
			term = t
		}
	}
	start := sess.Started
	if start.IsZero() && base != 0 {
		start = time.Unix(0, base)
	}
	title := sess.User + "@" + sess.Host + " " + sess.ID
	if sess.User == "" && sess.Host == "" {
		title = sess.ID
	}
	b := make([]byte, 0, 4096)
	b = append(b, `{"version":2,"width":`...)
	b = strconv.AppendInt(b, int64(cols), 10)
	b = append(b, `,"height":`...)
	b = strconv.AppendInt(b, int64(rows), 10)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, start.Unix(), 10)
	b = append(b, `,"title":`...)
	b = appendJSONString(b, []byte(title))
	b = append(b, `,"env":{"TERM":`...)
	b = appendJSONString(b, []byte(term))
	b = append(b, '}')
	if h.integrity != nil {
		// Players ignore unknown header keys; tools reading the file
		// see that the bastion could not vouch for it.
		b = append(b, `,"foureyes_verified":false,"foureyes_problems":[`...)
		for i, p := range h.integrity {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, []byte(p))
		}
		b = append(b, ']')
	}
	b = append(b, "}\n"...)

	var (
		out, in utf8Joiner
		san     termsafe.Sanitizer
		data    []byte
		last    int64 // time of the last event written
	)
	appendEvent := func(t int64, code string, data []byte) {
		b = append(b, '[')
		b = strconv.AppendFloat(b, float64(max(t-base, 0))/1e9, 'f', 6, 64)
		b = append(b, `,"`...)
		b = append(b, code...)
		b = append(b, `",`...)
		b = appendJSONString(b, data)
		b = append(b, "]\n"...)
		last = t
	}
	for e := range events {
		var code string
		switch e.Type {
		case event.Output:
			code = "o"
			data = e.Data
			if sanitize {
				data = san.Append(data[:0:0], e.Data)
			}
			data = out.join(data)
		case event.Input:
			code = "i"
			data = in.join(e.Data)
		case event.Resize:
			code = "r"
			data = fmt.Appendf(data[:0:0], "%dx%d", metaInt(e.Meta, "cols", cols), metaInt(e.Meta, "rows", rows))
		case event.Transfer, event.FileOp, event.OutputSummary:
			code = "m" // an asciicast marker: the bytes were not stored
			data = []byte(transferMarker(e))
		default:
			continue
		}
		if len(data) == 0 {
			continue
		}
		appendEvent(e.Time, code, data)
		if len(b) >= 32<<10 {
			if _, err := bw.Write(b); err != nil {
				return fmt.Errorf("query: asciicast: %w", err)
			}
			b = b[:0]
		}
	}
	if h.after != nil {
		if m := h.after(); m != "" {
			appendEvent(max(last, base), "m", []byte(m))
		}
	}
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("query: asciicast: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("query: asciicast: %w", err)
	}
	return nil
}

// metaInt parses m[key] as a positive int, or returns def.
func metaInt(m map[string]string, key string, def int) int {
	n, err := strconv.Atoi(m[key])
	if err != nil || n <= 0 || n > 1<<16 {
		return def
	}
	return n
}

// utf8Joiner carries an incomplete UTF-8 character at the end of one chunk
// over to the next, so a character split across events is not mangled.
type utf8Joiner struct {
	carry []byte
}

// join returns the carried bytes plus p, minus a trailing incomplete
// character, which it keeps for the next call.
func (j *utf8Joiner) join(p []byte) []byte {
	if len(j.carry) > 0 {
		p = append(j.carry, p...)
		j.carry = nil
	}
	// Look back at most UTFMax-1 bytes for the start of a character.
	for k := 1; k < utf8.UTFMax && k <= len(p); k++ {
		c := p[len(p)-k]
		if c < 0x80 {
			break
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(p[len(p)-k:]) {
				j.carry = append([]byte(nil), p[len(p)-k:]...)
				p = p[:len(p)-k]
			}
			break
		}
	}
	return p
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends p as a JSON string: invalid UTF-8 becomes
// U+FFFD; C0 controls, DEL, C1 controls (U+0080..U+009F), U+2028 and U+2029
// are \u-escaped so the JSON is safe to print on a terminal and to embed
// in JavaScript.
func appendJSONString(b, p []byte) []byte {
	b = append(b, '"')
	for i := 0; i < len(p); {
		c := p[i]
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			j := i + 1
			for j < len(p) && p[j] >= 0x20 && p[j] < 0x7f && p[j] != '"' && p[j] != '\\' {
				j++
			}
			b = append(b, p[i:j]...)
			i = j
			continue
		}
		if c < 0x80 {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r <= 0x9f, r == 0x2028, r == 0x2029:
			b = append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		default:
			b = append(b, p[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
