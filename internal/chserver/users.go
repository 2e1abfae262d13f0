package chserver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/foureyes/foureyes/config"
)

// User is a ClickHouse user written into the generated users.xml.
// ClickHouse 18.16 has no SQL GRANT: what a user may do is its profile
// (readonly) and its allowed databases; docs/operations.md gives the
// equivalent GRANTs for current releases.
type User struct {
	// Name is the user name: letters, digits and underscores.
	Name string
	// Password is stored as its SHA-256 (password_sha256_hex).
	Password string
	// ReadOnly gives the user the "readonly" profile (readonly = 1): it
	// may run SELECT and nothing else, not even change settings.
	ReadOnly bool
	// Databases are the only databases the user may use
	// (allow_databases). Empty: every database.
	Databases []string
}

// UsersXML returns a users.xml with the "default" user (loopback only,
// full rights: the tests' and dev stack's administrator; passwordless
// when adminPassword is empty) and users.
func UsersXML(adminPassword string, users []User) ([]byte, error) {
	var b strings.Builder
	admin := "<password></password>"
	if adminPassword != "" {
		admin = "<password_sha256_hex>" + sha256Hex(adminPassword) + "</password_sha256_hex>"
	}
	b.WriteString(strings.Replace(`<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
        </default>
        <readonly>
            <max_memory_usage>4000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            %s
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
`, "%s", admin, 1))
	seen := map[string]bool{"default": true}
	for _, u := range users {
		if !config.IsSQLIdentifier(u.Name) || seen[u.Name] {
			return nil, fmt.Errorf("chserver: user name %q: use letters, digits and underscores, once each, not default", u.Name)
		}
		seen[u.Name] = true
		profile := "default"
		if u.ReadOnly {
			profile = "readonly"
		}
		fmt.Fprintf(&b, `        <%[1]s>
            <password_sha256_hex>%[2]s</password_sha256_hex>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>%[3]s</profile>
            <quota>default</quota>
`, u.Name, sha256Hex(u.Password), profile)
		if len(u.Databases) > 0 {
			b.WriteString("            <allow_databases>\n")
			for _, d := range u.Databases {
				if !config.IsSQLIdentifier(d) {
					return nil, fmt.Errorf("chserver: user %s: database name %q: use letters, digits and underscores", u.Name, d)
				}
				fmt.Fprintf(&b, "                <database>%s</database>\n", d)
			}
			b.WriteString("            </allow_databases>\n")
		}
		fmt.Fprintf(&b, "        </%s>\n", u.Name)
	}
	b.WriteString(`    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`)
	return []byte(b.String()), nil
}

// xmlEscape escapes s for an XML text node.
func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// writePrivate writes b to path with mode 0600, whatever the umask and
// the mode of an earlier file.
func writePrivate(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("chserver: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("chserver: %w", err)
	}
	return nil
}

// sha256Hex is what users.xml's password_sha256_hex holds.
func sha256Hex(password string) string {
	sum := sha256.Sum256([]byte(password))
	return hex.EncodeToString(sum[:])
}
