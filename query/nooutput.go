package query

import (
	"fmt"

	"github.com/foureyes/foureyes/event"
)

// maxReasonRunes bounds a recorded reason quoted in a one-line message.
const maxReasonRunes = 80

// noOutputReason says, when the events tell, why a session has no output
// to replay: a four-eyes request that never reached the host (denied,
// expired, cancelled, still pending), a termination, a stream that is
// not a terminal session (the gateway's own, an auditor's), an open
// session, an interrupted one or an exec that printed nothing. It returns
// "" when the events do not say. The result is safe to print.
func noOutputReason(evs []event.Event) string {
	var (
		kind, command, exit string
		requested, granted  bool
		ended, interrupted  bool
		outcome             string // the end of a four-eyes request or a termination
	)
	for i := range evs {
		e := &evs[i]
		switch e.Type {
		case event.SessionStart:
			kind = e.Meta["kind"]
		case event.Exec:
			command = string(e.Data)
		case event.ApprovalRequest:
			requested = true
		case event.ApprovalGrant:
			granted = true
		case event.ApprovalDeny:
			outcome = withReason("denied by "+actorText(e.Actor), e.Meta["reason"])
		case event.ApprovalExpire:
			outcome = "request expired unapproved"
			if t := e.Meta["pending_timeout"]; t != "" {
				outcome += " after " + printable(t)
			}
		case event.ApprovalCancel:
			outcome = withReason("request cancelled by "+actorText(e.Actor), e.Meta["reason"])
		case event.SessionTerminate:
			if outcome == "" {
				by := "by policy"
				if e.Actor != "" {
					by = "by " + printable(e.Actor)
				}
				outcome = withReason("terminated "+by, e.Meta["reason"])
			}
		case event.SessionEnd:
			ended = true
			exit = e.Meta["exit_status"]
			interrupted = e.Meta["interrupted"] == "true"
		}
	}
	switch {
	case outcome != "":
		return outcome
	case kind != "" && kind != "shell" && kind != "exec":
		return "kind " + printable(kind)
	case requested && !granted && !ended:
		return "waiting for approval"
	case !ended:
		return "still open"
	case interrupted:
		return "interrupted: closed by the recorder after a crash"
	case command != "" && exit != "":
		return fmt.Sprintf("exec %q printed nothing, exit status %s", truncateRunes(command, maxReasonRunes), printable(exit))
	}
	return ""
}

// actorText is an actor for a message; "unknown" when not recorded.
func actorText(a string) string {
	if a == "" {
		return "unknown"
	}
	return printable(a)
}

// withReason appends a recorded reason, shortened and made printable.
func withReason(s, reason string) string {
	if reason == "" {
		return s
	}
	return s + ": " + printable(truncateRunes(reason, maxReasonRunes))
}
