package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Signing configures the signatures that make a recording rewritten in the
// database detectable (docs/storage.md, "Signed recordings").
type Signing struct {
	// KeyFile is the gateway's Ed25519 signing key, created on first start
	// with mode 0600; refused when group or world can read it. Default:
	// DATA_DIR/signing_ed25519.
	KeyFile string `yaml:"key_file"`
	// SealEvery is how many events of a stream may go unsigned before a
	// chain.seal signs them. Default: 1000; 1..100000.
	SealEvery int `yaml:"seal_every"`
	// SealInterval is the longest a recorded event waits for a seal.
	// Default: 10s; 100ms..1h.
	SealInterval time.Duration `yaml:"seal_interval"`
	// TrustedKeys are the public keys (ed25519:BASE64, as printed by
	// `foureyes gateway --print-signing-key`) whose seals `audit verify`
	// accepts: every gateway's current key, and retired keys for as long
	// as data they signed is kept. The gateway's own key is always trusted.
	TrustedKeys []string `yaml:"trusted_keys"`
}

// setSigningDefaults fills the documented defaults of the signing section.
func (c *Config) setSigningDefaults() {
	s := &c.Signing
	if c.Gateway.DataDir != "" {
		setStr(&s.KeyFile, filepath.Join(c.Gateway.DataDir, "signing_ed25519"))
	}
	if c.Gateway.DataDir != "" {
		setStr(&c.Retention.SigningKeyFile, filepath.Join(c.Gateway.DataDir, "retention_ed25519"))
	}
	setStr(&c.Retention.SigningKeyFile, DefaultRetentionKeyFile)
	setInt(&s.SealEvery, 1000)
	setDur(&s.SealInterval, 10*time.Second)
}

// validateSigning checks the signing section.
func (c *Config) validateSigning(p *problems) {
	s := c.Signing
	if s.SealEvery < 1 || s.SealEvery > 100000 {
		p.add("signing.seal_every", "is %d; use a value between 1 and 100000", s.SealEvery)
	}
	if s.SealInterval < 100*time.Millisecond || s.SealInterval > time.Hour {
		p.add("signing.seal_interval", "is %s; use a duration between 100ms and 1h", formatDuration(s.SealInterval))
	}
	for i, k := range s.TrustedKeys {
		if _, err := parseTrustedKey(k); err != nil {
			p.add(keyIndex("signing.trusted_keys", i), "%q is not ed25519:BASE64; copy the line `foureyes gateway --print-signing-key` prints", quotePrefix(k, 40))
		}
	}
}

// TrustedPublicKeys returns the decoded signing.trusted_keys (invalid
// entries, which Validate reports, are skipped).
func (s Signing) TrustedPublicKeys() []ed25519.PublicKey {
	var out []ed25519.PublicKey
	for _, k := range s.TrustedKeys {
		if pub, err := parseTrustedKey(k); err == nil {
			out = append(out, pub)
		}
	}
	return out
}

// parseTrustedKey decodes ed25519:BASE64 (the config package does not
// import event; the format is event.FormatPublicKey's).
func parseTrustedKey(s string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "ed25519:")
	if !ok {
		return nil, ErrInvalid
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, ErrInvalid
	}
	return ed25519.PublicKey(b), nil
}

func keyIndex(key string, i int) string { return fmt.Sprintf("%s[%d]", key, i) }
