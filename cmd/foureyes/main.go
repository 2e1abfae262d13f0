// Command foureyes is the SSH bastion's single binary.
//
//	foureyes dev --data DIR [--ssh-addr 127.0.0.1:2222]   everything in one process
//	foureyes gateway --config FILE                          the SSH gateway
//	foureyes ingest --config FILE                           Kafka → ClickHouse
//	foureyes broker --data DIR [--addr 127.0.0.1:9092]      embedded Kafka-protocol broker
//	foureyes check-config --config FILE [--for PART]        validate a configuration
//	foureyes reload --config FILE                           apply an edited configuration to the running gateway
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// command is one subcommand: its name, a one-line summary and its body.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"dev", "run gateway, broker, ClickHouse, ingest and demo hosts in one process", runDev},
	{"gateway", "run the SSH gateway against external Kafka", runGateway},
	{"ingest", "run the Kafka → ClickHouse ingest", runIngest},
	{"broker", "run the embedded Kafka-protocol broker (kfake) on its own", runBroker},
	{"check-config", "validate a configuration file and exit", runCheckConfig},
	{"reload", "apply an edited configuration to the running gateway (or send it SIGHUP)", runReload},
	{"retention", "run the retention job once: retention run [--dry-run] --config FILE", runRetention},
}

// errUsage marks an error already explained by a usage message.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, pflag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "foureyes %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "foureyes: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: foureyes COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'foureyes COMMAND -h' for the flags of a command.")
}

// newFlags returns a FlagSet (spf13/pflag, as the audit verbs) that
// reports errors instead of exiting; its help spells flags --name, as the
// documentation does.
func newFlags(name string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("foureyes "+name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: foureyes %s [flags]\n\nflags:\n%s", name, fs.FlagUsages())
	}
	return fs
}

// parse parses args and turns parse errors into errUsage (already
// printed). A single-dash long flag (-config) is read as --config, as the
// standard flag package read it before.
func parse(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(longFlags(fs, args)); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		fmt.Fprintf(fs.Output(), "%s: %v (-h lists the flags)\n", fs.Name(), err)
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// longFlags rewrites -name to --name, up to "--", when name is one of
// fs's flags or "help"; -h stays pflag's help.
func longFlags(fs *pflag.FlagSet, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "--" {
			copy(out[i:], args[i:])
			break
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		if len(a) > 2 && a[0] == '-' && a[1] != '-' && (name == "help" || fs.Lookup(name) != nil) {
			a = "-" + a
		}
		out[i] = a
	}
	return out
}

// levelValue is a --log-level value: debug, info, warn or error.
type levelValue struct{ l *slog.Level }

func (v levelValue) String() string { return strings.ToLower(v.l.String()) }
func (v levelValue) Type() string   { return "LEVEL" }

func (v levelValue) Set(s string) error {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return v.l.UnmarshalText([]byte(s))
	}
	return fmt.Errorf("want debug, info, warn or error")
}

// logLevel defines --log-level with default def.
func logLevel(fs *pflag.FlagSet, def slog.Level) *slog.Level {
	l := def
	fs.Var(levelValue{&l}, "log-level", "log level: debug, info, warn or error")
	return &l
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
