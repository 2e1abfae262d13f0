package config

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid wraps every validation error: errors.Is(err, ErrInvalid)
// holds for every error Parse, Load, Check, Validate and the part
// requirements return about the configuration's content.
var ErrInvalid = errors.New("config: invalid")

// Error lists the problems found in a configuration. It wraps ErrInvalid.
type Error struct {
	// Problems are one line each, naming the YAML key first and the fix
	// last: "gateway.listen: \"x\" is not host:port (e.g. 0.0.0.0:2222)",
	// or with the line for decoding problems:
	// "gateway.keepalive_intervall (line 7): unknown key; did you mean keepalive_interval?".
	Problems []string
}

// Error returns "config: invalid: PROBLEM" for one problem, and a header
// line followed by one indented line per problem for several.
func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return ErrInvalid.Error() + ": " + e.Problems[0]
	}
	return fmt.Sprintf("%v: %d problems:\n  %s", ErrInvalid, len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// problems collects Error lines, keeping the first of duplicates.
type problems struct {
	list []string
	seen map[string]bool
}

// add records "KEY: MESSAGE".
func (p *problems) add(key, format string, args ...any) {
	p.addLine(key + ": " + fmt.Sprintf(format, args...))
}

// addLine records a finished problem line unless it is already there.
func (p *problems) addLine(line string) {
	if p.seen[line] {
		return
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.seen[line] = true
	p.list = append(p.list, line)
}

// merge adds the problems of err, an *Error or nil.
func (p *problems) merge(err error) {
	var e *Error
	if errors.As(err, &e) {
		for _, l := range e.Problems {
			p.addLine(l)
		}
	} else if err != nil {
		p.addLine(err.Error())
	}
}

// err returns an *Error holding the problems, or nil when there is none.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &Error{Problems: p.list}
}
