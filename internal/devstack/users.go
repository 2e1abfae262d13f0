package devstack

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/internal/chserver"
)

// clickhouseUser is one part's ClickHouse user in the dev stack, as
// docs/operations.md sets them up for production: ingest writes, retention
// drops, audit only reads, holds writes holds (on 18.16, which has no
// table grants, it may write the whole database).
type clickhouseUser struct {
	role     config.ClickHouseRole
	name     string
	readOnly bool
}

var clickhouseUsers = []clickhouseUser{
	{config.RoleIngest, "foureyes_ingest", false},
	{config.RoleRetention, "foureyes_retention", false},
	{config.RoleAudit, "foureyes_audit", true},
	{config.RoleHolds, "foureyes_holds", false},
}

// devUsers creates a new random password for the administrator
// ("default") and for each part's user in DIR/secrets/NAME.password (mode
// 0600; the parts' are referenced by password_file in the generated
// configuration) and returns the administrator's password and the users
// for users.xml.
func devUsers(dir, database string) (admin string, users []chserver.User, err error) {
	sdir := filepath.Join(dir, "secrets")
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return "", nil, fmt.Errorf("devstack: %w", err)
	}
	if admin, err = newSecret(filepath.Join(sdir, "admin.password")); err != nil {
		return "", nil, err
	}
	for _, u := range clickhouseUsers {
		pw, err := newSecret(filepath.Join(sdir, string(u.role)+".password"))
		if err != nil {
			return "", nil, err
		}
		users = append(users, chserver.User{Name: u.name, Password: pw, ReadOnly: u.readOnly, Databases: []string{database}})
	}
	return admin, users, nil
}

// newSecret writes a new random password into path (mode 0600) and
// returns it.
func newSecret(path string) (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("devstack: %w", err)
	}
	pw := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("devstack: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return "", fmt.Errorf("devstack: %w", err)
	}
	return pw, nil
}
