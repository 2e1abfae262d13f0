package query

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// flagSet holds the flags of one verb, parsed by pflag: flags go anywhere
// among the arguments as --name VALUE or --name=VALUE and, as package flag
// allowed before, -name. Every mistake is reported in one line that names
// the flag as the documentation spells it (--since) and says what would
// work; pflag itself prints nothing.
type flagSet struct {
	verb     string // "sessions"
	synopsis string // "[--user U] [--json]"
	note     string // printed after the flags in the help; may be empty
	stderr   io.Writer
	set      *pflag.FlagSet
}

// flagSet returns an empty flagSet for verb reporting to the CLI's stderr.
func (c *cli) flagSet(verb, synopsis string) *flagSet {
	set := pflag.NewFlagSet("audit "+verb, pflag.ContinueOnError)
	set.SortFlags = false
	set.SetOutput(io.Discard)
	set.Usage = func() {}
	return &flagSet{verb: verb, synopsis: synopsis, stderr: c.stderr, set: set}
}

// name is the prefix of the verb's messages: "audit sessions".
func (fs *flagSet) name() string { return "audit " + fs.verb }

// value is the pflag.Value of every flag.
type value struct {
	set  func(string) error // parses, checks and stores an argument
	want string             // what set accepts, for the error message
	arg  string             // see add
	text string             // the last argument set; at first the default
}

func (v *value) Set(s string) error {
	if err := v.set(s); err != nil {
		return err
	}
	v.text = s
	return nil
}

func (v *value) String() string { return v.text }

// Type is what pflag's help shows after the flag's name.
func (v *value) Type() string { return v.arg }

// add defines a flag. arg is the placeholder of its value in the help
// ("N"), or "bool" for a switch, shown without one; def is the default
// shown there ("", "0" and "false" are not), want what set accepts.
func (fs *flagSet) add(name, arg, def, want, usage string, set func(string) error) {
	f := fs.set.VarPF(&value{set: set, want: want, arg: arg, text: def}, name, "", usage)
	if arg == "bool" {
		f.NoOptDefVal = "true" // --json alone means --json=true
	}
}

// errOutOfRange is returned by the setters of bounded flags; the message
// the auditor sees is the flag's want.
var errOutOfRange = errors.New("query: out of range")

// setter returns a set function storing in p what parse returns, when ok
// (nil: anything) holds of it.
func setter[T any](p *T, parse func(string) (T, error), ok func(T) bool) func(string) error {
	return func(s string) error {
		v, err := parse(s)
		if err == nil && ok != nil && !ok(v) {
			err = errOutOfRange
		}
		if err == nil {
			*p = v
		}
		return err
	}
}

func anyString(s string) (string, error) { return s, nil }

// str defines a flag taking any string.
func (fs *flagSet) str(name, arg, usage string) *string {
	p := new(string)
	fs.add(name, arg, "", "", usage, setter(p, anyString, nil))
	return p
}

// boolean defines a switch.
func (fs *flagSet) boolean(name, usage string) *bool {
	p := new(bool)
	fs.add(name, "bool", "false", "true or false (or no value)", usage, setter(p, strconv.ParseBool, nil))
	return p
}

// integer defines a flag taking a whole number in [lo, hi].
func (fs *flagSet) integer(name, arg string, def, lo, hi int, usage string) *int {
	fs.add(name, arg, strconv.Itoa(def), fmt.Sprintf("a whole number from %d to %d", lo, hi), usage,
		setter(&def, strconv.Atoi, func(v int) bool { return v >= lo && v <= hi }))
	return &def
}

// number defines a flag taking a number for which ok holds.
func (fs *flagSet) number(name, arg string, def float64, ok func(float64) bool, want, usage string) *float64 {
	parse := func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
	fs.add(name, arg, strconv.FormatFloat(def, 'g', -1, 64), want, usage, setter(&def, parse, ok))
	return &def
}

// duration defines a flag taking a non-negative Go duration.
func (fs *flagSet) duration(name, arg string, def time.Duration, want, usage string) *time.Duration {
	fs.add(name, arg, def.String(), want, usage,
		setter(&def, time.ParseDuration, func(d time.Duration) bool { return d >= 0 }))
	return &def
}

// choice defines a flag taking one of values; the first is the default.
func (fs *flagSet) choice(name, arg string, values []string, usage string) *string {
	p := new(string)
	*p = values[0]
	fs.add(name, arg, values[0], strings.Join(values, " or "), usage,
		setter(p, anyString, func(s string) bool { return slices.Contains(values, s) }))
	return p
}

// enum defines a flag taking one of values, or nothing: its default is ""
// (the caller's meaning of "not given").
func (fs *flagSet) enum(name, arg string, values []string, usage string) *string {
	p := new(string)
	fs.add(name, arg, "", joinOr(values), usage,
		setter(p, anyString, func(s string) bool { return slices.Contains(values, s) }))
	return p
}

// nonEmpty defines a flag taking any string but the empty one: an empty
// --user= must not silently mean "every user".
func (fs *flagSet) nonEmpty(name, arg, want, usage string) *string {
	p := new(string)
	fs.add(name, arg, "", want, usage, setter(p, anyString, func(s string) bool { return s != "" }))
	return p
}

// joinOr lists values as "a, b or c".
func joinOr(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// custom defines a flag whose value set parses and stores; want says
// what set accepts.
func (fs *flagSet) custom(name, arg, want, usage string, set func(string) error) {
	fs.add(name, arg, "", want, usage, set)
}

// timeSpec defines a --since/--until flag (parseTimeSpec relative to now).
func (fs *flagSet) timeSpec(name, usage string, t *time.Time, now func() time.Time) {
	parse := func(s string) (time.Time, error) { return parseTimeSpec(s, now()) }
	fs.add(name, "T", "", timeSpecWant, usage, setter(t, parse, nil))
}

// parse parses the flags placed anywhere among args and returns the other
// arguments. On -h it prints the help and returns ExitOK, !ok; on a mistake
// it prints one line and returns ExitUsage, !ok.
func (fs *flagSet) parse(args []string) (pos []string, code int, ok bool) {
	switch err := fs.set.Parse(fs.pflagArgs(args)); {
	case errors.Is(err, pflag.ErrHelp):
		fs.usage()
		return nil, ExitOK, false
	case err != nil:
		return nil, fs.report(err), false
	}
	return fs.set.Args(), ExitOK, true
}

// pflagArgs rewrites args so that pflag reads them as this CLI always has:
// -name becomes --name (pflag would take -name for the shorthands n, a, m,
// e) and -h --help. A flag that needs a value gets the next argument joined
// to it (--user=-x) unless that argument is another flag (see isFlag); then
// the bare flag ends the arguments, and pflag reports the missing value
// after any mistake before it, as it would at the end of args.
func (fs *flagSet) pflagArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, hasValue, isFlag := flagName(arg)
		switch {
		case arg == "--":
			return append(out, args[i:]...)
		case !isFlag:
			out = append(out, arg)
			continue
		case name == "h":
			arg = "--help"
		case arg[1] != '-':
			arg = "-" + arg
		}
		f := fs.set.Lookup(name)
		switch {
		case f == nil || hasValue || f.NoOptDefVal != "":
			out = append(out, arg)
		case i+1 == len(args) || fs.isFlag(args[i+1]):
			return append(out, arg)
		default:
			i++
			out = append(out, arg+"="+args[i])
		}
	}
	return out
}

// flagName returns the name in arg when arg is spelled as a flag (-x,
// --x, --x=v), whether a value follows "=", and whether it is a flag.
func flagName(arg string) (name string, hasValue, ok bool) {
	if len(arg) < 2 || arg[0] != '-' || arg == "--" {
		return "", false, false
	}
	name, _, hasValue = strings.Cut(strings.TrimPrefix(arg[1:], "-"), "=")
	return name, hasValue, true
}

// isFlag reports whether arg, following a flag that needs a value, is
// another flag rather than that value: --anything, -h, -help or -name of
// one of the verb's flags. Anything else, "-x" or "-1s" included, is the
// value.
func (fs *flagSet) isFlag(arg string) bool {
	name, _, ok := flagName(arg)
	return ok && (strings.HasPrefix(arg, "--") || name == "h" || name == "help" || fs.set.Lookup(name) != nil)
}

// report prints the one line for a pflag error and returns ExitUsage.
func (fs *flagSet) report(err error) int {
	var (
		unknown *pflag.NotExistError
		syntax  *pflag.InvalidSyntaxError
		missing *pflag.ValueRequiredError
		invalid *pflag.InvalidValueError
	)
	switch {
	case errors.As(err, &unknown):
		return fs.errorf("unknown flag --%s (%s)", printable(unknown.GetSpecifiedName()), fs.list())
	case errors.As(err, &syntax): // ---x, --=x
		return fs.errorf("unknown flag %s (%s)", printable(syntax.GetSpecifiedFlag()), fs.list())
	case errors.As(err, &missing):
		return fs.errorf("--%s needs a value", missing.GetFlag().Name)
	case errors.As(err, &invalid):
		f := invalid.GetFlag()
		return fs.errorf("--%s %q: want %s", f.Name, invalid.GetValue(), f.Value.(*value).want)
	}
	return fs.errorf("%s", printable(err.Error()))
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
	if !fs.set.HasFlags() {
		return fs.name() + " takes no flags"
	}
	var names []string
	fs.set.VisitAll(func(f *pflag.Flag) { names = append(names, "--"+f.Name) })
	return "flags: " + strings.Join(names, " ")
}

// usage prints the verb's help to stderr.
func (fs *flagSet) usage() {
	fmt.Fprintf(fs.stderr, "usage: %s %s\n%s", fs.name(), fs.synopsis, fs.set.FlagUsages())
	if fs.note != "" {
		fmt.Fprintln(fs.stderr, fs.note)
	}
}

// hasFlag reports whether args set the flag name (--name or --name=V).
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--"+name || a == "-"+name || strings.HasPrefix(a, "--"+name+"=") || strings.HasPrefix(a, "-"+name+"=") {
			return true
		}
	}
	return false
}
