package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Part is a program that reads the configuration and needs more of it
// than Validate checks.
type Part string

// The parts with requirements of their own.
const (
	// PartGateway is `foureyes gateway`: it needs gateway.data_dir,
	// kafka.brokers and at least one user.
	PartGateway Part = "gateway"
	// PartIngest is `foureyes ingest`: it needs kafka.brokers.
	PartIngest Part = "ingest"
)

// Parts lists every part, in the order their requirements are reported.
var Parts = []Part{PartGateway, PartIngest}

// Require reports every requirement of the given parts that c does not
// meet, as an *Error (nil when all are met). A problem shared by several
// parts is reported once.
func (c *Config) Require(parts ...Part) error {
	var p problems
	for _, part := range parts {
		switch part {
		case PartGateway:
			c.requireGateway(&p)
		case PartIngest:
			c.requireIngest(&p)
		default:
			p.addLine(fmt.Sprintf("unknown part %q (want %q or %q)", part, PartGateway, PartIngest))
		}
	}
	return p.err()
}

// ValidateGateway checks what `foureyes gateway` needs beyond Validate,
// reporting every unmet requirement.
func (c *Config) ValidateGateway() error { return c.Require(PartGateway) }

// ValidateIngest checks what `foureyes ingest` needs beyond Validate.
func (c *Config) ValidateIngest() error { return c.Require(PartIngest) }

func (c *Config) requireGateway(p *problems) {
	if c.Gateway.DataDir == "" {
		p.add("gateway.data_dir", "is required; set a directory for keys and the spool, e.g. /var/lib/foureyes")
	}
	c.requireBrokers(p)
	if len(c.Users) == 0 {
		p.add("users", "is empty; nobody could log in")
	}
	c.requireSecrets(p, "kafka.sasl.password_file", c.secretFileKey(RoleAudit), c.secretFileKey(RoleHolds), "notify.secret_file")
}

func (c *Config) requireIngest(p *problems) {
	c.requireBrokers(p)
	c.requireSecrets(p, "kafka.sasl.password_file", c.secretFileKey(RoleIngest), c.secretFileKey(RoleRetention))
}

func (c *Config) requireBrokers(p *problems) {
	if len(c.Kafka.Brokers) == 0 {
		p.add("kafka.brokers", "is required; list at least one host:port")
	}
}

// Check decodes b like Parse and reports every problem that would stop
// the given parts from starting: the decoding problems when there are
// any, else the validation problems followed by the unmet requirements of
// each part. With no part it is Parse. The error is an *Error.
// Secrets in files (*_file keys) are read, relative paths from the
// working directory.
func Check(b []byte, parts ...Part) (*Config, error) { return check(b, "", parts) }

// check is Check with *_file paths relative to base.
func check(b []byte, base string, parts []Part) (*Config, error) {
	var c Config
	if err := decode(b, &c); err != nil {
		return nil, err
	}
	c.noteExplicitZeros(b)
	c.SetDefaults()
	var p problems
	p.merge(c.Validate())
	if len(p.list) == 0 {
		c.resolveSecrets(&p, base)
	}
	p.merge(c.Require(parts...))
	if err := p.err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// CheckFile reads the file at path and checks it like Check; errors are
// prefixed with path. *_file paths are relative to the file's directory.
// A file holding secrets itself (e.g. clickhouse.password) is refused
// when group or others may access it (ErrExposedSecret); any file is
// refused when group or others may write it or another user owns it
// (ErrUnsafeConfig).
func CheckFile(path string, parts ...Part) (*Config, error) {
	b, f, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := check(b, filepath.Dir(path), parts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if keys := c.inlineSecrets(); len(keys) > 0 {
		if err := checkPrivate(f, path, " holds secrets ("+strings.Join(keys, ", ")+") but"); err != nil {
			return nil, err
		}
	}
	if err := checkUnwritable(f, path); err != nil {
		return nil, err
	}
	return c, nil
}

// readConfigFile returns the content of path and the open file, whose
// mode CheckFile checks (the file read, not one swapped in since).
func readConfigFile(path string) ([]byte, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	return b, f, nil
}
