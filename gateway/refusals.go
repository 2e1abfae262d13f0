package gateway

import (
	"strconv"

	"github.com/foureyes/foureyes/event"
)

// maxMetaValue bounds each meta value of a gateway event: many carry
// what a client chose (a host name, a forwarding address, a subsystem,
// a command line), and a packet may hold 256 KiB of it.
const maxMetaValue = 1024

// maxRecordedRefusals is how many refusals (access.denied,
// forward.denied) one connection gets recorded one by one; the rest are
// counted into its logout event, so that a logged-in client sending
// forwarding requests in a loop cannot fill the spool.
const maxRecordedRefusals = 32

// boundMeta returns meta with every value longer than maxMetaValue
// replaced by a quoted prefix and its length. meta itself is not
// changed: callers may reuse it.
func boundMeta(meta map[string]string) map[string]string {
	var out map[string]string
	for k, v := range meta {
		if len(v) <= maxMetaValue {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(meta))
			for k2, v2 := range meta {
				out[k2] = v2
			}
		}
		out[k] = strconv.Quote(v[:maxMetaValue]) + "…(" + strconv.Itoa(len(v)) + " bytes)"
	}
	if out == nil {
		return meta
	}
	return out
}

// recordRefusal records a refusal of a logged-in connection's request
// within the connection's budget, and counts it beyond. cs may be nil
// (no connection: tests), which records.
func (s *Server) recordRefusal(cs *connState, t event.Type, actor string, meta map[string]string) {
	if cs != nil {
		n := cs.refusals.Add(1)
		if n > maxRecordedRefusals {
			if n == maxRecordedRefusals+1 {
				s.log.Warn("refusals on this connection are only counted from now on", "remote", cs.remote, "user", actor, "recorded", maxRecordedRefusals)
			}
			return
		}
	}
	s.recordGateway(t, actor, meta)
}

// unrecordedRefusals returns how many refusals of cs were only counted.
func (cs *connState) unrecordedRefusals() int64 {
	return max(0, cs.refusals.Load()-maxRecordedRefusals)
}
