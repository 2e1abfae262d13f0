package recorder

import (
	"crypto/ed25519"
	"fmt"

	"github.com/foureyes/foureyes/internal/keyfile"
)

// ErrSigningKeyPermissions: the signing key file is readable by group or
// others. Anyone who can read it can sign a forged recording.
var ErrSigningKeyPermissions = keyfile.ErrPermissions

// LoadSigningKey returns the Ed25519 signing key stored at path (PKCS#8
// PEM), creating one there on first use (file 0600, new parent
// directories 0700). A key file readable by group or others is refused.
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no signing key file; set signing.key_file or gateway.data_dir", ErrConfig)
	}
	k, err := keyfile.Load(path)
	if err != nil {
		return nil, fmt.Errorf("recorder: signing key: %w", err)
	}
	return k, nil
}
