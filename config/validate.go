package config

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
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
	setInt(&g.ChunkBytes, 16<<10)
	setDur(&g.ChunkInterval, 20*time.Millisecond)
	setDur(&g.UpstreamTimeout, 10*time.Second)
	setDur(&g.KeepaliveInterval, 15*time.Second)

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

	ch := &c.ClickHouse
	setStr(&ch.Addr, "127.0.0.1:9000")
	setStr(&ch.Database, "foureyes")
	setStr(&ch.Username, "default")
	setDur(&ch.DialTimeout, 5*time.Second)

	in := &c.Ingest
	setStr(&in.Group, "foureyes-ingest")
	setInt(&in.BatchRows, 100000)
	setDur(&in.BatchInterval, 200*time.Millisecond)

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
}

// Validate reports the first problem, naming the YAML key and the fix.
func (c *Config) Validate() error {
	g := c.Gateway
	if g.SpoolSyncInterval > 100*time.Millisecond {
		return invalid("gateway.spool_sync_interval", "is %v; events must be durable within 100ms, set 100ms or less", g.SpoolSyncInterval)
	}
	if g.ChunkBytes < 256 || g.ChunkBytes > 1<<20 {
		return invalid("gateway.chunk_bytes", "is %d; use a value between 256 and 1048576", g.ChunkBytes)
	}
	if g.SpoolMaxBytes < 1<<20 {
		return invalid("gateway.spool_max_bytes", "is %d; use at least 1048576 (1 MiB)", g.SpoolMaxBytes)
	}
	if g.PublicAddress != "" {
		if _, _, err := SplitPublicAddress(g.PublicAddress); err != nil {
			return invalid("gateway.public_address", "%v (e.g. bastion.example.com or bastion.example.com:2222)", err)
		}
	}
	if g.Listen != "" {
		if _, _, err := net.SplitHostPort(g.Listen); err != nil {
			return invalid("gateway.listen", "%q is not host:port (e.g. 0.0.0.0:2222)", g.Listen)
		}
	}
	for i, b := range c.Kafka.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return invalid(fmt.Sprintf("kafka.brokers[%d]", i), "%q is not host:port (e.g. kafka1:9092)", b)
		}
	}
	if c.Kafka.Partitions < 1 {
		return invalid("kafka.partitions", "must be at least 1")
	}
	if c.Kafka.ReplicationFactor < 1 {
		return invalid("kafka.replication_factor", "must be at least 1")
	}
	if _, _, err := net.SplitHostPort(c.ClickHouse.Addr); err != nil {
		return invalid("clickhouse.addr", "%q is not host:port of the native protocol (e.g. 127.0.0.1:9000)", c.ClickHouse.Addr)
	}
	if !isIdent(c.ClickHouse.Database) {
		return invalid("clickhouse.database", "%q: use letters, digits and underscores", c.ClickHouse.Database)
	}
	if c.Ingest.BatchRows < 1 {
		return invalid("ingest.batch_rows", "must be at least 1")
	}
	for name, d := range c.Retention.Classes {
		if d.Days() < 1 || d.Days() > 65535 {
			return invalid("retention.classes."+name, "must be between 1d and 65535d")
		}
		if !isIdent(name) {
			return invalid("retention.classes."+name, "class names use letters, digits and underscores")
		}
	}
	if _, ok := c.Retention.Classes[c.Retention.Default]; !ok {
		return invalid("retention.default", "%q is not a class in retention.classes", c.Retention.Default)
	}
	if mh := time.Duration(c.Retention.MaxHold); mh < 0 || mh > 365*24*time.Hour {
		return invalid("retention.max_hold", "is %v; use a duration between 1d and 365d (e.g. 14d)", mh)
	}
	if short := c.Retention.Shortest(); c.Kafka.RetentionHours > 0 && time.Duration(c.Kafka.RetentionHours)*time.Hour > short {
		return invalid("kafka.retention_hours", "is %d, longer than the shortest retention class (%v): Kafka would keep data beyond its class; set %d or less",
			c.Kafka.RetentionHours, short, int(short/time.Hour))
	}
	if iv := time.Duration(c.Retention.Interval); iv < time.Minute {
		return invalid("retention.interval", "is %v; run the retention job at most once a minute (e.g. 1h)", iv)
	}
	for name, r := range c.Roles {
		for i, p := range append(append([]string{}, r.Connect...), r.Approve...) {
			if err := checkPattern(p); err != nil {
				return invalid(fmt.Sprintf("roles.%s (pattern %d)", name, i), "%v", err)
			}
		}
	}
	seen := map[string]bool{}
	for i, u := range c.Users {
		key := fmt.Sprintf("users[%d]", i)
		if u.Name == "" {
			return invalid(key+".name", "is empty; give the SSH user name")
		}
		if seen[u.Name] {
			return invalid(key+".name", "%q appears twice; merge the entries", u.Name)
		}
		seen[u.Name] = true
		if len(u.Keys) == 0 {
			return invalid(key+".keys", "user %q has no key; add an authorized_keys line", u.Name)
		}
		for j, k := range u.Keys {
			if _, _, _, _, err := gossh.ParseAuthorizedKey([]byte(k)); err != nil {
				return invalid(fmt.Sprintf("%s.keys[%d]", key, j), "is not an authorized_keys line: %v", err)
			}
		}
		if len(u.Roles) == 0 {
			return invalid(key+".roles", "user %q has no role; add one of the roles keys", u.Name)
		}
		for _, r := range u.Roles {
			if _, ok := c.Roles[r]; !ok {
				return invalid(key+".roles", "role %q is not defined under roles", r)
			}
		}
	}
	seen = map[string]bool{}
	for i, h := range c.Hosts {
		key := fmt.Sprintf("hosts[%d]", i)
		switch {
		case h.Name == "" || strings.ContainsAny(h.Name, " \t/@"):
			return invalid(key+".name", "%q: use a name without spaces, '/' or '@'", h.Name)
		case seen[h.Name]:
			return invalid(key+".name", "%q appears twice; host names must be unique", h.Name)
		case isReserved(h.Name):
			return invalid(key+".name", "%q is a bastion command; rename the host", h.Name)
		}
		seen[h.Name] = true
		if _, _, err := net.SplitHostPort(h.Address); err != nil {
			return invalid(key+".address", "%q is not host:port (e.g. 10.0.0.5:22)", h.Address)
		}
		if h.HostKey == "" {
			return invalid(key+".host_key", "host %q has no pinned key; add the output of `ssh-keyscan -t ed25519 HOST` (without the host name)", h.Name)
		}
		if _, err := ParseHostKey(h.HostKey); err != nil {
			return invalid(key+".host_key", "%v", err)
		}
		if _, ok := c.Retention.Classes[h.Class]; !ok {
			return invalid(key+".class", "%q is not a class in retention.classes", h.Class)
		}
	}
	if err := c.validateApproval(); err != nil {
		return err
	}
	return c.validateRecording()
}

// ValidateGateway checks what `foureyes gateway` needs beyond Validate.
func (c *Config) ValidateGateway() error {
	if c.Gateway.DataDir == "" {
		return invalid("gateway.data_dir", "is required; set a directory for keys and the spool, e.g. /var/lib/foureyes")
	}
	if len(c.Kafka.Brokers) == 0 {
		return invalid("kafka.brokers", "is required; list at least one host:port")
	}
	if len(c.Users) == 0 {
		return invalid("users", "is empty; nobody could log in")
	}
	return nil
}

// ValidateIngest checks what `foureyes ingest` needs beyond Validate.
func (c *Config) ValidateIngest() error {
	if len(c.Kafka.Brokers) == 0 {
		return invalid("kafka.brokers", "is required; list at least one host:port")
	}
	return nil
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
	return nil, fmt.Errorf("%q is not a public key (want e.g. \"ssh-ed25519 AAAA…\")", truncate(s, 40))
}

// reservedNames are bastion commands that cannot be host names.
var reservedNames = []string{"join", "sessions", "audit", "help"}

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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func invalid(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, args...))
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
