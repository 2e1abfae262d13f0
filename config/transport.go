package config

import "strings"

// TLS configures an encrypted, authenticated connection to Kafka brokers
// or a ClickHouse server. The server's certificate is always verified:
// there is no key to turn verification off.
type TLS struct {
	// Enabled turns TLS on. Default: false (plaintext).
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the certificate authorities that sign the
	// server's certificate. Default: the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// servers that require one (mutual TLS). Default: none. KeyFile must
	// have mode 0600 or stricter.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name checked against the server's certificate.
	// Default: the host part of each address.
	ServerName string `yaml:"server_name"`
}

// SASL mechanisms for Kafka.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// SASL authenticates to Kafka brokers.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. Default: empty
	// (no SASL). PLAIN sends the password as it is: use it only with TLS.
	Mechanism string `yaml:"mechanism"`
	// Username and Password authenticate; PasswordFile holds the password
	// instead (mode 0600 or stricter). Set one of the two.
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// Enabled reports whether SASL is configured.
func (s SASL) Enabled() bool { return s.Mechanism != "" }

// Credentials are a ClickHouse user name and password for one part.
type Credentials struct {
	// Username is the ClickHouse user. Default: see ClickHouse.
	Username string `yaml:"username"`
	// Password authenticates Username; PasswordFile holds it instead (mode
	// 0600 or stricter). Set at most one of the two.
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// set reports whether the credentials name a user.
func (c Credentials) set() bool { return c.Username != "" }

// ClickHouseRole names the part a ClickHouse connection is for; each has
// credentials of its own (least privilege).
type ClickHouseRole string

// The parts that connect to ClickHouse.
const (
	// RoleIngest writes events and migrates the schema.
	RoleIngest ClickHouseRole = "ingest"
	// RoleRetention drops expired partitions and copies held sessions.
	RoleRetention ClickHouseRole = "retention"
	// RoleAudit is the gateway's audit commands: reads only.
	RoleAudit ClickHouseRole = "audit"
	// RoleHolds is the gateway's audit hold/release: writes holds only.
	RoleHolds ClickHouseRole = "holds"
)

// As returns c with Username and Password replaced by those of role,
// when the configuration gives that role credentials of its own. The
// holds role falls back to the audit credentials.
func (c ClickHouse) As(role ClickHouseRole) ClickHouse {
	cred := c.credentials(role)
	if role == RoleHolds && !cred.set() {
		cred = c.credentials(RoleAudit)
	}
	if cred.set() {
		c.Username, c.Password = cred.Username, cred.Password
	}
	c.Role = role
	return c
}

// credentials returns the section of role.
func (c ClickHouse) credentials(role ClickHouseRole) Credentials {
	switch role {
	case RoleIngest:
		return c.Ingest
	case RoleRetention:
		return c.Retention
	case RoleAudit:
		return c.Audit
	case RoleHolds:
		return c.Holds
	}
	return Credentials{}
}

// UserKey returns the YAML key that set the user of a connection made
// for role (after As): "clickhouse.audit.username" or
// "clickhouse.username". Errors name it.
func (c ClickHouse) UserKey() string {
	if c.Role != "" {
		if c.credentials(c.Role).set() {
			return "clickhouse." + string(c.Role) + ".username"
		}
		if c.Role == RoleHolds && c.Audit.set() {
			return "clickhouse.audit.username"
		}
	}
	return "clickhouse.username"
}

// validateTransport checks kafka.tls, kafka.sasl, clickhouse.tls and the
// clickhouse credentials of each part.
func (c *Config) validateTransport(p *problems) {
	validateTLS(p, "kafka.tls", c.Kafka.TLS)
	validateTLS(p, "clickhouse.tls", c.ClickHouse.TLS)
	s := c.Kafka.SASL
	switch strings.ToUpper(s.Mechanism) {
	case "":
		if s.Username != "" || s.Password != "" || s.PasswordFile != "" {
			p.add("kafka.sasl.mechanism", "is empty but kafka.sasl has credentials; set %s, %s or %s", SASLScramSHA512, SASLScramSHA256, SASLPlain)
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.Username == "" {
			p.add("kafka.sasl.username", "is required with kafka.sasl.mechanism")
		}
		if s.Password == "" && s.PasswordFile == "" {
			p.add("kafka.sasl.password_file", "is required with kafka.sasl.mechanism; put the password in a file of mode 0600")
		}
		if strings.EqualFold(s.Mechanism, SASLPlain) && !c.Kafka.TLS.Enabled {
			p.add("kafka.sasl.mechanism", "PLAIN sends the password in clear; enable kafka.tls or use %s", SASLScramSHA512)
		}
	default:
		p.add("kafka.sasl.mechanism", "%q: use %s, %s or %s", s.Mechanism, SASLScramSHA512, SASLScramSHA256, SASLPlain)
	}
	bothSet(p, "kafka.sasl", s.Password, s.PasswordFile)
	bothSet(p, "clickhouse", c.ClickHouse.Password, c.ClickHouse.PasswordFile)
	for _, role := range []ClickHouseRole{RoleIngest, RoleRetention, RoleAudit, RoleHolds} {
		cred := c.ClickHouse.credentials(role)
		key := "clickhouse." + string(role)
		bothSet(p, key, cred.Password, cred.PasswordFile)
		if !cred.set() && (cred.Password != "" || cred.PasswordFile != "") {
			p.add(key+".username", "is required with %s.password", key)
		}
	}
}

// validateTLS checks one tls section.
func validateTLS(p *problems, key string, t TLS) {
	if !t.Enabled {
		if t != (TLS{}) {
			p.add(key+".enabled", "is false but %s has other keys; set enabled: true or remove them", key)
		}
		return
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		p.add(key+".key_file", "%s.cert_file and %s.key_file go together; set both or neither", key, key)
	}
}

// bothSet reports a password given both inline and in a file.
func bothSet(p *problems, key, password, file string) {
	if password != "" && file != "" {
		p.add(key+".password", "is set together with %s.password_file; keep only password_file", key)
	}
}

// normalizeTransport upper-cases the SASL mechanism.
func (c *Config) normalizeTransport() {
	c.Kafka.SASL.Mechanism = strings.ToUpper(c.Kafka.SASL.Mechanism)
}
