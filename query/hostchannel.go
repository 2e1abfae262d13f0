package query

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/foureyes/foureyes/event"
)

// A host may keep an ended session's channel open (gateway/leftopen.go):
// the gateway then records host_channel_open ("true") and
// host_channel_action (what it did about the login) in the session's
// session.end. show warns about it; sessions and search --json carry it
// per session, and sessions --host-channel-open lists every such session.

// session.end meta written by the gateway (gateway/leftopen.go).
const (
	metaHostChannelOpen   = "host_channel_open"
	metaHostChannelAction = "host_channel_action"
)

// hostChannel is what a session.end says of the host's channel.
type hostChannel struct {
	Open   bool   // the host kept the channel open after the end
	Action string // login_closed, login_retired; as recorded, unescaped
}

// hostChannelOf reads the host channel fields of a session.end's meta.
func hostChannelOf(meta map[string]string) hostChannel {
	if meta[metaHostChannelOpen] != "true" {
		return hostChannel{}
	}
	return hostChannel{Open: true, Action: meta[metaHostChannelAction]}
}

// hostChannelSessions selects the ids of the sessions whose stored
// session.end records the host keeping the channel open: a substring
// test on the stored meta in either of its forms (event.MetaText:
// canonical JSON, or the binary form whose value follows its u32
// length). It reads the type and meta columns of every day of events, or
// of the days since since when set (a session ends after it starts):
// 1.7-2.9 s for 90 days and 100M events on 18.16 (BENCHMARKS.md), so a
// listing runs it once (lookupCond), not once per table and count.
func hostChannelSessions(since time.Time) string {
	cond := `type = 'session.end' AND (position(meta, '"` + metaHostChannelOpen + `":"true"') > 0 OR position(meta, '` + metaHostChannelOpen + `\0\0\0\x04true') > 0)`
	if !since.IsZero() {
		cond += fmt.Sprintf(" AND ts >= toDateTime(%d)", clampUnix(since.Unix()))
	}
	return fmt.Sprintf("SELECT session FROM events WHERE %[1]s UNION ALL SELECT session FROM held_events WHERE %[1]s", cond)
}

// sessionEnds reads the stored session.end of each of ids (held copies
// too). It returns the ends that authenticate (endProblem) by session,
// and for the others why they cannot vouch for anything. Reading by
// session id uses the events key: a page's ends are a few granules.
func (s *Store) sessionEnds(ctx context.Context, ids []string) (ends map[string]*event.Event, bad map[string]string, err error) {
	ends, bad = map[string]*event.Event{}, map[string]string{}
	if len(ids) == 0 {
		return ends, bad, nil
	}
	set := clickhouse.GroupSet{Value: make([]any, len(ids))}
	for i, id := range ids {
		set.Value[i] = id
	}
	const where = " WHERE session IN ? AND type = 'session.end'"
	rows, err := s.conn.Query(ctx, "SELECT session, "+eventColumns+" FROM events"+where+" UNION ALL SELECT session, "+eventColumns+" FROM held_events"+where, set, set)
	if err != nil {
		return nil, nil, fmt.Errorf("query: session ends: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e := event.Event{}
		if err := s.scanInto(ctx, rows, &e, &e.Session); err != nil {
			return nil, nil, fmt.Errorf("query: session ends: scan: %w", err)
		}
		if why := s.endProblem(&e); why != "" {
			bad[e.Session] = why
			continue
		}
		ends[e.Session] = &e
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("query: session ends: %w", err)
	}
	return ends, bad, nil
}

// hostChannels returns what the authenticated session.end of each of ids
// says of the host's channel; sessions without such an end (open, or an
// end that does not verify) are absent.
func (s *Store) hostChannels(ctx context.Context, ids []string) (map[string]hostChannel, error) {
	ends, _, err := s.sessionEnds(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]hostChannel, len(ends))
	for id, e := range ends {
		out[id] = hostChannelOf(e.Meta)
	}
	return out, nil
}

// hostChannelCandidates narrows the sessions hostChannelSessions found by
// text to those whose end says so when parsed, or whose end does not
// verify. The text test also matches a meta value that holds the same
// bytes (a command with raw bytes is stored in the binary form, which
// does not escape them), so a watched user could otherwise fill the
// auditor's list with sessions that ended cleanly; an end that does not
// verify stays listed, flagged, as a database writer's change should be.
func (s *Store) hostChannelCandidates(ctx context.Context, ids []string) ([]string, error) {
	var kept []string
	for lo := 0; lo < len(ids); lo += maxEndsPerRead {
		part := ids[lo:min(lo+maxEndsPerRead, len(ids))]
		ends, bad, err := s.sessionEnds(ctx, part)
		if err != nil {
			return nil, err
		}
		for _, id := range part {
			if e, ok := ends[id]; bad[id] != "" || (ok && hostChannelOf(e.Meta).Open) {
				kept = append(kept, id)
			}
		}
	}
	return kept, nil
}

// maxEndsPerRead bounds the session ids of one read of their ends.
const maxEndsPerRead = 2000

// dropHostChannelDecoys removes from a --host-channel-open page the
// sessions whose authenticated end (ends, from checkRows) says the host
// closed the channel. Past maxTableSessions candidates the listing
// selects sessions by hostChannelSessions' text match alone, which a
// decoy value matches (hostChannelCandidates); a session without such an
// end stays, flagged by checkRows. The page's cursor stays that of the
// unfiltered page, so paging goes past a page of decoys.
func dropHostChannelDecoys(list []Session, ends map[string]*event.Event) []Session {
	var kept []Session
	for i := range list {
		if end := ends[list[i].ID]; end == nil || hostChannelOf(end.Meta).Open {
			kept = append(kept, list[i])
		}
	}
	return kept
}
