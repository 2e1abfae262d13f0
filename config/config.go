package config

import "time"

// Config is the whole configuration. Sections a subcommand does not use may
// be left out (ingest ignores users/hosts, the gateway ignores ingest).
type Config struct {
	Gateway    Gateway         `yaml:"gateway"`
	Kafka      Kafka           `yaml:"kafka"`
	ClickHouse ClickHouse      `yaml:"clickhouse"`
	Ingest     Ingest          `yaml:"ingest"`
	Retention  Retention       `yaml:"retention"`
	Roles      map[string]Role `yaml:"roles"`
	Users      []User          `yaml:"users"`
	Hosts      []Host          `yaml:"hosts"`
	Metrics    Metrics         `yaml:"metrics"`
	// ApprovalPolicies say which hosts need four-eyes approval; the first
	// policy whose hosts match applies. Hosts matching none need none.
	ApprovalPolicies []ApprovalPolicy `yaml:"approval_policies"`
	// Notify configures the webhook told about sessions awaiting review.
	Notify Notify `yaml:"notify"`
	// RecordingPolicies say what sessions do when their recording fails;
	// the first policy whose hosts match applies. Default: strict.
	RecordingPolicies []RecordingPolicy `yaml:"recording_policies"`
	// Limits bound connections, logins, channels and failed logins.
	Limits Limits `yaml:"limits"`

	// explicitZeros are the limit keys the file set to 0 (refused).
	explicitZeros []string
	// SessionPolicies limit idle time and duration of sessions; the
	// first policy whose hosts match applies. Default: no limits.
	SessionPolicies []SessionPolicy `yaml:"session_policies"`

	// missing maps *_file keys to secret files that do not exist; the
	// parts that need them report them (Require).
	missing map[string]string
	// Signing configures the signatures of recordings (config/signing.go).
	Signing Signing `yaml:"signing"`
}

// Gateway configures the SSH front door.
type Gateway struct {
	// ID names this gateway in every event. Default: the machine's hostname.
	ID string `yaml:"id"`
	// Listen is the SSH listen address. Default: 127.0.0.1:2222.
	Listen string `yaml:"listen"`
	// PublicAddress is how people reach the bastion: HOST or HOST:PORT, as
	// they would give it to ssh. It appears in the command a reviewer is
	// told to run (pending banner, webhook). Default: the address the
	// requester's connection came in on.
	PublicAddress string `yaml:"public_address"`
	// DataDir holds the host key, the upstream client key (when not set
	// explicitly) and the spool. Required.
	DataDir string `yaml:"data_dir"`
	// HostKeyFile is the bastion's own ed25519 host key, created on first
	// start with mode 0600. Default: DATA_DIR/host_ed25519.
	HostKeyFile string `yaml:"host_key_file"`
	// ClientKeyFile is the key the bastion logs into hosts with, created on
	// first start. Default: DATA_DIR/upstream_ed25519.
	ClientKeyFile string `yaml:"client_key_file"`
	// SpoolDir holds the durable event spool. Default: DATA_DIR/spool.
	SpoolDir string `yaml:"spool_dir"`
	// SpoolMaxBytes caps the spool on disk. Default: 1 GiB.
	SpoolMaxBytes int64 `yaml:"spool_max_bytes"`
	// SpoolSyncInterval is the longest time an event waits for fsync.
	// Default: 50ms; at most 100ms.
	SpoolSyncInterval time.Duration `yaml:"spool_sync_interval"`
	// ChunkBytes and ChunkInterval bound an output chunk: a chunk is cut
	// when it reaches ChunkBytes or is ChunkInterval old. Defaults: 16384, 20ms.
	ChunkBytes    int           `yaml:"chunk_bytes"`
	ChunkInterval time.Duration `yaml:"chunk_interval"`
	// UpstreamTimeout bounds dialing and the SSH handshake with a host.
	// Default: 10s.
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
	// KeepaliveInterval is how often idle clients are probed. Default: 15s.
	KeepaliveInterval time.Duration `yaml:"keepalive_interval"`
	// MaxCommandBytes bounds an exec command line (`ssh BASTION HOST --
	// CMD`, host name included): a longer one is refused before anything
	// else happens, and the refusal recorded. Default: 65536; 256 to
	// 1048576.
	MaxCommandBytes int `yaml:"max_command_bytes"`
	// SpoolShareMinBytes is the smallest fair share of the spool a
	// session gets: a session whose events not yet taken by Kafka fill
	// max(this, spool_max_bytes/2 / open sessions) is slowed down (its
	// host is not read) until they drain to SpoolLowWaterPercent of it.
	// Default: spool_max_bytes/16, at most 16 MiB; 65536 to
	// spool_max_bytes/2.
	SpoolShareMinBytes int64 `yaml:"spool_share_min_bytes"`
	// SpoolLowWaterPercent is where a slowed-down session resumes, in
	// percent of its share. Default: 50; 10 to 90.
	SpoolLowWaterPercent int `yaml:"spool_low_water_percent"`
	// SpoolStallTimeout is how long a slowed-down session waits while
	// Kafka takes nothing before its recording fails (spool full: an
	// outage). Default: 30s; at least 1s.
	SpoolStallTimeout time.Duration `yaml:"spool_stall_timeout"`
}

// Kafka configures the event topic, shared by gateway (producer) and ingest
// (consumer).
type Kafka struct {
	// Brokers are host:port seed addresses. Required.
	Brokers []string `yaml:"brokers"`
	// Topic carries all session events, keyed by session id. Default: foureyes.events.
	Topic string `yaml:"topic"`
	// Partitions is used when the gateway creates the topic. Default: 6.
	Partitions int `yaml:"partitions"`
	// ReplicationFactor is used when the gateway creates the topic. Default: 1.
	ReplicationFactor int `yaml:"replication_factor"`
	// RetentionHours is the topic's retention.ms when the gateway creates it:
	// Kafka is a buffer, not an archive. Default: 72 (3 days).
	RetentionHours int `yaml:"retention_hours"`
	// BatchTimeout is accepted and ignored: the publisher sends each
	// spool read at once instead of waiting for a batch to fill.
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// TLS encrypts and authenticates the connections to the brokers.
	// Default: off (plaintext).
	TLS TLS `yaml:"tls"`
	// SASL authenticates the gateway and ingest to the brokers.
	// Default: off.
	SASL SASL `yaml:"sasl"`
}

// ClickHouse configures the store that ingest writes and query reads.
type ClickHouse struct {
	// Addr is host:port of the native protocol. Default: 127.0.0.1:9000.
	Addr string `yaml:"addr"`
	// Database is created if missing. Default: foureyes.
	Database string `yaml:"database"`
	// Username and Password authenticate every part that has no
	// credentials of its own below. Default user: default.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordFile holds Password instead (mode 0600 or stricter; one
	// line). Set one of the two.
	PasswordFile string `yaml:"password_file"`
	// DialTimeout bounds connecting. Default: 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// TLS connects to the secure native port. Default: off (plaintext).
	TLS TLS `yaml:"tls"`
	// Ingest, Retention, Audit and Holds are the credentials of each part
	// (least privilege, see docs/operations.md): ingest writes events,
	// retention drops partitions, the gateway's audit commands only read,
	// and the gateway's hold/release write only holds. Default: Username
	// and Password; Holds defaults to Audit.
	Ingest    Credentials `yaml:"ingest"`
	Retention Credentials `yaml:"retention"`
	Audit     Credentials `yaml:"audit"`
	Holds     Credentials `yaml:"holds"`
	// Role is the part a connection is for, set by As; not configured.
	Role ClickHouseRole `yaml:"-"`
}

// Ingest configures the Kafka → ClickHouse consumer.
type Ingest struct {
	// Group is the Kafka consumer group. Default: foureyes-ingest.
	Group string `yaml:"group"`
	// BatchRows is the most events inserted at once. Default: 100000.
	BatchRows int `yaml:"batch_rows"`
	// BatchBytes bounds the bytes of events the ingest holds in memory
	// (the batches being inserted, the batch being filled and the events
	// decoded ahead of it); a
	// batch is inserted at BatchRows or half of BatchBytes. Default: 96 MiB.
	BatchBytes int64 `yaml:"batch_bytes"`
	// BatchInterval is the longest an event waits to be inserted. Default: 1s.
	BatchInterval time.Duration `yaml:"batch_interval"`
}

// Retention maps hosts to retention classes.
type Retention struct {
	// Classes maps a class name to how long its data is kept, e.g.
	// {logs: 3d, production: 90d}. Default: {default: 90d}.
	Classes map[string]Duration `yaml:"classes"`
	// Default is the class of hosts without one. Default: the only class,
	// or "default".
	Default string `yaml:"default"`
	// MaxHold is the longest an auditor's hold may keep a session beyond
	// the day its class would drop it. Default: 14d; at most 365d.
	MaxHold Duration `yaml:"max_hold"`
	// Interval is how often `foureyes ingest` runs the retention job.
	// Default: 1h; at least 1m.
	Interval Duration `yaml:"interval"`
	// SigningKeyFile is the retention job's Ed25519 key, which signs the
	// retention_log rows; created on first start with mode 0600, refused
	// when group or world can read it. Every ingest host needs its own.
	// Default: DATA_DIR/retention_ed25519 when gateway.data_dir is set,
	// else DefaultRetentionKeyFile.
	SigningKeyFile string `yaml:"signing_key_file"`
}

// DefaultRetentionKeyFile is the default retention.signing_key_file of a
// configuration without gateway.data_dir (the ingest unit's state
// directory, deploy/foureyes-ingest.service).
const DefaultRetentionKeyFile = "/var/lib/foureyes-ingest/retention_ed25519"

// Shortest returns the duration of the shortest retention class (0 when
// there is none).
func (r Retention) Shortest() time.Duration {
	var short time.Duration
	for _, d := range r.Classes {
		if short == 0 || time.Duration(d) < short {
			short = time.Duration(d)
		}
	}
	return short
}

// Metrics configures the Prometheus and health endpoint.
type Metrics struct {
	// Listen is the HTTP address for /metrics, /healthz and /readyz.
	// Empty disables it.
	Listen string `yaml:"listen"`
}

// Role grants permissions. Host patterns are host names with * and ?
// wildcards (path.Match) or label selectors "key=value".
type Role struct {
	// Connect lists the hosts members may open sessions on.
	Connect []string `yaml:"connect"`
	// Approve lists the hosts whose sessions members may join and approve.
	Approve []string `yaml:"approve"`
	// Audit lets members run the `audit` commands.
	Audit bool `yaml:"audit"`
	// Unlock lets members run `unlock`: list and lift login lockouts.
	Unlock bool `yaml:"unlock"`
	// Kill lets members end any live session with `kill SESSION_ID`.
	// Default: false.
	Kill bool `yaml:"kill"`
}

// User is a person allowed to log into the bastion.
type User struct {
	// Name is the SSH user name. Required, unique.
	Name string `yaml:"name"`
	// Keys are public keys in authorized_keys format. At least one.
	Keys []string `yaml:"keys"`
	// Roles name entries of the roles map. At least one.
	Roles []string `yaml:"roles"`
}

// Host is an upstream SSH server reachable through the bastion.
type Host struct {
	// Name is what users type: `ssh alice@bastion NAME`. Required, unique.
	Name string `yaml:"name"`
	// Address is host:port. Required.
	Address string `yaml:"address"`
	// Login is the remote user the bastion logs in as. Default: root.
	Login string `yaml:"login"`
	// HostKey pins the host's public key (authorized_keys format). Required:
	// a host without a pinned key is refused.
	HostKey string `yaml:"host_key"`
	// Labels are matched by role selectors ("env=production").
	Labels map[string]string `yaml:"labels"`
	// Class is the retention class. Default: retention.default.
	Class string `yaml:"class"`
	// Tunnels are the destinations `ssh -L` may reach through this host,
	// as "ADDRESS:PORT" seen from the host (e.g. "127.0.0.1:5432"),
	// matched exactly against what the client asks for. Default: none
	// (port forwarding refused).
	Tunnels []string `yaml:"tunnels"`
}

// Load reads, defaults and validates the file at path. Errors about the
// content are an *Error (wrapping ErrInvalid) prefixed with path.
func Load(path string) (*Config, error) { return CheckFile(path) }

// Parse decodes YAML (unknown keys are errors), applies defaults and
// validates. Its error, an *Error, lists every problem found: all decoding
// problems (unknown keys, values of the wrong type) when there are any,
// else all validation problems.
func Parse(b []byte) (*Config, error) { return Check(b) }
