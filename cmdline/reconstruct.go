package cmdline

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/foureyes/foureyes/event"
)

// MaxLineRunes bounds a reconstructed line; longer input marks the line
// approximate instead of growing memory.
const MaxLineRunes = 1 << 16

// MaxTypists bounds the typists of a session that get a line buffer of
// their own; real sessions have an owner and a few peers. The input of
// every actor past them shares one more buffer, whose commands are marked
// Approximate and list OthersTypist in Typists. A session's events name
// whoever a Kafka writer likes: without the bound each new actor cost a
// buffer kept for the session and a scan on every Enter.
const MaxTypists = 16

// OthersTypist stands, in Command.Typists, for the typists past
// MaxTypists.
const OthersTypist = "(other typists)"

// MaxSessionRunes bounds the runes a session's line buffers hold
// together; input past it marks its line approximate.
const MaxSessionRunes = 2 * MaxLineRunes

// Command is a command line reconstructed from recorded input (or the
// command of an exec session).
type Command struct {
	Seq uint64 // seq of the event that completed the line (Enter, or the exec event)
	// Idx numbers the commands one event completed ("ls\rpwd\r"): 0, 1, …
	// (Seq, Idx) names a command within its session.
	Idx   int
	Time  time.Time // when the line was entered
	Actor string    // who pressed Enter (or who ran the exec)
	Line  string
	// Exec reports that Line is the command of an exec session.
	Exec bool
	// Approximate reports that the line may differ from what the shell ran:
	// history recall (up/down, Ctrl-R), Tab completion, yank and other
	// editing the input alone cannot replay, or input of several typists
	// merged into one line.
	Approximate bool
	// Typists lists every actor whose keystrokes are in Line when more than
	// one typed it (nil otherwise).
	Typists []string
	// Blind is the number of characters of a line typed while the host did
	// not echo it (an input.blind event follows the line): a password,
	// most likely. Reviewers watching live saw its length only. 0: echoed.
	Blind int
	// Joined is the whole command when Line ended one the shell read over
	// several lines: earlier lines ended in a backslash or left a quote
	// open. Backslash-newline is removed, a newline inside quotes kept.
	// Empty for a command of one line.
	Joined string
}

// Reconstructor replays the input of one session, event by event, and
// yields the commands as they complete. The zero value is ready to use.
// Feed the session's events in seq order; events of other types are
// ignored. It keeps one line buffer per typist (at most MaxTypists of
// them and one for the others; at most MaxLineRunes each and
// MaxSessionRunes together) and the last command of each, nothing else.
type Reconstructor struct {
	editors []*lineEditor // in order of first appearance; others last
	others  *lineEditor   // the typists past MaxTypists
	order   uint64        // counter for first-keystroke order
	last    map[string]Command
	cont    string // the unfinished multi-line command, so far
	nCont   int    // its lines
}

// maxContLines bounds the lines joined into one command.
const maxContLines = 16

// Feed processes e and appends to out what it produced: the commands e
// completed (input with Enter, exec), or, for input.blind, the typist's
// last command again with Blind set (same Seq and Idx: it replaces the
// one yielded before).
func (r *Reconstructor) Feed(e *event.Event, out []Command) []Command {
	switch e.Type {
	case event.Exec:
		c := Command{Seq: e.Seq, Time: e.Timestamp().UTC(), Actor: e.Actor, Line: string(e.Data), Exec: true}
		r.remember(c)
		return append(out, c)
	case event.Input:
		return r.input(e, out)
	case event.InputBlind:
		c, ok := r.last[e.Actor]
		if !ok {
			return out
		}
		n, err := strconv.Atoi(e.Meta["chars"])
		if err != nil || n <= 0 {
			n = 1 // a damaged meta still marks the line
		}
		c.Blind = n
		r.last[e.Actor] = c
		return append(out, c)
	}
	return out
}

func (r *Reconstructor) remember(c Command) {
	if r.last == nil {
		r.last = map[string]Command{}
	}
	if _, ok := r.last[c.Actor]; !ok && len(r.last) >= MaxTypists {
		return // a typist past the bound: no blind mark for them
	}
	r.last[c.Actor] = c
}

// Commands reconstructs the command lines typed in a session, best effort:
// it replays each typist's input through a small line editor (insert,
// Backspace, Ctrl-U/W/K/A/E/B/F/D, arrows, Home/End, Alt-B/F, bracketed
// paste) and never sees what the shell itself did. Each typist gets a line
// buffer of their own, so interleaved typing in a shared terminal stays
// attributed; Enter completes the line of whoever pressed it. If another
// typist's buffer holds text at that moment the shell saw one merged line:
// the buffers are joined in order of first keystroke, attributed to the
// actor who pressed Enter, listed in Typists and marked Approximate. Exec
// sessions yield their exec event's command. Empty lines are skipped.
func Commands(events []event.Event) []Command {
	var (
		r   Reconstructor
		out []Command
	)
	for i := range events {
		n := len(out)
		out = r.Feed(&events[i], out)
		if events[i].Type != event.InputBlind || len(out) == n {
			continue
		}
		// A blind mark updates a command already in out.
		c := out[n]
		out = out[:n]
		for j := n - 1; j >= 0; j-- {
			if out[j].Seq == c.Seq && out[j].Idx == c.Idx {
				out[j] = c
				break
			}
		}
	}
	return out
}

func (r *Reconstructor) editor(actor string) *lineEditor {
	for _, ed := range r.editors {
		if ed.actor == actor {
			return ed
		}
	}
	if len(r.editors) < MaxTypists {
		ed := &lineEditor{actor: actor, order: &r.order}
		r.editors = append(r.editors, ed)
		return ed
	}
	if r.others == nil {
		r.others = &lineEditor{actor: OthersTypist, order: &r.order}
		r.editors = append(r.editors, r.others)
	}
	return r.others
}

// input feeds one input event to its typist's editor.
func (r *Reconstructor) input(e *event.Event, out []Command) []Command {
	ed := r.editor(e.Actor)
	held := 0
	for _, o := range r.editors {
		if o != ed {
			held += len(o.line)
		}
	}
	ed.room = min(MaxLineRunes, MaxSessionRunes-held)
	idx := 0
	for _, b := range e.Data {
		switch ed.feed(b) {
		case keyEnter:
			if c, ok := r.enter(ed, e); ok {
				c.Idx = idx
				idx++
				r.join(&c)
				r.remember(c)
				out = append(out, c)
			}
		case keyCancel:
			// Ctrl-C discards the shell's line: everyone's pending text.
			for _, o := range r.editors {
				o.reset()
			}
			r.cont, r.nCont = "", 0
		}
	}
	return out
}

// enter completes the current line after ed's actor pressed Enter, and
// reports whether it is a command.
func (r *Reconstructor) enter(ed *lineEditor, e *event.Event) (Command, bool) {
	var pending []*lineEditor
	for _, o := range r.editors {
		if len(o.line) > 0 || o.approx {
			pending = append(pending, o)
		}
	}
	cmd := Command{Seq: e.Seq, Time: e.Timestamp().UTC(), Actor: e.Actor}
	switch len(pending) {
	case 0:
	case 1:
		cmd.Line = string(pending[0].line)
		cmd.Approximate = pending[0].approx
		if pending[0] != ed {
			cmd.Approximate = true
			cmd.Typists = []string{pending[0].actor, ed.actor}
		}
	default:
		slices.SortFunc(pending, func(a, b *lineEditor) int { return cmp.Compare(a.first, b.first) })
		cmd.Approximate = true
		var line []rune
		for _, o := range pending {
			line = append(line, o.line...)
			cmd.Typists = append(cmd.Typists, o.actor)
		}
		if !slices.Contains(cmd.Typists, ed.actor) {
			cmd.Typists = append(cmd.Typists, ed.actor)
		}
		cmd.Line = string(line)
	}
	if r.others != nil && (ed == r.others || slices.Contains(pending, r.others)) {
		cmd.Approximate = true
		if !slices.Contains(cmd.Typists, OthersTypist) {
			cmd.Typists = append(cmd.Typists, OthersTypist)
		}
	}
	for _, o := range pending {
		o.reset()
	}
	ed.reset()
	return cmd, cmd.Line != "" || cmd.Approximate
}

// join sets c.Joined when c ends a command continued over several lines,
// and remembers c when the shell will read on.
func (r *Reconstructor) join(c *Command) {
	text := c.Line
	if r.nCont > 0 {
		text = r.cont + text
	}
	if r.nCont+1 < maxContLines && len(text) < MaxLineRunes {
		switch continues(text) {
		case contBackslash:
			r.cont, r.nCont = text[:len(text)-1], r.nCont+1
			return
		case contQuote:
			r.cont, r.nCont = text+"\n", r.nCont+1
			return
		}
	}
	if r.nCont > 0 {
		c.Joined = text
	}
	r.cont, r.nCont = "", 0
}

// How a line continues (continues).
const (
	contNone      = iota
	contBackslash // ends in an unescaped backslash
	contQuote     // leaves a quote open
)

// continues reports whether a POSIX shell reads on after text: a trailing
// unescaped backslash, or an open single or double quote.
func continues(text string) int {
	var quote byte
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			}
		case c == '\\':
			if i == len(text)-1 {
				if quote == 0 {
					return contBackslash
				}
				return contQuote
			}
			i++
		case quote == '"':
			if c == '"' {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		}
	}
	if quote != 0 {
		return contQuote
	}
	return contNone
}
