package ingest

import (
	"strings"

	"github.com/foureyes/foureyes/cmdline"
	"github.com/foureyes/foureyes/event"
)

// Kinds of commands rows.
const (
	commandTyped = "typed" // a line reconstructed from input
	commandExec  = "exec"  // the command of an exec session
	commandFile  = "file"  // a transfer or SFTP operation: line is the path
)

// Roles of participants rows.
const (
	roleStarted    = "started"    // the session's user
	roleApproved   = "approved"   // approval.grant, window.grant
	roleDenied     = "denied"     // approval.deny, window.deny
	roleViewed     = "viewed"     // approval.view: shown the pending request
	roleJoined     = "joined"     // participant.join
	roleTyped      = "typed"      // input
	roleTerminated = "terminated" // session.terminate by a reviewer
	roleRefused    = "refused"    // approval.refused: tried to join or approve, and policy said no
)

// commandRow holds the values of one commands row (see commandColumns).
type commandRow struct {
	session     string
	seq         uint64
	idx         uint32
	ts          int64 // unix seconds
	tsNs        int64
	kind        string
	host        string
	user        string
	actor       string
	typists     []string
	approximate uint8
	blind       uint32
	line        string
	detail      string
	class       string
	retention   uint16
}

// participantRow holds the values of one participants row (see
// participantColumns).
type participantRow struct {
	session   string
	name      string
	role      string
	seq       uint64
	ts        int64
	tsNs      int64
	host      string
	user      string
	kind      string
	class     string
	retention uint16
}

// commandRowOf returns the commands row of c, reconstructed in the session
// of st from event e (class and retention come from it).
func commandRowOf(st *searchState, e *event.Event, c *cmdline.Command) commandRow {
	r := commandRow{
		session: e.Session, seq: c.Seq, idx: uint32(c.Idx), ts: c.Time.Unix(), tsNs: c.Time.UnixNano(),
		kind: commandTyped, host: st.host, user: st.user, actor: c.Actor, typists: c.Typists,
		blind: uint32(max(c.Blind, 0)), line: c.Line, class: e.Class, retention: e.Retention,
	}
	if c.Exec {
		r.kind = commandExec
	}
	if c.Joined != "" {
		// The command the shell ran: the earlier lines have rows of
		// their own, so every line typed stays searchable.
		r.line = c.Joined
	}
	if len(r.typists) == 0 {
		r.typists = []string{c.Actor}
	}
	if c.Approximate {
		r.approximate = 1
	}
	return r
}

// fileRowOf returns the commands row of a transfer or file.op event.
func fileRowOf(st *searchState, e *event.Event) commandRow {
	m := e.Meta
	line := m["path"]
	if t := m["target"]; t != "" {
		line += " -> " + t
	}
	var detail []string
	for _, k := range []string{"via", "direction", "op", "status", "bytes_up", "bytes_down"} {
		if v := m[k]; v != "" {
			detail = append(detail, k+"="+v)
		}
	}
	return commandRow{
		session: e.Session, seq: e.Seq, ts: e.Time / 1e9, tsNs: e.Time, kind: commandFile,
		host: st.host, user: st.user, actor: e.Actor, typists: []string{e.Actor},
		line: line, detail: strings.Join(detail, " "), class: e.Class, retention: e.Retention,
	}
}

// roleOf returns the participant role e gives its actor, or "".
func roleOf(e *event.Event) (name, role string) {
	switch e.Type {
	case event.SessionStart:
		name, role = e.Meta["user"], roleStarted
		if name == "" {
			name = e.Actor
		}
		return name, role
	case event.ApprovalGrant, event.WindowGrant:
		role = roleApproved
	case event.ApprovalDeny, event.WindowDeny:
		role = roleDenied
	case event.ApprovalView:
		role = roleViewed
	case event.ParticipantJoin:
		role = roleJoined
	case event.Input:
		role = roleTyped
	case event.SessionTerminate:
		role = roleTerminated
	case event.ApprovalRefused:
		role = roleRefused
	default:
		return "", ""
	}
	return e.Actor, role
}

// windowApprovers returns the reviewers who approved the window a
// session.start says the session runs under (the gateway's meta
// approval=window, approvers=a,b), or nil.
func windowApprovers(e *event.Event) []string {
	if e.Type != event.SessionStart || e.Meta["approval"] != "window" {
		return nil
	}
	return splitList(e.Meta["approvers"])
}
