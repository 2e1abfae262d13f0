package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrExposedSecret is wrapped by the error about a configuration file or
// secret file that group or others may read or write: like sshd with its
// keys, foureyes refuses to use a secret others can read.
var ErrExposedSecret = errors.New("config: secret readable by others")

// ErrUnsafeConfig is wrapped by the error about a configuration file that
// someone other than its owner may change: whoever can write it can make
// themselves an admin or an auditor, or drop the four-eyes rule.
var ErrUnsafeConfig = errors.New("config: file others may change")

// checkUnwritable refuses the open configuration file f (named path) when
// group or others may write it or another user owns it.
func checkUnwritable(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %04o, writable by group or others; run: chmod go-w %s", ErrUnsafeConfig, path, perm, path)
	}
	if err := checkOwner(fi, path); err != nil {
		return fmt.Errorf("%w: %w", ErrUnsafeConfig, err)
	}
	return nil
}

// secretRef is a secret that may be given inline (key) or in a file
// (fileKey); resolveSecrets reads the file into *value.
type secretRef struct {
	key, fileKey string
	value, file  *string
}

// secretRefs lists every secret of c.
func (c *Config) secretRefs() []secretRef {
	ch := &c.ClickHouse
	refs := []secretRef{
		{"clickhouse.password", "clickhouse.password_file", &ch.Password, &ch.PasswordFile},
		{"kafka.sasl.password", "kafka.sasl.password_file", &c.Kafka.SASL.Password, &c.Kafka.SASL.PasswordFile},
		{"notify.webhook_secret", "notify.secret_file", &c.Notify.WebhookSecret, &c.Notify.SecretFile},
	}
	for _, r := range []struct {
		role ClickHouseRole
		cred *Credentials
	}{{RoleIngest, &ch.Ingest}, {RoleRetention, &ch.Retention}, {RoleAudit, &ch.Audit}, {RoleHolds, &ch.Holds}} {
		k := "clickhouse." + string(r.role)
		refs = append(refs, secretRef{k + ".password", k + ".password_file", &r.cred.Password, &r.cred.PasswordFile})
	}
	return refs
}

// inlineSecrets returns the keys of the secrets written in the
// configuration itself.
func (c *Config) inlineSecrets() []string {
	var keys []string
	for _, r := range c.secretRefs() {
		if *r.value != "" && *r.file == "" {
			keys = append(keys, r.key)
		}
	}
	return keys
}

// resolveSecrets reads every *_file secret into its value and checks the
// TLS files, relative paths being taken from base. A file that group or
// others may access is refused, as is an empty one. A missing file is
// noted in c.missing and reported only by the requirements of the parts
// that need it (Require): the bastion need not hold ingest's password.
func (c *Config) resolveSecrets(p *problems, base string) {
	for _, r := range c.secretRefs() {
		if *r.file == "" || *r.value != "" { // both set: validateTransport reported it
			continue
		}
		path := resolvePath(base, *r.file)
		s, err := ReadSecretFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if c.missing == nil {
				c.missing = map[string]string{}
			}
			c.missing[r.fileKey] = path
		case err != nil:
			p.add(r.fileKey, "%v", err)
		case s == "":
			p.add(r.fileKey, "%s is empty; write the secret into it", path)
		default:
			*r.value = s
		}
		*r.file = path
	}
	c.checkTLSFiles(p, "kafka.tls", &c.Kafka.TLS, base)
	c.checkTLSFiles(p, "clickhouse.tls", &c.ClickHouse.TLS, base)
}

// checkTLSFiles makes the paths of t absolute and checks that they hold
// what they should: certificates in ca_file, a key pair in cert_file and
// key_file, the key readable by its owner only.
func (c *Config) checkTLSFiles(p *problems, key string, t *TLS, base string) {
	if !t.Enabled {
		return
	}
	if t.CAFile != "" {
		t.CAFile = resolvePath(base, t.CAFile)
		if _, err := LoadCAFile(t.CAFile); err != nil {
			p.add(key+".ca_file", "%v", err)
		}
	}
	if t.CertFile == "" || t.KeyFile == "" {
		return
	}
	t.CertFile, t.KeyFile = resolvePath(base, t.CertFile), resolvePath(base, t.KeyFile)
	if _, err := ReadSecretFile(t.KeyFile); err != nil {
		p.add(key+".key_file", "%v", err)
		return
	}
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		p.add(key+".cert_file", "%s and %s are not a PEM certificate and its key: %v", t.CertFile, t.KeyFile, err)
	}
}

// secretFileKey returns the *_file key that gives role its password.
func (c *Config) secretFileKey(role ClickHouseRole) string {
	if role == RoleHolds && !c.ClickHouse.Holds.set() {
		role = RoleAudit
	}
	if c.ClickHouse.credentials(role).set() {
		return "clickhouse." + string(role) + ".password_file"
	}
	return "clickhouse.password_file"
}

// requireSecrets reports the secret files of keys that do not exist.
func (c *Config) requireSecrets(p *problems, keys ...string) {
	for _, k := range keys {
		if path, ok := c.missing[k]; ok {
			p.add(k, "%s does not exist; write the secret into it (mode 0600)", path)
		}
	}
}

// LoadCAFile returns a pool of the PEM certificates in path.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("config: %s holds no PEM certificate", path)
	}
	return pool, nil
}

// ReadSecretFile returns the content of the secret file at path without
// its trailing newline. It refuses a file that group or others may read
// or write (wrapping ErrExposedSecret, with the chmod that fixes it).
func ReadSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	if err := checkPrivate(f, path, ""); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// checkPrivate refuses the open file f (named path) when group or others
// have any access to it; what names why it must be private.
func checkPrivate(f *os.File, path, what string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("config: %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s%s has mode %04o, open to group or others; run: chmod 600 %s",
			ErrExposedSecret, path, what, perm, path)
	}
	return checkOwner(fi, path)
}

// resolvePath returns path, taken relative to base when it is relative.
func resolvePath(base, path string) string {
	if filepath.IsAbs(path) || base == "" {
		return path
	}
	return filepath.Join(base, path)
}

// validateWebhook requires https for notify.webhook_url, except to a
// loopback address: the body names who waits for approval on which host,
// and the signature must not be replayable by whoever sits on the path.
func (c *Config) validateWebhook(p *problems) {
	raw := c.Notify.WebhookURL
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return // not a URL at all: validateApproval reports it
	}
	if u.User != nil {
		p.add("notify.webhook_url", "carries a user name or password; authenticate with notify.secret_file instead")
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		p.add("notify.webhook_url", "is plain http to a remote host; use https:// (http only to 127.0.0.1, ::1 or localhost)")
	}
}

// isLoopback reports whether host is a loopback IP address or "localhost".
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
