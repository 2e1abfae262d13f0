package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/foureyes/foureyes/internal/reloadctl"
)

// reloadTimeout is how long `foureyes reload` waits for the gateway.
const reloadTimeout = 10 * time.Second

// errReloadRefused is returned when the gateway refused the new
// configuration (it keeps the old one).
var errReloadRefused = errors.New("reload refused")

// runReload validates FILE and asks the gateway running with its data_dir
// to reload it, printing what changed.
func runReload(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reload", stderr)
	path := fs.String("config", "", "the gateway's configuration file, edited (required)")
	wait := fs.Duration("timeout", reloadTimeout, "how long to wait for the gateway's answer")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, stderr)
	if err == nil {
		err = cfg.ValidateGateway()
	}
	if err != nil {
		return fmt.Errorf("%w; the gateway keeps its configuration: %w", errReloadRefused, err)
	}
	st, err := reloadctl.Request(cfg.Gateway.DataDir, *wait)
	if err != nil {
		return err
	}
	if !st.OK {
		return fmt.Errorf("%w by the gateway; it keeps its configuration: %s", errReloadRefused, st.Error)
	}
	fmt.Fprintf(stdout, "reloaded %s; %d live session(s) ended by revocation\n", *path, st.Revoked)
	if len(st.Changes) == 0 {
		fmt.Fprintln(stdout, "  no changes")
	}
	for _, c := range st.Changes {
		fmt.Fprintln(stdout, "  "+c)
	}
	if len(st.NotApplied) > 0 {
		fmt.Fprintf(stdout, "  not applied until a restart: %s\n", strings.Join(st.NotApplied, ", "))
	}
	return nil
}
