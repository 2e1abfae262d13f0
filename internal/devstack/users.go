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

// devUsers creates a new random password for each part's user in
// DIR/secrets/ROLE.password (mode 0600; referenced by password_file in
// the generated configuration) and returns the users for users.xml.
func devUsers(dir, database string) ([]chserver.User, error) {
	sdir := filepath.Join(dir, "secrets")
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	var users []chserver.User
	for _, u := range clickhouseUsers {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
		pw := hex.EncodeToString(b)
		path := filepath.Join(sdir, string(u.role)+".password")
		if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("devstack: %w", err)
		}
		users = append(users, chserver.User{Name: u.name, Password: pw, ReadOnly: u.readOnly, Databases: []string{database}})
	}
	return users, nil
}
