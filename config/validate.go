package config

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// SetDefaults fills every unset field with its documented default.
func (c *Config) SetDefaults() {
	g := &c.Gateway
	if g.ID == "" {
		g.ID, _ = os.Hostname()
	}
	setStr(&g.Listen, "127.0.0.1:2222")
	if g.DataDir != "" {
		setStr(&g.HostKeyFile, filepath.Join(g.DataDir, "host_ed25519"))
		setStr(&g.ClientKeyFile, filepath.Join(g.DataDir, "upstream_ed25519"))
		setStr(&g.SpoolDir, filepath.Join(g.DataDir, "spool"))
	}
	setInt64(&g.SpoolMaxBytes, 1<<30)
	setDur(&g.SpoolSyncInterval, 50*time.Millisecond)
	setInt64(&g.SpoolShareMinBytes, min(16<<20, g.SpoolMaxBytes/16))
	setInt(&g.SpoolLowWaterPercent, 50)
	setDur(&g.SpoolStallTimeout, 30*time.Second)
	setInt(&g.ChunkBytes, 16<<10)
	setDur(&g.ChunkInterval, 20*time.Millisecond)
	setDur(&g.UpstreamTimeout, 10*time.Second)
	setDur(&g.KeepaliveInterval, 15*time.Second)
	setInt(&g.MaxCommandBytes, DefaultMaxCommandBytes)

	k := &c.Kafka
	setStr(&k.Topic, "foureyes.events")
	setInt(&k.Partitions, 6)
	setInt(&k.ReplicationFactor, 1)
	if k.RetentionHours == 0 {
		// Kafka is a buffer: never longer than the shortest class (set below).
		k.RetentionHours = 72
		if len(c.Retention.Classes) > 0 {
			k.RetentionHours = min(72, max(1, int(c.Retention.Shortest()/time.Hour)))
		}
	}
	setDur(&k.BatchTimeout, 5*time.Millisecond)

	c.normalizeTransport()
	ch := &c.ClickHouse
	setStr(&ch.Addr, "127.0.0.1:9000")
	setStr(&ch.Database, "foureyes")
	setStr(&ch.Username, "default")
	setDur(&ch.DialTimeout, 5*time.Second)

	in := &c.Ingest
	setStr(&in.Group, "foureyes-ingest")
	setInt(&in.BatchRows, 100000)
	if in.BatchBytes == 0 {
		in.BatchBytes = 96 << 20 // ingest.DefaultBatchBytes
	}
	setDur(&in.BatchInterval, time.Second) // ingest.DefaultBatchInterval

	r := &c.Retention
	if len(r.Classes) == 0 {
		r.Classes = map[string]Duration{"default": Duration(90 * 24 * time.Hour)}
	}
	if r.Default == "" {
		if len(r.Classes) == 1 {
			for name := range r.Classes {
				r.Default = name
			}
		} else {
			r.Default = "default"
		}
	}
	if r.MaxHold == 0 {
		r.MaxHold = Duration(14 * 24 * time.Hour)
	}
	if r.Interval == 0 {
		r.Interval = Duration(time.Hour)
	}
	for i := range c.Hosts {
		h := &c.Hosts[i]
		setStr(&h.Login, "root")
		setStr(&h.Class, r.Default)
	}
	c.setApprovalDefaults()
	c.setRecordingDefaults()
	c.setLimitsDefaults()
	c.setSigningDefaults()
}

// Validate reports every problem of the configuration as an *Error, one
// line each, naming the YAML key and the fix (nil when there is none).
// Problems are reported in the order of the sections in docs/config.md.
func (c *Config) Validate() error {
	var p problems
	c.validateGateway(&p)
	c.validateKafka(&p)
	c.validateStore(&p)
	c.validateTransport(&p)
	c.validateRetention(&p)
	c.validateRoles(&p)
	c.validateUsers(&p)
	c.validateHosts(&p)
	c.validateTunnels(&p)
	c.validateApproval(&p)
	c.validateWebhook(&p)
	c.validateRecording(&p)
	c.validateLimits(&p)
	c.validateSharedKeys(&p)
	c.validateSessionPolicies(&p)
	c.validateSigning(&p)
	return p.err()
}

func (c *Config) validateGateway(p *problems) {
	g := c.Gateway
	if g.SpoolSyncInterval > 100*time.Millisecond {
		p.add("gateway.spool_sync_interval", "is %s; events must be durable within 100ms, set 100ms or less", formatDuration(g.SpoolSyncInterval))
	}
	if g.MaxCommandBytes < 256 || g.MaxCommandBytes > 1<<20 {
		p.add("gateway.max_command_bytes", "is %d; use a value between 256 and 1048576", g.MaxCommandBytes)
	}
	if g.ChunkBytes < 256 || g.ChunkBytes > 1<<20 {
		p.add("gateway.chunk_bytes", "is %d; use a value between 256 and 1048576", g.ChunkBytes)
	}
	if g.SpoolMaxBytes < 1<<20 {
		p.add("gateway.spool_max_bytes", "is %d; use at least 1048576 (1 MiB)", g.SpoolMaxBytes)
	}
	if g.SpoolShareMinBytes < 64<<10 || g.SpoolShareMinBytes > g.SpoolMaxBytes/2 {
		p.add("gateway.spool_share_min_bytes", "is %d; use a value between 65536 and half of gateway.spool_max_bytes (%d)", g.SpoolShareMinBytes, g.SpoolMaxBytes/2)
	}
	if g.SpoolLowWaterPercent < 10 || g.SpoolLowWaterPercent > 90 {
		p.add("gateway.spool_low_water_percent", "is %d; use a value between 10 and 90", g.SpoolLowWaterPercent)
	}
	if g.SpoolStallTimeout < time.Second {
		p.add("gateway.spool_stall_timeout", "is %s; use at least 1s (Kafka may pause that long without an outage)", formatDuration(g.SpoolStallTimeout))
	}
	if g.PublicAddress != "" {
		if _, _, err := SplitPublicAddress(g.PublicAddress); err != nil {
			p.add("gateway.public_address", "%v (e.g. bastion.example.com or bastion.example.com:2222)", err)
		}
	}
	if g.Listen != "" {
		if _, _, err := net.SplitHostPort(g.Listen); err != nil {
			p.add("gateway.listen", "%q is not host:port (e.g. 0.0.0.0:2222)", g.Listen)
		}
	}
}

func (c *Config) validateKafka(p *problems) {
	for i, b := range c.Kafka.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			p.add(fmt.Sprintf("kafka.brokers[%d]", i), "%q is not host:port (e.g. kafka1:9092)", b)
		}
	}
	if c.Kafka.Partitions < 1 {
		p.add("kafka.partitions", "is %d; use at least 1", c.Kafka.Partitions)
	}
	if c.Kafka.ReplicationFactor < 1 {
		p.add("kafka.replication_factor", "is %d; use at least 1", c.Kafka.ReplicationFactor)
	}
	if short := c.Retention.Shortest(); c.Kafka.RetentionHours > 0 && time.Duration(c.Kafka.RetentionHours)*time.Hour > short {
		p.add("kafka.retention_hours", "is %d, longer than the shortest retention class (%s): Kafka would keep data beyond its class; set %d or less",
			c.Kafka.RetentionHours, formatDuration(short), int(short/time.Hour))
	}
}

// validateStore checks clickhouse and ingest.
func (c *Config) validateStore(p *problems) {
	if _, _, err := net.SplitHostPort(c.ClickHouse.Addr); err != nil {
		p.add("clickhouse.addr", "%q is not host:port of the native protocol (e.g. 127.0.0.1:9000)", c.ClickHouse.Addr)
	}
	if !IsSQLIdentifier(c.ClickHouse.Database) {
		p.add("clickhouse.database", "%q: use letters, digits and underscores, not starting with a digit", c.ClickHouse.Database)
	}
	if c.Ingest.BatchRows < 1 {
		p.add("ingest.batch_rows", "is %d; use at least 1", c.Ingest.BatchRows)
	}
	if c.Ingest.BatchBytes < 1<<20 {
		p.add("ingest.batch_bytes", "is %d; use at least 1048576 (1 MiB): one event can be that large", c.Ingest.BatchBytes)
	}
}

func (c *Config) validateRetention(p *problems) {
	r := c.Retention
	for _, name := range sortedKeys(r.Classes) {
		d := r.Classes[name]
		if !isIdent(name) {
			p.add("retention.classes."+name, "class names use letters, digits and underscores")
		}
		if d.Days() < 1 || d.Days() > 65535 {
			p.add("retention.classes."+name, "is %s; use a duration between 1d and 65535d (e.g. 90d)", d)
		}
	}
	if _, ok := r.Classes[r.Default]; !ok {
		p.add("retention.default", "%q is not a class in retention.classes", r.Default)
	}
	if mh := r.MaxHold; mh < 0 || time.Duration(mh) > 365*day {
		p.add("retention.max_hold", "is %s; at most 365d (e.g. 14d)", mh)
	}
	if iv := r.Interval; time.Duration(iv) < time.Minute {
		p.add("retention.interval", "is %s; run the retention job at most once a minute (e.g. 1h)", iv)
	}
}

func (c *Config) validateRoles(p *problems) {
	for _, name := range sortedKeys(c.Roles) {
		r := c.Roles[name]
		for i, pat := range r.Connect {
			if err := checkPattern(pat); err != nil {
				p.add(fmt.Sprintf("roles.%s.connect[%d]", name, i), "%v", err)
			}
		}
		for i, pat := range r.Approve {
			if err := checkPattern(pat); err != nil {
				p.add(fmt.Sprintf("roles.%s.approve[%d]", name, i), "%v", err)
			}
		}
	}
}

func (c *Config) validateUsers(p *problems) {
	seen := map[string]bool{}
	for i, u := range c.Users {
		key := fmt.Sprintf("users[%d]", i)
		switch {
		case u.Name == "":
			p.add(key+".name", "is empty; give the SSH user name")
		case strings.Contains(u.Name, "+"):
			p.add(key+".name", "%q: '+' separates the user from a target host (alice+HOST); use a name without it", u.Name)
		case seen[u.Name]:
			p.add(key+".name", "%q appears twice; merge the entries", u.Name)
		}
		seen[u.Name] = true
		if len(u.Keys) == 0 {
			p.add(key+".keys", "user %q has no key; add an authorized_keys line", u.Name)
		}
		for j, k := range u.Keys {
			if _, err := ParseAuthorizedKey(k); err != nil {
				p.add(fmt.Sprintf("%s.keys[%d]", key, j), "%s", keyProblem(u.Name, k, err))
			}
		}
		if len(u.Roles) == 0 {
			p.add(key+".roles", "user %q has no role; add one of the roles keys", u.Name)
		}
		for _, r := range u.Roles {
			if _, ok := c.Roles[r]; !ok {
				p.add(key+".roles", "role %q is not defined under roles", r)
			}
		}
	}
}

func (c *Config) validateHosts(p *problems) {
	seen := map[string]bool{}
	_, defaultOK := c.Retention.Classes[c.Retention.Default]
	for i, h := range c.Hosts {
		key := fmt.Sprintf("hosts[%d]", i)
		switch {
		case h.Name == "" || strings.ContainsAny(h.Name, " \t/@+"):
			p.add(key+".name", "%q: use a name without spaces, '/', '@' or '+'", h.Name)
		case seen[h.Name]:
			p.add(key+".name", "%q appears twice; host names must be unique", h.Name)
		case isReserved(h.Name):
			p.add(key+".name", "%q is a bastion command; rename the host", h.Name)
		}
		seen[h.Name] = true
		if _, _, err := net.SplitHostPort(h.Address); err != nil {
			p.add(key+".address", "%q is not host:port (e.g. 10.0.0.5:22)", h.Address)
		}
		if h.HostKey == "" {
			p.add(key+".host_key", "host %q has no pinned key; add the output of `ssh-keyscan -t ed25519 HOST` (without the host name)", h.Name)
		} else if _, err := ParseHostKey(h.HostKey); err != nil {
			p.add(key+".host_key", "%v", err)
		}
		// A host using an undefined retention.default is reported there.
		if _, ok := c.Retention.Classes[h.Class]; !ok && (defaultOK || h.Class != c.Retention.Default) {
			p.add(key+".class", "%q is not a class in retention.classes", h.Class)
		}
	}
}

// ParseHostKey parses a pinned host key given as an authorized_keys line or
// as "HOST TYPE BASE64" (ssh-keyscan output).
func ParseHostKey(s string) (gossh.PublicKey, error) {
	if k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(s)); err == nil {
		return k, nil
	}
	if _, _, k, _, _, err := gossh.ParseKnownHosts([]byte(s)); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("%s is not a public key (want e.g. \"ssh-ed25519 AAAA…\", the output of `ssh-keyscan -t ed25519 HOST`)", quotePrefix(s, 40))
}

// reservedNames are bastion commands that cannot be host names.
var reservedNames = []string{"join", "sessions", "audit", "help", "unlock", "kill", "request", "config"}

func isReserved(name string) bool {
	for _, r := range reservedNames {
		if name == r {
			return true
		}
	}
	return false
}

func checkPattern(p string) error {
	if k, v, ok := strings.Cut(p, "="); ok {
		if k == "" || v == "" {
			return fmt.Errorf("%q: a label selector is key=value", p)
		}
		return nil
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("%q: bad host pattern: %v", p, err)
	}
	return nil
}

// IsSQLIdentifier reports whether s is a plain SQL identifier that needs
// no quoting in ClickHouse (or in an XML element name): letters, digits
// and underscores, not starting with a digit. Database and user names go
// into statements and generated server configs only when it holds.
func IsSQLIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// isIdent reports whether s holds only letters, digits and underscores
// (retention class names, which may start with a digit).
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// quotePrefix quotes (with %q) at most the first n characters of s, and
// marks a cut with "…" after the closing quote, so that a message never
// carries more than a short printable prefix of what the operator wrote.
func quotePrefix(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(string(r[:n])) + "…"
}

// badKey explains why a users[].keys[] entry is not a public key.
func badKey(k string) string {
	const want = `want an OpenSSH public key line, e.g. "ssh-ed25519 AAAA… alice@laptop"`
	switch {
	case strings.TrimSpace(k) == "":
		return "is empty; " + want
	case strings.Contains(k, "PRIVATE KEY"):
		return "is a private key, which must never be shared; " + want + " (the .pub file)"
	}
	return quotePrefix(k, 20) + " is not a public key; " + want
}

// sortedKeys returns the keys of m in order, so that problems are
// reported in the same order every time.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func setStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setInt64(p *int64, v int64) {
	if *p == 0 {
		*p = v
	}
}

func setDur(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}
