package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/foureyes/foureyes/config"
)

// runCheckConfig validates a configuration the way the parts named by
// --for would at start: decoding, validation, and each part's own
// requirements, reporting every problem found.
func runCheckConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check-config", stderr)
	path := fs.String("config", "", "configuration `FILE` (required)")
	forParts := fs.String("for", "all", "the `PART` the file is for: gateway, ingest or all")
	if err := parse(fs, args); err != nil {
		return err
	}
	parts, ok := checkedParts(*forParts)
	if !ok {
		fmt.Fprintf(stderr, "--for %q: use gateway, ingest or all\n", *forParts)
		return errUsage
	}
	if *path == "" {
		fmt.Fprintln(stderr, "--config FILE is required (see docs/config.md)")
		return errUsage
	}
	c, err := config.CheckFile(*path, parts...)
	if err != nil {
		return err
	}
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = string(p)
	}
	fmt.Fprintf(stdout, "%s: OK for %s (%d users, %d hosts, %d roles)\n", *path, strings.Join(names, " and "), len(c.Users), len(c.Hosts), len(c.Roles))
	return nil
}

// checkedParts maps the --for value to the parts whose requirements
// check-config applies.
func checkedParts(v string) ([]config.Part, bool) {
	switch v {
	case "all":
		return config.Parts, true
	case string(config.PartGateway):
		return []config.Part{config.PartGateway}, true
	case string(config.PartIngest):
		return []config.Part{config.PartIngest}, true
	}
	return nil, false
}

// loadConfig loads path, reporting a missing flag as a usage error.
func loadConfig(path string, stderr io.Writer) (*config.Config, error) {
	if path == "" {
		fmt.Fprintln(stderr, "--config FILE is required (see docs/config.md)")
		return nil, errUsage
	}
	return config.Load(path)
}
