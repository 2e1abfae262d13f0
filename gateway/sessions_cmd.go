package gateway

import (
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/foureyes/foureyes/event"
)

// isReviewer reports whether any of the user's roles grants `approve`.
func (sess *clientSession) isReviewer() bool {
	for _, name := range sess.user.Roles {
		if r, ok := sess.s.cfg.Roles[name]; ok && len(r.Approve) > 0 {
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
	return sess.s.cfg.CanApproveSession(sess.user, hb.host, hb.pol) && !sess.isOwner(hb)
}

// isOwner reports whether hb was requested by this user, or with the
// key this connection logged in with (a key shared between accounts).
func (sess *clientSession) isOwner(hb *hub) bool {
	return sess.user.Name == hb.owner || (sess.keyFP != "" && sess.keyFP == hb.ownerKey)
}

// listSessions prints the four-eyes sessions the user may review:
// pending ones first, then running ones. Sessions on hosts the user may
// not review, and their own, are not shown.
func (sess *clientSession) listSessions(args string) exitResult {
	if res, refused := sess.refuseNonReviewer("sessions", args); refused {
		return res
	}
	var list []hubInfo
	for _, hb := range sess.s.hubs.all() {
		if !sess.mayReview(hb) {
			continue
		}
		if in := hb.info(); in.state != stateAsking && in.state != stateEnded {
			list = append(list, in)
		}
	}
	w := newTextWriter(sess.ch, sess.pty != nil)
	if len(list) == 0 {
		fmt.Fprintln(w, "No sessions waiting for review.")
		return exitResult{}
	}
	sort.Slice(list, func(i, j int) bool {
		if (list[i].state == statePending) != (list[j].state == statePending) {
			return list[i].state == statePending
		}
		return list[i].since.Before(list[j].since)
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tHOST\tLOGIN\tSTATE\tWAITING SINCE\tAPPROVALS\tREASON")
	for _, in := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s (%s)\t%d/%d\t%s\n", in.id, in.owner, in.host, in.login, in.state,
			in.since.UTC().Format(time.RFC3339), now().Sub(in.since).Round(time.Second), len(in.granted), in.count, in.reason)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nJoin one with: ssh -t BASTION join ID [--mode observer|peer]")
	return exitResult{}
}
