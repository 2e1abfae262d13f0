package retention

import "strings"

// Four eyes on early deletion. A hold keeps a session beyond its class;
// ending it early lets the next run drop the data, so one auditor alone
// may only end the holds they placed themselves. Someone else's hold
// ends in two steps: a release request (Hold.RequestedBy), then the
// confirmation of a different auditor (Hold.ConfirmedBy). Both steps run
// through `audit release`, whose command lines are recorded, chained and
// signed in the auditors' audit streams.
//
// The holds table keeps the state without a schema change: released_by
// holds "req:ALICE" while ALICE's request waits (released_ns 0),
// "ALICE|BOB" once BOB confirmed it, or the author's name for a release
// of their own hold. A row claiming a release by one auditor of someone
// else's hold is not valid: the hold stays active (Hold.Active and the
// job's activeHolds agree on that).

// Separators of the released_by encoding.
const (
	releaseSep = "|"
	requestTag = "req:"
)

// validReleaseSQL is validRelease over a holds row.
const validReleaseSQL = "released_by = placed_by OR (position(released_by, '|') > 0 AND " +
	"splitByChar('|', released_by)[1] != '' AND splitByChar('|', released_by)[2] != '' AND " +
	"splitByChar('|', released_by)[1] != splitByChar('|', released_by)[2])"

// validRelease reports whether h's release was made with the right number
// of eyes: by its author, or requested and confirmed by two auditors.
func (h Hold) validRelease() bool {
	if h.ReleasedBy == h.PlacedBy && h.ConfirmedBy == "" {
		return true
	}
	return h.ReleasedBy != "" && h.ConfirmedBy != "" && h.ReleasedBy != h.ConfirmedBy
}

// encodeRelease returns the released_by column of h.
func (h Hold) encodeRelease() string {
	switch {
	case h.Released.IsZero() && h.RequestedBy != "":
		return requestTag + h.RequestedBy
	case h.ConfirmedBy != "":
		return h.ReleasedBy + releaseSep + h.ConfirmedBy
	}
	return h.ReleasedBy
}

// decodeRelease sets the release fields of h from the released_by column
// read into h.ReleasedBy.
func (h *Hold) decodeRelease() {
	v := h.ReleasedBy
	h.ReleasedBy, h.ConfirmedBy, h.RequestedBy = "", "", ""
	switch {
	case h.Released.IsZero():
		h.RequestedBy, _ = strings.CutPrefix(v, requestTag)
		if h.RequestedBy == v { // not a request: a malformed row
			h.RequestedBy = ""
		}
	case strings.Contains(v, releaseSep):
		h.ReleasedBy, h.ConfirmedBy, _ = strings.Cut(v, releaseSep)
	default:
		h.ReleasedBy = v
	}
}
