package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/internal/testca"
)

// writeConfig writes base() plus extra to DIR/c.yaml with mode perm.
func writeConfig(t *testing.T, dir, extra string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte(base()+extra), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // umask
		t.Fatal(err)
	}
	return p
}

func writeSecret(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

// TestConfigFileWithSecretsMustBePrivate: a config holding a password
// inline is refused unless only its owner may read it, as sshd refuses
// keys; the error names the file, its mode and the chmod.
func TestConfigFileWithSecretsMustBePrivate(t *testing.T) {
	secrets := map[string]string{
		"clickhouse.password":       "clickhouse:\n  password: hunter2\n",
		"clickhouse.audit.password": "clickhouse:\n  audit: {username: auditor, password: hunter2}\n",
		"kafka.sasl.password":       "",
		"notify.webhook_secret":     "notify:\n  webhook_url: https://chat.example.org/hook\n  webhook_secret: hunter2\n",
	}
	for key, extra := range secrets {
		if extra == "" {
			continue // the kafka section of base() is edited below
		}
		for _, perm := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602} {
			t.Run(fmt.Sprintf("%s %04o", key, perm), func(t *testing.T) {
				p := writeConfig(t, t.TempDir(), extra, perm)
				_, err := Load(p)
				if !errors.Is(err, ErrExposedSecret) {
					t.Fatalf("Load = %v; want ErrExposedSecret", err)
				}
				for _, want := range []string{p, fmt.Sprintf("%04o", perm), "chmod 600 " + p, key} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not name %q", err, want)
					}
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q shows the secret", err)
				}
			})
		}
		t.Run(key+" 0600", func(t *testing.T) {
			p := writeConfig(t, t.TempDir(), extra, 0o600)
			if _, err := Load(p); err != nil {
				t.Fatalf("Load of a 0600 file = %v; want nil", err)
			}
		})
	}
	t.Run("kafka.sasl.password 0644", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		s := strings.Replace(base(), "brokers: [127.0.0.1:9092]", "brokers: [127.0.0.1:9092]\n  tls: {enabled: true}\n  sasl: {mechanism: SCRAM-SHA-512, username: gw, password: hunter2}", 1)
		writeSecret(t, p, s, 0o644)
		if _, err := Load(p); !errors.Is(err, ErrExposedSecret) || !strings.Contains(err.Error(), "kafka.sasl.password") {
			t.Fatalf("Load = %v; want ErrExposedSecret naming kafka.sasl.password", err)
		}
	})
	t.Run("no secrets, world readable", func(t *testing.T) {
		p := writeConfig(t, t.TempDir(), "", 0o644)
		if _, err := Load(p); err != nil {
			t.Fatalf("Load of a 0644 file without secrets = %v; want nil", err)
		}
	})
}

// TestSecretFiles: *_file keys are read (relative to the config file),
// trailing newline dropped; a file group or others may access, a missing
// one, an empty one and a secret given twice are refused by key.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"ch", "audit", "sasl", "hook"} {
		writeSecret(t, filepath.Join(dir, name), "s3cret-"+name+"\n", 0o600)
	}
	extra := `clickhouse:
  password_file: ch
  audit: {username: auditor, password_file: ` + filepath.Join(dir, "audit") + `}
notify:
  webhook_url: https://chat.example.org/hook
  secret_file: hook
`
	s := strings.Replace(base()+extra, "brokers: [127.0.0.1:9092]", "brokers: [127.0.0.1:9092]\n  sasl: {mechanism: scram-sha-256, username: gw, password_file: sasl}", 1)
	p := filepath.Join(dir, "c.yaml")
	writeSecret(t, p, s, 0o644) // no secret inline: may be world readable
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		c.ClickHouse.Password:       "s3cret-ch",
		c.ClickHouse.Audit.Password: "s3cret-audit",
		c.Kafka.SASL.Password:       "s3cret-sasl",
		c.Notify.WebhookSecret:      "s3cret-hook",
		c.Kafka.SASL.Mechanism:      SASLScramSHA256,
	} {
		if got != want {
			t.Errorf("got %q; want %q", got, want)
		}
	}
	if a := c.ClickHouse.As(RoleAudit); a.Username != "auditor" || a.Password != "s3cret-audit" {
		t.Errorf("As(audit) = %q/%q; want auditor/s3cret-audit", a.Username, a.Password)
	}

	refused := []struct {
		name, key, want string
		setup           func(dir string)
	}{
		{"group readable", "clickhouse.password_file", "chmod 600", func(d string) { writeSecret(t, filepath.Join(d, "ch"), "x", 0o640) }},
		{"world readable", "clickhouse.password_file", "chmod 600", func(d string) { writeSecret(t, filepath.Join(d, "ch"), "x", 0o604) }},
		{"empty", "clickhouse.password_file", "is empty", func(d string) { writeSecret(t, filepath.Join(d, "ch"), "\n", 0o600) }},
		{"a directory", "clickhouse.password_file", "not a regular file", func(d string) { os.Mkdir(filepath.Join(d, "ch"), 0o700) }},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			tt.setup(d)
			p := writeConfig(t, d, "clickhouse:\n  password_file: ch\n", 0o600)
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), tt.key+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v; want an error naming %s and %q", err, tt.key, tt.want)
			}
		})
	}
}

// TestSecretFileOwnedByAnotherUser: a secret file, or a configuration
// holding a secret, that another user owns is refused (they could rewrite
// it), as sshd refuses keys.
func TestSecretFileOwnedByAnotherUser(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "ch.password")
	writeSecret(t, secret, "s", 0o600)
	inline := writeConfig(t, t.TempDir(), "clickhouse:\n  password: hunter2\n", 0o600)
	if os.Getuid() == 0 {
		for _, p := range []string{secret, inline} {
			if err := os.Chown(p, 4242, 4242); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		// Files we own look like another user's to a process running as 4242.
		old := processUID
		processUID = 4242
		t.Cleanup(func() { processUID = old })
	}
	if _, err := ReadSecretFile(secret); !errors.Is(err, ErrExposedSecret) || !strings.Contains(err.Error(), "is owned by uid") || !strings.Contains(err.Error(), "chown") {
		t.Errorf("ReadSecretFile = %v; want ErrExposedSecret, owned by … chown", err)
	}
	if _, err := Load(inline); !errors.Is(err, ErrExposedSecret) || !strings.Contains(err.Error(), inline) {
		t.Errorf("Load = %v; want ErrExposedSecret naming %s", err, inline)
	}
}

// TestConfigFileOthersMayChange: whoever may write the configuration can
// make themselves an admin: a file group or others may write, or that
// another user owns, is refused even without secrets.
func TestConfigFileOthersMayChange(t *testing.T) {
	for _, perm := range []os.FileMode{0o666, 0o664, 0o646, 0o620} {
		p := writeConfig(t, t.TempDir(), "", perm)
		_, err := Load(p)
		if !errors.Is(err, ErrUnsafeConfig) || !strings.Contains(err.Error(), fmt.Sprintf("%04o", perm)) || !strings.Contains(err.Error(), "chmod go-w "+p) {
			t.Errorf("mode %04o: Load = %v; want ErrUnsafeConfig with the mode and chmod go-w", perm, err)
		}
	}
	p := writeConfig(t, t.TempDir(), "", 0o644)
	if os.Getuid() == 0 {
		if err := os.Chown(p, 4242, 4242); err != nil {
			t.Fatal(err)
		}
	} else {
		old := processUID
		processUID = 4242
		t.Cleanup(func() { processUID = old })
	}
	if _, err := Load(p); !errors.Is(err, ErrUnsafeConfig) || !strings.Contains(err.Error(), "is owned by uid") {
		t.Errorf("owned by another user: Load = %v; want ErrUnsafeConfig, owned by uid …", err)
	}
}

// TestMissingSecretFileOnlyForItsPart: a shared configuration may name
// the ingest user's password file on the bastion, where it must not be:
// a missing file is refused only for the part that needs it.
func TestMissingSecretFileOnlyForItsPart(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, filepath.Join(dir, "audit.password"), "a", 0o600)
	p := writeConfig(t, dir, `clickhouse:
  ingest: {username: writer, password_file: ingest.password}
  audit: {username: auditor, password_file: audit.password}
`, 0o600)
	if _, err := CheckFile(p, PartGateway); err != nil {
		t.Fatalf("for the gateway: %v; want nil (it does not need ingest's password)", err)
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("Load: %v; want nil", err)
	}
	_, err := CheckFile(p, PartIngest)
	want := "clickhouse.ingest.password_file: " + filepath.Join(dir, "ingest.password") + " does not exist; write the secret into it (mode 0600)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("for ingest: %v; want %q", err, want)
	}
	// Without its own credentials, the audit part uses clickhouse.password_file.
	p = writeConfig(t, t.TempDir(), "clickhouse:\n  password_file: nope\n", 0o600)
	if _, err := CheckFile(p, PartGateway); err == nil || !strings.Contains(err.Error(), "clickhouse.password_file: ") {
		t.Fatalf("for the gateway: %v; want clickhouse.password_file: … does not exist", err)
	}
}

// TestWebhookNeedsHTTPS: the webhook body and signature go over https,
// except to this machine.
func TestWebhookNeedsHTTPS(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://chat.example.org/hook", true},
		{"http://127.0.0.1:8080/hook", true},
		{"http://[::1]:8080/hook", true},
		{"http://localhost/hook", true},
		{"http://127.9.9.9/hook", true},
		{"http://chat.example.org/hook", false},
		{"http://10.0.0.7/hook", false},
		{"http://127.0.0.1.example.org/hook", false},
		{"http://localhost.example.org/hook", false},
		{"HTTP://chat.example.org/hook", false},
		{"https://user:pass@chat.example.org/hook", false},
		{"ftp://chat.example.org/hook", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := Parse([]byte(base() + "notify:\n  webhook_url: " + tt.url + "\n  webhook_secret: x\n"))
			if tt.ok && err != nil {
				t.Fatalf("Parse = %v; want nil", err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "notify.webhook_url: ")) {
				t.Fatalf("Parse = %v; want an error naming notify.webhook_url", err)
			}
		})
	}
}

// TestTransportValidation: tls, sasl and per-part credentials are
// refused with the key and the fix.
func TestTransportValidation(t *testing.T) {
	kafka := func(extra string) func(string) string {
		return func(s string) string {
			return strings.Replace(s, "brokers: [127.0.0.1:9092]", "brokers: [127.0.0.1:9092]\n"+extra, 1)
		}
	}
	appendix := func(extra string) func(string) string { return func(s string) string { return s + extra } }
	tests := []struct {
		name string
		edit func(string) string
		want string
	}{
		{"unknown mechanism", kafka("  sasl: {mechanism: GSSAPI, username: u, password: p}"), `kafka.sasl.mechanism: "GSSAPI": use SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN`},
		{"PLAIN without TLS", kafka("  sasl: {mechanism: PLAIN, username: u, password: p}"), "kafka.sasl.mechanism: PLAIN sends the password in clear; enable kafka.tls or use SCRAM-SHA-512"},
		{"no user", kafka("  sasl: {mechanism: SCRAM-SHA-512, password: p}"), "kafka.sasl.username: is required with kafka.sasl.mechanism"},
		{"no password", kafka("  sasl: {mechanism: SCRAM-SHA-512, username: u}"), "kafka.sasl.password_file: is required with kafka.sasl.mechanism; put the password in a file of mode 0600"},
		{"credentials, no mechanism", kafka("  sasl: {username: u, password: p}"), "kafka.sasl.mechanism: is empty but kafka.sasl has credentials; set SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN"},
		{"password twice", kafka("  sasl: {mechanism: SCRAM-SHA-512, username: u, password: p, password_file: f}"), "kafka.sasl.password: is set together with kafka.sasl.password_file; keep only password_file"},
		{"cert without key", kafka("  tls: {enabled: true, cert_file: c.pem}"), "kafka.tls.key_file: kafka.tls.cert_file and kafka.tls.key_file go together; set both or neither"},
		{"tls keys, not enabled", appendix("clickhouse:\n  tls: {ca_file: ca.pem}\n"), "clickhouse.tls.enabled: is false but clickhouse.tls has other keys; set enabled: true or remove them"},
		{"part password, no user", appendix("clickhouse:\n  ingest: {password: p}\n"), "clickhouse.ingest.username: is required with clickhouse.ingest.password"},
		{"part password twice", appendix("clickhouse:\n  retention: {username: r, password: p, password_file: f}\n"), "clickhouse.retention.password: is set together with clickhouse.retention.password_file; keep only password_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.edit(base())))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %v; want an *Error", err)
			}
			found := false
			for _, p := range e.Problems {
				found = found || p == tt.want
			}
			if !found {
				t.Errorf("problems %q; want %q among them", e.Problems, tt.want)
			}
		})
	}
}

// TestTLSFiles: ca_file must hold certificates, key_file must be
// private, and cert_file/key_file must be a pair.
func TestTLSFiles(t *testing.T) {
	ca, err := testca.New("test")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f, err := ca.WriteFiles(dir, "kafka")
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.WriteFiles(dir, "other")
	if err != nil {
		t.Fatal(err)
	}
	tlsSection := func(caFile, cert, key string) string {
		return fmt.Sprintf("  tls: {enabled: true, ca_file: %q, cert_file: %q, key_file: %q}", caFile, cert, key)
	}
	load := func(section string) error {
		s := strings.Replace(base(), "brokers: [127.0.0.1:9092]", "brokers: [127.0.0.1:9092]\n"+section, 1)
		p := filepath.Join(t.TempDir(), "c.yaml")
		writeSecret(t, p, s, 0o600)
		_, err := Load(p)
		return err
	}
	if err := load(tlsSection(f.CA, f.Cert, f.Key)); err != nil {
		t.Fatalf("valid files: %v", err)
	}
	if err := load(tlsSection(f.Key, f.Cert, f.Key)); err == nil || !strings.Contains(err.Error(), "kafka.tls.ca_file: config: "+f.Key+" holds no PEM certificate") {
		t.Errorf("key as CA: %v; want kafka.tls.ca_file: … holds no PEM certificate", err)
	}
	if err := load(tlsSection(f.CA, f.Cert, other.Key)); err == nil || !strings.Contains(err.Error(), "kafka.tls.cert_file: ") {
		t.Errorf("mismatched pair: %v; want kafka.tls.cert_file: …", err)
	}
	if err := os.Chmod(f.Key, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := load(tlsSection(f.CA, f.Cert, f.Key)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "kafka.tls.key_file: ") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("readable key: %v; want kafka.tls.key_file: … chmod 600", err)
	}
}

// TestClickHouseAs: each part connects with its own user, falling back
// to clickhouse.username; holds fall back to the audit user; UserKey
// names the key that set the user.
func TestClickHouseAs(t *testing.T) {
	ch := ClickHouse{Username: "default", Password: "d", Audit: Credentials{Username: "auditor", Password: "a"}, Ingest: Credentials{Username: "writer", Password: "w"}}
	tests := []struct {
		role          ClickHouseRole
		user, pass, k string
	}{
		{RoleIngest, "writer", "w", "clickhouse.ingest.username"},
		{RoleRetention, "default", "d", "clickhouse.username"},
		{RoleAudit, "auditor", "a", "clickhouse.audit.username"},
		{RoleHolds, "auditor", "a", "clickhouse.audit.username"},
	}
	for _, tt := range tests {
		got := ch.As(tt.role)
		if got.Username != tt.user || got.Password != tt.pass || got.UserKey() != tt.k {
			t.Errorf("As(%s) = %s/%s (%s); want %s/%s (%s)", tt.role, got.Username, got.Password, got.UserKey(), tt.user, tt.pass, tt.k)
		}
	}
}
