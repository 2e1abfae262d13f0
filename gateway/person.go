package gateway

import "github.com/gliderlabs/ssh"

// samePerson reports whether user names a and b are one person: the same
// name, or accounts sharing a public key (whoever holds it can log in as
// both). Configuration validation refuses shared keys; this holds even
// if one slipped through.
func (s *Server) samePerson(a, b string) bool {
	if a == b {
		return true
	}
	for _, ka := range s.userKeys[a] {
		for _, kb := range s.userKeys[b] {
			if ssh.KeysEqual(ka, kb) {
				return true
			}
		}
	}
	return false
}
