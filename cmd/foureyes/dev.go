package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"

	"github.com/foureyes/foureyes/internal/devstack"
)

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", stderr)
	data := fs.String("data", "", "state directory (keys, spool, Kafka and ClickHouse data); required")
	addr := fs.String("ssh-addr", "127.0.0.1:2222", "gateway SSH listen address")
	level := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		fmt.Fprintln(stderr, "foureyes dev: --data DIR is required, e.g. foureyes dev --data .dev")
		return errUsage
	}
	fmt.Fprintln(stdout, "foureyes dev: starting ClickHouse, the broker, ingest, the gateway and the demo hosts …")
	st, err := devstack.Start(ctx, devstack.Options{Dir: *data, SSHAddr: *addr, Logger: newLogger(stderr, *level)})
	if err != nil {
		return err
	}
	printInstructions(stdout, st)
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "\nfoureyes dev: stopping …")
		st.Close()
		fmt.Fprintln(stdout, "foureyes dev: stopped; data kept in", st.Dir)
		return nil
	case err := <-st.Err():
		st.Close()
		return err
	}
}

func printInstructions(w io.Writer, st *devstack.Stack) {
	host, port, _ := net.SplitHostPort(st.SSHAddr())
	keys := filepath.Join(st.Dir, "keys")
	ssh := func(user string) string {
		return fmt.Sprintf("ssh -i %s -p %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=accept-new", filepath.Join(keys, user), port, filepath.Join(st.Dir, "known_hosts"))
	}
	fmt.Fprintf(w, `
foureyes dev is up. The gateway listens on %[1]s; state is in %[2]s.
Demo hosts: demo-prod (production, 90-day retention) and demo-staging (logs, 3-day retention).

As the admin alice — an interactive shell, then a single command:
  %[3]s -t alice@%[4]s demo-staging
  %[3]s alice@%[4]s demo-staging -- uname -a

As the auditor carol — find the session, read it, replay it, export it, verify it:
  %[5]s carol@%[4]s audit sessions
  %[5]s carol@%[4]s audit show SESSION_ID
  %[5]s -t carol@%[4]s audit play SESSION_ID --speed 2
  %[5]s carol@%[4]s audit export SESSION_ID --format asciicast > session.cast
  %[5]s carol@%[4]s audit verify SESSION_ID

As the reviewer bob: four-eyes approval arrives with the next release; until then
demo-prod behaves like demo-staging.

The generated configuration is %[6]s. Press Ctrl-C to stop; data is kept.
`, st.SSHAddr(), st.Dir, ssh("alice"), host, ssh("carol"), filepath.Join(st.Dir, "foureyes.yaml"))
}
