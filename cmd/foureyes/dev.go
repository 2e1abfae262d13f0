package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/foureyes/foureyes/internal/devstack"
	"github.com/foureyes/foureyes/internal/reloadctl"
)

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", stderr)
	data := fs.String("data", "", "state `DIR` (keys, spool, Kafka and ClickHouse data); required")
	addr := fs.String("ssh-addr", "127.0.0.1:2222", "gateway SSH listen `ADDR`")
	level := logLevel(fs, slog.LevelWarn)
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
	printInstructions(stdout, *data, st.SSHAddr())
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
// dev stack whose state is in dir (as the user typed it: the commands are
// as short as the path) and whose gateway listens on addr. Every line that
// starts with "  ssh " is a complete shell command; each uses the
// ssh_config the stack wrote (one Host alias per demo user, the gateway's
// key pinned).
func printInstructions(w io.Writer, dir, addr string) {
	ssh := "ssh -F " + shellQuote(filepath.Join(dir, devstack.SSHConfigName))
	fmt.Fprintf(w, `
foureyes dev is up. The gateway listens on %[1]s; state is in %[2]s.
Demo hosts: demo-prod (production, 90-day retention, four-eyes) and demo-staging (logs, 3-day retention).
The commands below use %[4]s: one Host alias per demo user (alice, bob, carol)
with its key, and the gateway's host key pinned (%[5]s).

1. As the admin alice — demo-staging needs no approval:
  %[3]s -t alice demo-staging
  %[3]s alice demo-staging -- uname -a

2. Four-eyes on demo-prod. In one terminal, alice asks (she types a reason, then waits;
   nothing reaches the host yet; Ctrl-C cancels):
  %[3]s -t alice demo-prod
   In a second terminal, the reviewer bob lists what waits and joins with the id alice sees:
  %[3]s bob sessions
  %[3]s -t bob join SESSION_ID                 # watch only
  %[3]s -t bob join SESSION_ID --mode peer     # bob may type too
   bob sees who asks, for which host and login, why and since when, and answers y or n
   (n asks for an optional reason that alice sees). Once approved, both see the same
   terminal. bob's hotkeys: Ctrl-] t terminates the session for everyone, Ctrl-] q
   leaves (alice's input freezes until bob rejoins; after 5 minutes the session ends).
   A request nobody approves expires after 15 minutes.
   Commands need approval too; give the reason without a prompt:
  %[3]s -o 'SetEnv=FOUREYES_REASON="restart cron"' alice demo-prod -- uptime

3. As the auditor carol — find the session, read it (approvals, joins and leaves
   included), replay it, export it, verify it:
  %[3]s carol audit sessions
  %[3]s carol audit show SESSION_ID
  %[3]s -t carol audit play SESSION_ID --speed 2
  %[3]s carol audit export SESSION_ID --format asciicast > session.cast
  %[3]s carol audit verify SESSION_ID

4. Every tool, the hosts by their plain names. %[7]s holds, per user, what
   "ssh USER@BASTION config" prints (a Host block per host they may reach; the bastion's
   key is the one checked), plus their key. Put alice's first in ~/.ssh/config:
  %[8]s
   and "scp f demo-staging:", "rsync -a d/ demo-staging:d/", "git clone demo-staging:repo.git"
   and Ansible take the plain names. Without it, name the file with -F. As alice — scp and
   sftp speak SFTP (no -O needed); each file's size and SHA-256 is recorded, not its content:
  scp -F %[11]s %[9]s demo-staging:
  %[10]s
  ansible all -i demo-staging, -m ping --ssh-common-args=%[12]s
   demo-prod is four-eyes: automation there runs inside an approval window that bob approves:
  %[3]s alice request demo-prod --for 30m --reason 'ansible run'
   bob (reviewer) and carol (auditor) reach no host: their files list none. See docs/tools.md.

The four-eyes flow is described in docs/four-eyes.md. The generated configuration is
%[6]s; edit it and send SIGHUP (or run foureyes reload --config on it) to apply the
change until the next start. Press Ctrl-C to stop; data is kept.
`, addr, dir, ssh, filepath.Join(dir, devstack.SSHConfigName), filepath.Join(dir, devstack.KnownHostsName), filepath.Join(dir, "foureyes.yaml"),
		filepath.Join(dir, devstack.UserConfigDir), includeLine(devstack.UserConfig(dir, "alice")),
		shellQuote(filepath.Join(dir, "keys", "alice.pub")), rsyncExample(filepath.Join(dir, devstack.UserConfigDir), devstack.UserConfig(dir, "alice")),
		shellQuote(devstack.UserConfig(dir, "alice")), shellQuote("-F "+shellQuote(devstack.UserConfig(dir, "alice"))))
}

// rsyncExample is the one-line rsync example: copy dir to demo-staging
// with the ssh_config cfg. rsync splits -e itself, honouring single and
// double quotes but no backslash: a path holding both quote characters
// cannot be given, and the line says to use the Include instead.
func rsyncExample(dir, cfg string) string {
	e := "ssh -F " + cfg
	if strings.ContainsAny(cfg, " \t'\"\\") {
		switch {
		case !strings.Contains(cfg, `"`):
			e = `ssh -F "` + cfg + `"`
		case !strings.Contains(cfg, "'"):
			e = "ssh -F '" + cfg + "'"
		default:
			return "# rsync: the state directory's name holds both quote characters; use the Include line above"
		}
	}
	return "rsync -a -e " + shellQuote(e) + " " + shellQuote(dir+"/") + " demo-staging:copy/"
}

// includeLine is the ssh_config line that includes path, made absolute
// (Include reads relative paths under ~/.ssh) and in double quotes when
// it holds whitespace or quotes. Include expands no %-tokens.
func includeLine(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if strings.ContainsAny(path, " \t\"'\\#") {
		path = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(path) + `"`
	}
	return "Include " + path
}

// shellQuote quotes s for a POSIX shell when it holds anything but the
// characters of ordinary paths.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
