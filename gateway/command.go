package gateway

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/foureyes/foureyes/config"
)

// parseCommand splits the SSH command line into its first word (a host
// name or a bastion verb) and the rest. An optional "--" right after the
// first word is dropped; the rest is otherwise verbatim, quotes and all,
// because the host's shell will parse it.
//
//	"demo"                 → "demo", ""
//	"demo -- uname -a"     → "demo", "uname -a"
//	"demo echo 'a  b'"     → "demo", "echo 'a  b'"
//	"audit show abc"       → "audit", "show abc"
func parseCommand(raw string) (first, rest string) {
	s := strings.TrimLeft(raw, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	first, rest = s[:i], strings.TrimLeft(s[i:], " \t")
	if rest == "--" {
		return first, ""
	}
	if strings.HasPrefix(rest, "--") && len(rest) > 2 && (rest[2] == ' ' || rest[2] == '\t') {
		rest = strings.TrimLeft(rest[2:], " \t")
	}
	return first, rest
}

// verb is a bastion command: a reserved first word instead of a host name.
type verb struct {
	name    string
	usage   string // shown in help, after "ssh BASTION "
	summary string
	run     func(sess *clientSession, args string) exitResult
}

// verbs is the dispatch table. config rejects host names equal to a verb.
var verbs []verb

func init() {
	verbs = []verb{
		{"audit", "audit VERB [ARGS]", "search, replay, export and verify recordings (auditors)", (*clientSession).audit},
		{"sessions", "sessions [--json]", "list sessions you may review (reviewers)", (*clientSession).listSessions},
		{"join", "join SESSION_ID [--mode observer|peer]", "review a session: approve or deny, then watch (reviewers)", (*clientSession).join},
		{"unlock", "unlock [USER|ADDRESS]", "list login lockouts, or lift one (admins)", (*clientSession).unlock},
		{"kill", "kill [SESSION_ID [--reason TEXT]]", "list live sessions, or end one (roles with kill)", (*clientSession).kill},
		{"request", "request HOST[,HOST|SELECTOR] --for 30m --reason TEXT", "ask for an approval window: reviewed access for automation (--end ID ends one)", (*clientSession).request},
		{"config", "config [--prefix PREFIX]", "print ssh_config for the hosts you may reach (for scp, sftp, rsync, git, Ansible)", (*clientSession).sshConfig},
		{"help", "help", "this help", (*clientSession).help},
	}
}

// mayUse reports whether user's roles in cfg allow the verb (the help
// lists only those; the verbs check again when run; revocation ends a
// running verb the roles no longer allow).
func mayUse(cfg *config.Config, user *config.User, verb string) bool {
	switch {
	case user == nil:
		return verb == "help"
	case verb == "audit":
		return cfg.CanAudit(user)
	case verb == "kill":
		return cfg.CanKill(user)
	case verb == "sessions" || verb == "join":
		return isReviewer(cfg, user)
	case verb == "unlock":
		return cfg.CanUnlock(user)
	case verb == "request":
		return mayRequestWindow(cfg, user)
	}
	return true
}

// lookupVerb returns the verb named name.
func lookupVerb(name string) (verb, bool) {
	for _, v := range verbs {
		if v.name == name {
			return v, true
		}
	}
	return verb{}, false
}

// dispatch runs what the command line asks for and returns how it ended.
func (sess *clientSession) dispatch() exitResult {
	if sess.subsystem != "" {
		return sess.sftpSession()
	}
	if limit := sess.s.maxCommandBytes(); len(sess.command) > limit {
		return sess.refuseLongCommand(limit)
	}
	if sess.target != "" {
		return sess.connect(sess.target, sess.command)
	}
	first, rest := parseCommand(sess.command)
	if first == "" {
		return sess.help("")
	}
	if v, ok := lookupVerb(first); ok {
		return v.run(sess, rest)
	}
	return sess.connect(first, rest)
}

// help prints the hosts the user may reach and the bastion commands.
func (sess *clientSession) help(string) exitResult {
	w := newTextWriter(sess.ch, sess.pty != nil)
	writeHelp(w, sess.s, sess.user.Name)
	return exitResult{status: 0}
}

// writeHelp writes the help text for user: the hosts they may reach
// (marking those that need a reviewer's approval) and the commands their
// roles allow.
func writeHelp(w io.Writer, s *Server, userName string) {
	user, _ := s.cfg().User(userName)
	var hosts []*config.Host
	for i := range s.cfg().Hosts {
		if h := &s.cfg().Hosts[i]; user != nil && s.cfg().CanConnect(user, h) {
			hosts = append(hosts, h)
		}
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	fmt.Fprintf(w, "foureyes bastion (%s). You are %s.\n\n", s.cfg().Gateway.ID, userName)
	if len(hosts) == 0 {
		fmt.Fprintf(w, "You may not connect to any host.\n")
	} else {
		fmt.Fprintf(w, "Hosts you may connect to:\n")
		width := 0
		for _, h := range hosts {
			width = max(width, len(h.Name))
		}
		for _, h := range hosts {
			if pol, ok := s.cfg().ApprovalPolicy(h); ok && !pol.RequiresExecApproval() {
				fmt.Fprintf(w, "  %-*s  four-eyes: a reviewer must approve first (commands without -t excepted)\n", width, h.Name)
			} else if ok {
				fmt.Fprintf(w, "  %-*s  four-eyes: a reviewer must approve first\n", width, h.Name)
			} else {
				fmt.Fprintf(w, "  %s\n", h.Name)
			}
		}
	}
	fmt.Fprintf(w, "\nUsage:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(hosts) > 0 {
		fmt.Fprintf(tw, "  ssh -t BASTION HOST\tinteractive shell on HOST\n")
		fmt.Fprintf(tw, "  ssh BASTION HOST -- COMMAND\trun COMMAND on HOST\n")
	}
	for _, v := range verbs {
		if mayUse(s.cfg(), user, v.name) {
			fmt.Fprintf(tw, "  ssh BASTION %s\t%s\n", v.usage, v.summary)
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\nEverything you do through this bastion is recorded.\n")
}
