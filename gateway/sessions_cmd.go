package gateway

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/termsafe"
)

// isReviewer reports whether any of the user's roles grants `approve`.
func (sess *clientSession) isReviewer() bool { return isReviewer(sess.s.cfg(), sess.user) }

// isReviewer reports whether any of u's roles grants `approve`.
func isReviewer(cfg *config.Config, u *config.User) bool {
	for _, name := range u.Roles {
		if r, ok := cfg.Roles[name]; ok && len(r.Approve) > 0 {
			return true
		}
	}
	return false
}

// refuseNonReviewer refuses a reviewer command to a user without any
// approve grant, recording access.denied. It returns false for reviewers.
func (sess *clientSession) refuseNonReviewer(verb, args string) (exitResult, bool) {
	if sess.isReviewer() {
		return exitResult{}, false
	}
	user := sess.user.Name
	line := verb
	if args != "" {
		line += " " + args
	}
	sess.s.recordGateway(event.AccessDenied, user, map[string]string{"user": user, "host": "", "reason": verb + " requires a role with approve", "command": line, "remote": sess.remote})
	return sess.refuse(userErrorf(ErrAccessDenied, "%s denied for %s: no reviewer role", verb, user)), true
}

// mayReview reports whether the user may see, join and approve hb: a
// role grants approve for its host (and the policy's approver_roles
// admit them), and it is not their own session.
func (sess *clientSession) mayReview(hb *hub) bool {
	return sess.s.cfg().CanApproveSession(sess.user, hb.host, hb.pol) && !sess.isOwner(hb)
}

// isOwner reports whether hb was requested by this person (the same user
// or an account sharing a key with it: samePerson), or with the
// key this connection logged in with (a key shared between accounts).
func (sess *clientSession) isOwner(hb *hub) bool {
	return sess.s.samePerson(sess.user.Name, hb.owner) || (sess.keyFP != "" && sess.keyFP == hb.ownerKey)
}

// localAddr is where the client reached the bastion; nil without a
// connection (tests).
func (sess *clientSession) localAddr() net.Addr {
	if sess.cs == nil {
		return nil
	}
	return sess.cs.raw.LocalAddr()
}

// reviewItem is one line of `sessions --json`.
type reviewItem struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Host      string    `json:"host"`
	Login     string    `json:"login"`
	State     string    `json:"state"`
	Since     time.Time `json:"since"`
	Approvals int       `json:"approvals"`
	Required  int       `json:"required"`
	Reason    string    `json:"reason"`
	Command   string    `json:"command,omitempty"` // exec sessions
	// CommandQuoted is Command as termsafe.Quote shows it: every byte,
	// invalid UTF-8 included.
	CommandQuoted string   `json:"command_quoted,omitempty"`
	Watching      []string `json:"watching"` // "user (mode)"
	Join          string   `json:"join"`
	// Kind is "session", or "window" for an approval window (Host then
	// lists its hosts, comma-separated, and State is pending or open).
	Kind string `json:"kind"`
	// Window is the approval window a session runs under, if any.
	Window string `json:"window,omitempty"`
	// Until is when an open window ends.
	Until *time.Time `json:"until,omitempty"`
}

// listSessions prints the four-eyes sessions the user may review:
// pending ones first, then running ones. Sessions on hosts the user may
// not review, and their own, are not shown. With --json, one JSON object
// per line.
func (sess *clientSession) listSessions(args string) exitResult {
	if res, refused := sess.refuseNonReviewer("sessions", args); refused {
		return res
	}
	asJSON := false
	switch strings.TrimSpace(args) {
	case "":
	case "--json":
		asJSON = true
	default:
		return sess.refuse(userErrorf(nil, "usage: sessions [--json]"))
	}
	var list []hubInfo
	under := map[string]string{} // session id → its approval window
	for _, hb := range sess.s.hubs.all() {
		if !sess.mayReview(hb) {
			continue
		}
		if in := hb.info(); in.state != stateAsking && in.state != stateEnded {
			list = append(list, in)
			if hb.win != nil {
				under[in.id] = hb.win.id
			}
		}
	}
	wins := sess.reviewableWindows()
	sort.Slice(list, func(i, j int) bool {
		if (list[i].state == statePending) != (list[j].state == statePending) {
			return list[i].state == statePending
		}
		return list[i].since.Before(list[j].since)
	})
	local := sess.localAddr()
	join := func(id string) string { return sess.s.joinCommand(sess.user.Name, id, local) }
	w := newTextWriter(sess.ch, sess.pty != nil)
	if asJSON {
		// One object per line, in ASCII: non-ASCII characters are \u
		// escapes, so that a person reading the JSON is not fooled by a
		// bidi override or a zero-width space.
		for _, in := range wins {
			item := reviewItem{
				ID: in.id, User: in.owner, Host: strings.Join(in.hosts, ","), State: in.state.String(),
				Since: in.since.UTC(), Approvals: len(in.granted), Required: in.count, Reason: in.reason,
				Watching: []string{}, Join: join(in.id), Kind: "window",
			}
			if in.state == windowOpen {
				u := in.until.UTC()
				item.Until = &u
			}
			b, err := json.Marshal(item)
			if err != nil {
				return sess.refuse(userErrorf(err, "sessions: %v", err))
			}
			w.Write(append(termsafe.ASCIIJSON(b), '\n'))
		}
		for _, in := range list {
			b, err := json.Marshal(reviewItem{
				ID: in.id, User: in.owner, Host: in.host, Login: in.login, State: in.state.String(),
				Since: in.since.UTC(), Approvals: len(in.granted), Required: in.count,
				Reason: in.reason, Command: in.command, CommandQuoted: quoteNonEmpty(in.command),
				Watching: append([]string{}, in.watching...), Join: join(in.id), Kind: "session", Window: under[in.id],
			})
			if err != nil {
				return sess.refuse(userErrorf(err, "sessions: %v", err))
			}
			w.Write(append(termsafe.ASCIIJSON(b), '\n'))
		}
		return exitResult{}
	}
	if len(wins) > 0 {
		sess.writeWindowList(w, wins)
	}
	if len(list) == 0 {
		fmt.Fprintln(w, "No sessions waiting for review.")
		return exitResult{}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tHOST\tLOGIN\tSTATE\tWAITING SINCE\tAPPROVALS\tREASON\tCOMMAND")
	for _, in := range list {
		cmd := "(shell)"
		switch {
		case in.sftp:
			cmd = "(sftp)"
		case in.command != "":
			cmd = termsafe.Quote(in.command)
		}
		if wid := under[in.id]; wid != "" {
			cmd += " [window " + wid + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s (%s)\t%d/%d\t%s\t%s\n", in.id, termsafe.Text(in.owner), termsafe.Text(in.host),
			termsafe.Text(in.login), in.state, in.since.UTC().Format(time.RFC3339), now().Sub(in.since).Round(time.Second),
			len(in.granted), in.count, termsafe.Text(in.reason), cmd)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nJoin one with: %s [--mode observer|peer]\n", join("ID"))
	return exitResult{}
}
