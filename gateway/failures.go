package gateway

import (
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/guard"
)

// Failed logins are aggregated per source (guard.FailureReporter): the
// first failure of a burst is an auth.failure event at once, with the
// user, key, method and reason; the following ones from that source are
// counted, and each interval (limits.failure_report_interval) that had
// any ends with one auth.failure summary (meta aggregated "true", count,
// users, methods, reasons as JSON objects of counts, first, last). A
// flood of failures costs the spool one event per source and interval.

// reportFailure records a refused attempt of cs, or counts it into its
// source's summary. user is bounded and escaped here.
func (s *Server) reportFailure(cs *connState, user, fingerprint, method, reason string) {
	safe := guard.SafeName(user, s.cfg().Limits.MaxUserName)
	if user == "" {
		safe = ""
	}
	if !s.authFails.Report(guard.Failure{Source: cs.source, User: safe, Method: method, Reason: reason}) {
		return
	}
	meta := map[string]string{"user": safe, "method": method, "reason": reason, "remote": cs.remote}
	if fingerprint != "" {
		meta["key"] = fingerprint
	}
	s.recordGateway(event.AuthFailure, "", meta)
}

// refusedConn reports a connection the listener closed over a limit of
// unauthenticated connections. It runs on the accept loop: most calls
// only count.
func (s *Server) refusedConn(source string, remote net.Addr, err error) {
	reason := "too many unauthenticated connections (limits.max_unauthenticated)"
	switch {
	case errors.Is(err, guard.ErrTooManyFromSource):
		reason = "too many unauthenticated connections from this source (limits.max_unauthenticated_per_source)"
	case errors.Is(err, guard.ErrTooFastFromSource):
		reason = "too many new connections from this source (limits.connection_rate_per_source)"
	}
	if s.authFails.Report(guard.Failure{Source: source, Method: "connect", Reason: reason}) {
		s.recordGateway(event.AuthFailure, "", map[string]string{"user": "", "method": "connect", "reason": reason, "remote": remote.String()})
	}
}

// reportFailures writes the summaries of failure bursts as their
// intervals end, until the server closes; then the pending ones.
func (s *Server) reportFailures() {
	tick := time.NewTicker(min(time.Second, s.cfg().Limits.FailureReportInterval))
	defer tick.Stop()
	for {
		select {
		case <-s.base.Done():
			s.recordSummaries(s.authFails.Flush())
			return
		case <-tick.C:
			s.recordSummaries(s.authFails.Due())
		}
	}
}

// recordSummaries writes one auth.failure per summary.
func (s *Server) recordSummaries(sums []guard.Summary) {
	for _, sum := range sums {
		meta := map[string]string{
			"aggregated": "true",
			"remote":     sum.Source,
			"count":      strconv.Itoa(sum.Count),
			"users":      jsonCounts(sum.Users),
			"methods":    jsonCounts(sum.Methods),
			"reasons":    jsonCounts(sum.Reasons),
			"first":      sum.First.UTC().Format(time.RFC3339Nano),
			"last":       sum.Last.UTC().Format(time.RFC3339Nano),
			"interval":   s.cfg().Limits.FailureReportInterval.String(),
		}
		if sum.OtherUsers > 0 {
			meta["other_users"] = strconv.Itoa(sum.OtherUsers)
		}
		s.recordGateway(event.AuthFailure, "", meta)
	}
}

// jsonCounts encodes counts as a JSON object (keys sorted).
func jsonCounts(m map[string]int) string {
	b, err := json.Marshal(m)
	if err != nil {
		return "{}"
	}
	return string(b)
}
