package gateway

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	gossh "golang.org/x/crypto/ssh"
)

// Reloading: the configuration in force is an immutable *policy behind an
// atomic pointer. Reload builds a new one from a validated configuration,
// swaps it in (new connections and new sessions use it at once), records
// config.reload in the gateway's stream and ends the live sessions the
// new configuration no longer allows (revoke.go).

// policy is one configuration as the gateway applies it; never modified
// once stored.
type policy struct {
	cfg  *config.Config
	keys map[string][]userKey // user name → the user's key lines, in order
}

// userKey is one users[].keys[] line, parsed.
type userKey struct {
	config.AuthorizedKey
	fp string // SHA256 fingerprint
}

// newPolicy parses the users' keys and the pinned host keys of cfg.
func newPolicy(cfg *config.Config) (*policy, error) {
	p := &policy{cfg: cfg, keys: map[string][]userKey{}}
	for _, u := range cfg.Users {
		for i, line := range u.Keys {
			ak, err := config.ParseAuthorizedKey(line)
			if err != nil {
				return nil, fmt.Errorf("gateway: users %s key %d: %w", u.Name, i, err)
			}
			p.keys[u.Name] = append(p.keys[u.Name], userKey{AuthorizedKey: ak, fp: gossh.FingerprintSHA256(ak.Key)})
		}
	}
	for _, h := range cfg.Hosts {
		if _, err := config.ParseHostKey(h.HostKey); err != nil {
			return nil, fmt.Errorf("gateway: hosts %s host_key: %w", h.Name, err)
		}
	}
	return p, nil
}

// cfg returns the configuration in force.
func (s *Server) cfg() *config.Config { return s.pol.Load().cfg }

// ReloadResult says what a Reload changed.
type ReloadResult struct {
	// Changes name what differs, e.g. "users added: dave",
	// "roles changed: admin", "approval_policies changed".
	Changes []string
	// NotApplied names sections that differ but need a restart (the
	// gateway keeps the old values): gateway, kafka, clickhouse, ingest,
	// metrics, notify, limits.
	NotApplied []string
	// Revoked counts the live sessions and four-eyes requests ended
	// because the new configuration no longer allows them.
	Revoked int
}

// Reload applies cfg, which must have passed config validation, to new
// connections and sessions at once, records config.reload (by names who
// asked: "SIGHUP", a user) and ends within a moment every live session,
// four-eyes request and reviewer the new configuration no longer allows,
// telling each "access revoked". Sections that need a restart keep their
// old values and are reported in NotApplied (Reload copies them into
// cfg, which it keeps). On error nothing changes.
func (s *Server) Reload(cfg *config.Config, by string) (ReloadResult, error) {
	s.live.reloadMu.Lock()
	defer s.live.reloadMu.Unlock()
	next, err := newPolicy(cfg)
	if err != nil {
		s.recordGateway(event.ConfigReload, by, map[string]string{"result": "refused", "error": err.Error()})
		return ReloadResult{}, err
	}
	old := s.pol.Load()
	res := ReloadResult{NotApplied: keepRestartSections(old.cfg, cfg)}
	res.Changes = diffConfig(old.cfg, cfg)
	s.pol.Store(next)
	res.Revoked = s.sweep(next)
	s.prunePools(next) // kept upstream logins follow the new hosts (upstreampool.go)
	meta := map[string]string{"result": "applied", "revoked": strconv.Itoa(res.Revoked)}
	if len(res.Changes) > 0 {
		meta["changes"] = strings.Join(res.Changes, "; ")
	}
	if len(res.NotApplied) > 0 {
		meta["not_applied"] = strings.Join(res.NotApplied, ",")
		s.log.Warn("reload: these sections changed but need a restart", "sections", res.NotApplied)
	}
	s.recordGateway(event.ConfigReload, by, meta)
	return res, nil
}

// ReloadRefused records a reload refused before it reached the gateway
// (the file did not load or validate), so that the attempt is in the
// record too.
func (s *Server) ReloadRefused(by string, err error) {
	s.recordGateway(event.ConfigReload, by, map[string]string{"result": "refused", "error": err.Error()})
}

// keepRestartSections copies into next the sections a running gateway
// cannot change (listen address, keys, spool, Kafka, …) from cur, and
// returns the names of those that differed.
func keepRestartSections(cur, next *config.Config) []string {
	var differ []string
	keep := func(name string, a, b any) {
		if !reflect.DeepEqual(a, reflect.ValueOf(b).Elem().Interface()) {
			differ = append(differ, name)
			reflect.ValueOf(b).Elem().Set(reflect.ValueOf(a))
		}
	}
	keep("gateway", cur.Gateway, &next.Gateway)
	keep("kafka", cur.Kafka, &next.Kafka)
	keep("clickhouse", cur.ClickHouse, &next.ClickHouse)
	keep("ingest", cur.Ingest, &next.Ingest)
	keep("metrics", cur.Metrics, &next.Metrics)
	keep("notify", cur.Notify, &next.Notify)
	keep("limits", cur.Limits, &next.Limits) // the guards are built at start
	return differ
}

// diffConfig lists what differs between a and b in the sections a reload
// applies.
func diffConfig(a, b *config.Config) []string {
	var out []string
	named := func(section string, am, bm map[string]any) {
		var added, removed, changed []string
		for k, v := range bm {
			if av, ok := am[k]; !ok {
				added = append(added, k)
			} else if !reflect.DeepEqual(av, v) {
				changed = append(changed, k)
			}
		}
		for k := range am {
			if _, ok := bm[k]; !ok {
				removed = append(removed, k)
			}
		}
		for _, l := range []struct {
			what  string
			names []string
		}{{"added", added}, {"removed", removed}, {"changed", changed}} {
			if len(l.names) > 0 {
				sort.Strings(l.names)
				out = append(out, section+" "+l.what+": "+strings.Join(l.names, ","))
			}
		}
	}
	users := func(c *config.Config) map[string]any {
		m := map[string]any{}
		for _, u := range c.Users {
			m[u.Name] = u
		}
		return m
	}
	hosts := func(c *config.Config) map[string]any {
		m := map[string]any{}
		for _, h := range c.Hosts {
			m[h.Name] = h
		}
		return m
	}
	roles := func(c *config.Config) map[string]any {
		m := map[string]any{}
		for k, r := range c.Roles {
			m[k] = r
		}
		return m
	}
	named("users", users(a), users(b))
	named("roles", roles(a), roles(b))
	named("hosts", hosts(a), hosts(b))
	for _, sec := range []struct {
		name string
		a, b any
	}{
		{"approval_policies", a.ApprovalPolicies, b.ApprovalPolicies},
		{"recording_policies", a.RecordingPolicies, b.RecordingPolicies},
		{"session_policies", a.SessionPolicies, b.SessionPolicies},
		{"retention", a.Retention, b.Retention},
	} {
		if !reflect.DeepEqual(sec.a, sec.b) {
			out = append(out, sec.name+" changed")
		}
	}
	return out
}
