package query

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// cliFlag is one flag of a verb.
type cliFlag struct {
	name  string // as typed after the dashes: "since"
	arg   string // placeholder of its value in the help ("T", "N"); empty for a switch
	usage string
	def   string // default shown in the help; empty for none
	// set parses and stores a value; an error means the value is not
	// acceptable, and want says what would be.
	set    func(string) error
	want   string
	isBool bool // a switch: --json, or --json=false
}

// flagSet holds the flags of one verb. Parsing is done here rather than by
// package flag so that every mistake is reported in one line that names
// the flag as the documentation spells it (--since) and says what would
// work. Flags may appear anywhere among the arguments and are spelled
// --name VALUE, --name=VALUE or, as package flag allowed, -name.
type flagSet struct {
	verb     string // "sessions"
	synopsis string // "[--user U] [--json]"
	note     string // printed after the flags in the help; may be empty
	stderr   io.Writer
	flags    []*cliFlag // in the order they are listed
}

// flagSet returns an empty flagSet for verb reporting to the CLI's stderr.
func (c *cli) flagSet(verb, synopsis string) *flagSet {
	return &flagSet{verb: verb, synopsis: synopsis, stderr: c.stderr}
}

// name is the prefix of the verb's messages: "audit sessions".
func (fs *flagSet) name() string { return "audit " + fs.verb }

func (fs *flagSet) add(f *cliFlag) { fs.flags = append(fs.flags, f) }

// str defines a flag taking any string.
func (fs *flagSet) str(name, arg, usage string) *string {
	p := new(string)
	fs.add(&cliFlag{name: name, arg: arg, usage: usage, set: func(s string) error { *p = s; return nil }})
	return p
}

// boolean defines a switch.
func (fs *flagSet) boolean(name, usage string) *bool {
	p := new(bool)
	fs.add(&cliFlag{name: name, usage: usage, isBool: true, want: "true or false (or no value)", set: func(s string) error {
		v, err := strconv.ParseBool(s)
		if err == nil {
			*p = v
		}
		return err
	}})
	return p
}

// integer defines a flag taking a whole number in [lo, hi].
func (fs *flagSet) integer(name, arg string, def, lo, hi int, usage string) *int {
	p := &def
	fs.add(&cliFlag{name: name, arg: arg, usage: usage, def: strconv.Itoa(def),
		want: fmt.Sprintf("a whole number from %d to %d", lo, hi), set: func(s string) error {
			v, err := strconv.Atoi(s)
			if err == nil && (v < lo || v > hi) {
				err = errOutOfRange
			}
			if err == nil {
				*p = v
			}
			return err
		}})
	return p
}

// errOutOfRange is returned by the setters of bounded flags; the message
// the auditor sees is the flag's want.
var errOutOfRange = errors.New("query: out of range")

// number defines a flag taking a number for which ok holds.
func (fs *flagSet) number(name, arg string, def float64, ok func(float64) bool, want, usage string) *float64 {
	p := &def
	fs.add(&cliFlag{name: name, arg: arg, usage: usage, def: strconv.FormatFloat(def, 'g', -1, 64), want: want, set: func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		if err == nil && !ok(v) {
			err = errOutOfRange
		}
		if err == nil {
			*p = v
		}
		return err
	}})
	return p
}

// duration defines a flag taking a non-negative Go duration.
func (fs *flagSet) duration(name, arg string, def time.Duration, want, usage string) *time.Duration {
	p := &def
	fs.add(&cliFlag{name: name, arg: arg, usage: usage, def: def.String(), want: want, set: func(s string) error {
		v, err := time.ParseDuration(s)
		if err == nil && v < 0 {
			err = errOutOfRange
		}
		if err == nil {
			*p = v
		}
		return err
	}})
	return p
}

// choice defines a flag taking one of values; the first is the default.
func (fs *flagSet) choice(name, arg string, values []string, usage string) *string {
	p := new(string)
	*p = values[0]
	fs.add(&cliFlag{name: name, arg: arg, usage: usage, def: values[0], want: strings.Join(values, " or "), set: func(s string) error {
		if !slices.Contains(values, s) {
			return errOutOfRange
		}
		*p = s
		return nil
	}})
	return p
}

// custom defines a flag whose value set parses and stores; want says
// what set accepts.
func (fs *flagSet) custom(name, arg, want, usage string, set func(string) error) {
	fs.add(&cliFlag{name: name, arg: arg, usage: usage, want: want, set: set})
}

// timeSpec defines a --since/--until flag (parseTimeSpec relative to now).
func (fs *flagSet) timeSpec(name, usage string, t *time.Time, now func() time.Time) {
	fs.custom(name, "T", timeSpecWant, usage, func(s string) error {
		v, err := parseTimeSpec(s, now())
		if err == nil {
			*t = v
		}
		return err
	})
}

// lookup returns the flag called name, or nil.
func (fs *flagSet) lookup(name string) *cliFlag {
	for _, f := range fs.flags {
		if f.name == name {
			return f
		}
	}
	return nil
}

// flagName returns the name in arg when arg is spelled as a flag (-x,
// --x, --x=v), and whether it is.
func flagName(arg string) (name, value string, hasValue, ok bool) {
	if len(arg) < 2 || arg[0] != '-' || arg == "--" {
		return "", "", false, false
	}
	name = strings.TrimPrefix(arg[1:], "-")
	name, value, hasValue = strings.Cut(name, "=")
	return name, value, hasValue, true
}

// takesNext reports whether arg, following a flag that needs a value, is
// that value: anything but "--x" or the name of one of the verb's flags.
func (fs *flagSet) takesNext(arg string) bool {
	name, _, _, isFlag := flagName(arg)
	switch {
	case !isFlag:
		return true
	case strings.HasPrefix(arg, "--"), name == "h", name == "help":
		return false
	}
	return fs.lookup(name) == nil
}

// parse parses the flags placed anywhere among args and returns the other
// arguments. On -h it prints the help and returns ExitOK, !ok; on a mistake
// it prints one line and returns ExitUsage, !ok.
func (fs *flagSet) parse(args []string) (pos []string, code int, ok bool) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(pos, args[i+1:]...), ExitOK, true
		}
		name, value, hasValue, isFlag := flagName(arg)
		if !isFlag {
			pos = append(pos, arg)
			continue
		}
		if name == "h" || name == "help" {
			fs.usage()
			return nil, ExitOK, false
		}
		f := fs.lookup(name)
		if f == nil {
			return nil, fs.errorf("unknown flag --%s (%s)", printable(name), fs.list()), false
		}
		switch {
		case hasValue:
		case f.isBool:
			value = "true"
		case i+1 < len(args) && fs.takesNext(args[i+1]):
			i++
			value = args[i]
		default:
			return nil, fs.errorf("--%s needs a value", f.name), false
		}
		if err := f.set(value); err != nil {
			return nil, fs.errorf("--%s %q: want %s", f.name, value, f.want), false
		}
	}
	return pos, ExitOK, true
}

// parseNone parses flags and accepts no other argument.
func (fs *flagSet) parseNone(args []string) (int, bool) {
	pos, code, ok := fs.parse(args)
	switch {
	case !ok:
		return code, false
	case len(pos) > 0:
		return fs.errorf("unexpected argument %q (usage: %s %s)", pos[0], fs.name(), fs.synopsis), false
	}
	return ExitOK, true
}

// parseID parses flags and exactly one session ID.
func (fs *flagSet) parseID(args []string) (string, int, bool) {
	pos, code, ok := fs.parse(args)
	switch {
	case !ok:
		return "", code, false
	case len(pos) == 0:
		return "", fs.errorf("missing session ID (usage: %s %s)", fs.name(), fs.synopsis), false
	case len(pos) > 1:
		return "", fs.errorf("one session ID expected, got %d arguments (usage: %s %s)", len(pos), fs.name(), fs.synopsis), false
	}
	return pos[0], ExitOK, true
}

// errorf prints one line "audit VERB: message" and returns ExitUsage.
func (fs *flagSet) errorf(format string, args ...any) int {
	fmt.Fprintf(fs.stderr, "%s: %s\n", fs.name(), fmt.Sprintf(format, args...))
	return ExitUsage
}

// list names the verb's flags for an unknown-flag message.
func (fs *flagSet) list() string {
	if len(fs.flags) == 0 {
		return fs.name() + " takes no flags"
	}
	names := make([]string, len(fs.flags))
	for i, f := range fs.flags {
		names[i] = "--" + f.name
	}
	return "flags: " + strings.Join(names, " ")
}

// usage prints the verb's help to stderr.
func (fs *flagSet) usage() {
	fmt.Fprintf(fs.stderr, "usage: %s %s\n", fs.name(), fs.synopsis)
	tw := tabwriter.NewWriter(fs.stderr, 0, 4, 2, ' ', 0)
	for _, f := range fs.flags {
		spec := "--" + f.name
		if f.arg != "" {
			spec += " " + f.arg
		}
		usage := f.usage
		if f.def != "" {
			usage += " (default " + f.def + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", spec, usage)
	}
	tw.Flush()
	if fs.note != "" {
		fmt.Fprintln(fs.stderr, fs.note)
	}
}
