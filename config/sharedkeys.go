package config

import (
	"fmt"

	gossh "golang.org/x/crypto/ssh"
)

// validateSharedKeys refuses a public key listed for two users: whoever
// holds it could log in as either, and four-eyes approval counts people
// by their user name, so one person would be two pairs of eyes.
func (c *Config) validateSharedKeys(p *problems) {
	owner := map[string]int{} // key wire bytes → index of the first user listing it
	for i, u := range c.Users {
		for j, line := range u.Keys {
			k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
			if err != nil {
				continue // reported by validateUsers
			}
			wire := string(k.Marshal())
			first, ok := owner[wire]
			switch {
			case !ok:
				owner[wire] = i
			case c.Users[first].Name != u.Name:
				p.add(fmt.Sprintf("users[%d].keys[%d]", i, j), "key %s belongs to both %s and %s; give each person their own key",
					gossh.FingerprintSHA256(k), quotePrefix(c.Users[first].Name, 40), quotePrefix(u.Name, 40))
			}
		}
	}
}
