package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"

	"github.com/foureyes/foureyes/internal/devstack"
	"github.com/foureyes/foureyes/internal/reloadctl"
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
	// SIGHUP (or `foureyes reload --config DIR/foureyes.yaml`) applies
	// edits of the generated configuration until the next start.
	hup, err := reloadctl.Listen(st.Config.Gateway.DataDir)
	if err != nil {
		st.Close()
		return err
	}
	defer hup.Close()
	hupCtx, stopHup := context.WithCancel(ctx)
	hupDone := make(chan struct{})
	go func() {
		defer close(hupDone)
		hup.Serve(hupCtx, st.Reload)
	}()
	defer func() {
		stopHup()
		<-hupDone
	}()
	printInstructions(stdout, st.Dir, st.SSHAddr())
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

// printInstructions prints the copy-paste commands for each role of the
// dev stack whose state is in dir and whose gateway listens on addr. Every
// line that starts with "  ssh " is a complete shell command.
func printInstructions(w io.Writer, dir, addr string) {
	host, port, _ := net.SplitHostPort(addr)
	keys := filepath.Join(dir, "keys")
	ssh := func(user string) string {
		return fmt.Sprintf("ssh -i %s -p %s -o %s -o StrictHostKeyChecking=accept-new",
			shellQuote(filepath.Join(keys, user)), port, shellQuote("UserKnownHostsFile="+sshConfigQuote(filepath.Join(dir, "known_hosts"))))
	}
	fmt.Fprintf(w, `
foureyes dev is up. The gateway listens on %[1]s; state is in %[2]s.
Demo hosts: demo-prod (production, 90-day retention, four-eyes) and demo-staging (logs, 3-day retention).

1. As the admin alice — demo-staging needs no approval:
  %[3]s -t alice@%[4]s demo-staging
  %[3]s alice@%[4]s demo-staging -- uname -a

2. Four-eyes on demo-prod. In one terminal, alice asks (she types a reason, then waits;
   nothing reaches the host yet; Ctrl-C cancels):
  %[3]s -t alice@%[4]s demo-prod
   In a second terminal, the reviewer bob lists what waits and joins with the id alice sees:
  %[5]s bob@%[4]s sessions
  %[5]s -t bob@%[4]s join SESSION_ID                 # watch only
  %[5]s -t bob@%[4]s join SESSION_ID --mode peer     # bob may type too
   bob sees who asks, for which host and login, why and since when, and answers y or n
   (n asks for an optional reason that alice sees). Once approved, both see the same
   terminal. bob's hotkeys: Ctrl-] t terminates the session for everyone, Ctrl-] q
   leaves (alice's input freezes until bob rejoins; after 5 minutes the session ends).
   A request nobody approves expires after 15 minutes.
   Commands need approval too; give the reason without a prompt:
  %[3]s -o 'SetEnv=FOUREYES_REASON="restart cron"' alice@%[4]s demo-prod -- uptime

3. As the auditor carol — find the session, read it (approvals, joins and leaves
   included), replay it, export it, verify it:
  %[6]s carol@%[4]s audit sessions
  %[6]s carol@%[4]s audit show SESSION_ID
  %[6]s -t carol@%[4]s audit play SESSION_ID --speed 2
  %[6]s carol@%[4]s audit export SESSION_ID --format asciicast > session.cast
  %[6]s carol@%[4]s audit verify SESSION_ID

The four-eyes flow is described in docs/four-eyes.md. The generated configuration is
%[7]s; edit it and send SIGHUP (or run foureyes reload --config on it) to apply the
change until the next start. Press Ctrl-C to stop; data is kept.
`, addr, dir, ssh("alice"), host, ssh("bob"), ssh("carol"), filepath.Join(dir, "foureyes.yaml"))
}

// shellQuote quotes s for a POSIX shell when it holds anything but the
// characters of ordinary paths.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sshConfigQuote quotes s as an ssh_config value (what -o takes) when it
// holds whitespace or quotes, which would otherwise split or end it.
func sshConfigQuote(s string) string {
	if !strings.ContainsAny(s, " \t\"'\\") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
