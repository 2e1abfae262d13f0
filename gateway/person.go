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
	keys := s.pol.Load().keys
	for _, ka := range keys[a] {
		for _, kb := range keys[b] {
			if ssh.KeysEqual(ka.Key, kb.Key) {
				return true
			}
		}
	}
	return false
}
