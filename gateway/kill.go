package gateway

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/anmitsu/go-shlex"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/termsafe"
)

// maxKillReason bounds the reason an admin gives to kill.
const maxKillReason = 200

// errNoKillID is kill without a session id: it lists the live sessions.
var errNoKillID = errors.New("give the session id")

// kill ends one live session, `kill SESSION_ID [--reason TEXT]`, for
// members of a role with kill: true; without an id it lists them. The session's user is told who
// ended it and why; its stream records session.terminate with the admin
// as actor, and the gateway's stream records the order. A refusal is
// recorded as access.denied.
func (sess *clientSession) kill(rest string) exitResult {
	s, user := sess.s, sess.user.Name
	id, reason, err := parseKillArgs(rest)
	if u, ok := s.cfg().User(user); !ok || !s.cfg().CanKill(u) {
		s.recordGateway(event.AccessDenied, user, map[string]string{"user": user, "host": "", "reason": "kill requires a role with kill: true", "command": "kill " + termsafe.Text(rest), "session": termsafe.Text(id), "remote": sess.remote})
		return sess.refuse(userErrorf(ErrAccessDenied, "kill denied for %s: no role with the kill permission", user))
	}
	if errors.Is(err, errNoKillID) {
		sess.listKillable()
		return exitResult{}
	}
	if err != nil {
		return sess.refuse(userErrorf(err, "kill: %v; usage: kill SESSION_ID [--reason TEXT]", err))
	}
	o := &endOrder{by: user, reason: "killed by " + user, msg: "session terminated by " + user}
	if reason != "" {
		o.reason += ": " + reason
		o.msg += ": " + reason
	}
	meta := map[string]string{"session": id, "reason": o.reason, "remote": sess.remote}
	if hb, ok := s.hubs.get(id); ok {
		if !hb.endOn(o) {
			return sess.refuse(userErrorf(nil, "session %s is already ending", id))
		}
	} else if win, ok := s.windows.get(id); ok {
		if !win.end(user, o.reason, "approval window "+id+" ended: "+o.reason) {
			return sess.refuse(userErrorf(nil, "approval window %s is already ending", id))
		}
		meta["window"] = id
	} else if target, ok := s.live.byID(id); ok {
		s.endSession(target, o)
		meta["user"] = target.name
	} else if tun, ok := s.tunnels.byID(id); ok {
		tun.cancel(o)
		meta["user"], meta["tunnel"] = tun.user, tun.dest
	} else {
		return sess.refuse(userErrorf(nil, "no live session %s; `sessions` lists four-eyes ones, `audit sessions` all", printableID(id)))
	}
	s.recordGateway(event.SessionTerminate, user, meta)
	sess.say("session " + id + " terminated")
	return exitResult{}
}

// parseKillArgs splits "SESSION_ID [--reason TEXT]"; TEXT is the rest of
// the line.
func parseKillArgs(rest string) (id, reason string, err error) {
	args, err := shlex.Split(rest, true)
	if err != nil {
		return "", "", err
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--reason" || strings.HasPrefix(a, "--reason="):
			// The rest of the line: ssh joins the words unquoted.
			reason = strings.Join(append([]string{strings.TrimPrefix(strings.TrimPrefix(a, "--reason"), "=")}, args[i+1:]...), " ")
			i = len(args)
		case strings.HasPrefix(a, "-"):
			return "", "", errors.New("unknown option " + printableID(a))
		case id == "":
			id = a
		default:
			return "", "", errors.New("one session id at a time")
		}
	}
	if id == "" {
		return "", "", errNoKillID
	}
	if reason = strings.TrimSpace(reason); reason != "" {
		reason = termsafe.Text(reason) // shown to the session's people as is
	}
	if len(reason) > maxKillReason {
		reason = strings.ToValidUTF8(reason[:maxKillReason], "")
	}
	return id, reason, nil
}

// listKillable prints the live sessions kill can end, one per line:
// id, user, host, kind (shell, exec, four-eyes STATE).
func (sess *clientSession) listKillable() {
	s := sess.s
	type row struct{ id, user, host, kind string }
	var rows []row
	for _, hb := range s.hubs.all() {
		kind := "four-eyes " + hb.current().String()
		if hb.win != nil {
			kind = "window " + hb.win.id
		}
		rows = append(rows, row{hb.id, hb.owner, hb.host.Name, kind})
	}
	for _, w := range s.windows.all() {
		in := w.info()
		rows = append(rows, row{in.id, in.owner, strings.Join(in.hosts, ","), "approval window " + in.state.String()})
	}
	s.live.mu.Lock()
	for other, info := range s.live.sessions {
		if info.id != "" && info.hub == nil && info.win == nil {
			host, remote := other.route() // set before the recording started
			kind := "shell"
			if remote != "" {
				kind = "exec"
			}
			rows = append(rows, row{info.id, other.name, host, kind})
		}
	}
	s.live.mu.Unlock()
	for id, t := range s.tunnels.named() {
		rows = append(rows, row{id, t.user, t.host, "tunnel " + t.dest})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].id < rows[j].id })
	w := newTextWriter(sess.ch, sess.pty != nil)
	if len(rows) == 0 {
		fmt.Fprintln(w, "No live sessions.")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.id, r.user, r.host, r.kind)
	}
	tw.Flush()
	fmt.Fprintln(w, "End one with: kill SESSION_ID [--reason TEXT]")
}
