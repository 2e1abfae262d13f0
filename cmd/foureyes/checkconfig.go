package main

import (
	"context"
	"fmt"
	"io"

	"github.com/foureyes/foureyes/config"
)

func runCheckConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check-config", stderr)
	path := fs.String("config", "", "configuration file (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: OK (%d users, %d hosts, %d roles)\n", *path, len(c.Users), len(c.Hosts), len(c.Roles))
	return nil
}

// loadConfig loads path, reporting a missing flag as a usage error.
func loadConfig(path string, stderr io.Writer) (*config.Config, error) {
	if path == "" {
		fmt.Fprintln(stderr, "--config FILE is required (see docs/config.md)")
		return nil, errUsage
	}
	return config.Load(path)
}
