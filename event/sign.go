package event

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Signing: a gateway signs points of its streams' hash chains with an
// Ed25519 key. Because every hash covers its predecessor, a signature over
// (session, seq, hash) vouches for every event up to seq. A chain.seal
// event carries a signature over an earlier point of the same chain (the
// signing is asynchronous, off the keystroke path); a session.end carries
// a signature over itself (Meta seal_key and seal_sig are left out of the
// hash that is signed). Someone who can rewrite the stored events but does
// not hold the key can recompute hashes but not signatures.

// Meta keys of signatures.
const (
	// MetaSealSeq, MetaSealHash: the chain point a chain.seal signs.
	MetaSealSeq  = "seq"
	MetaSealHash = "hash"
	// MetaSealKey is the KeyID of the signing key, MetaSealSig the
	// base64 (standard, padded) Ed25519 signature.
	MetaSealKey = "key"
	MetaSealSig = "sig"
	// MetaEndKey and MetaEndSig sign a session.end itself.
	MetaEndKey = "seal_key"
	MetaEndSig = "seal_sig"
)

// Domain separators of the signed messages: a signature made for one
// purpose never verifies for another.
const (
	sealDomain      = "foureyes-seal-v1\x00"
	endDomain       = "foureyes-end-v1\x00"
	retentionDomain = "foureyes-retention-v1\x00"
)

// Errors of signature checks; callers compare with errors.Is.
var (
	// ErrUnknownKey: the key id is not among the trusted keys.
	ErrUnknownKey = errors.New("event: signed by a key that is not trusted")
	// ErrBadSignature: the signature does not verify for the signed point.
	ErrBadSignature = errors.New("event: signature does not verify")
	// ErrNotSigned: the event carries no signature.
	ErrNotSigned = errors.New("event: not signed")
	// ErrBadKey: a public key in text form does not parse.
	ErrBadKey = errors.New("event: malformed signing key")
)

// KeyID names a public key in seals: "ed25519:" and the first 8 bytes of
// SHA-256 of the key, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}

// FormatPublicKey returns the text form of pub that verifiers list as a
// trusted key: "ed25519:" and the base64 of the 32 key bytes.
func FormatPublicKey(pub ed25519.PublicKey) string {
	return "ed25519:" + base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey decodes the text form made by FormatPublicKey.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "ed25519:")
	if !ok {
		return nil, fmt.Errorf("%w: want ed25519:BASE64 (from foureyes gateway --print-signing-key)", ErrBadKey)
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: want %d base64-encoded bytes after ed25519:", ErrBadKey, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// SealMessage returns the message a chain.seal signs for the point seq of
// session whose hash is h.
func SealMessage(session string, seq uint64, h Hash) []byte {
	return appendPoint([]byte(sealDomain), session, seq, h)
}

func appendPoint(b []byte, session string, seq uint64, h Hash) []byte {
	b = appendString(b, session)
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, h[:]...)
}

// EndDigest returns the hash a session.end's own signature covers: the
// canonical hash of e without its MetaEndKey and MetaEndSig entries.
func EndDigest(e *Event) Hash {
	c := *e
	if _, ok := e.Meta[MetaEndSig]; ok || e.Meta[MetaEndKey] != "" {
		c.Meta = make(map[string]string, len(e.Meta))
		for k, v := range e.Meta {
			if k != MetaEndKey && k != MetaEndSig {
				c.Meta[k] = v
			}
		}
	}
	return ComputeHash(&c)
}

func endMessage(e *Event) []byte {
	return appendPoint([]byte(endDomain), e.Session, e.Seq, EndDigest(e))
}

// Signer signs chain points with one Ed25519 key.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// NewSigner returns a Signer for key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey))}
}

// KeyID returns the id of the signing key.
func (s *Signer) KeyID() string { return s.id }

// Public returns the public key.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// SealMeta returns the Meta of a chain.seal that signs point seq (hash h)
// of session.
func (s *Signer) SealMeta(session string, seq uint64, h Hash) map[string]string {
	sig := ed25519.Sign(s.key, SealMessage(session, seq, h))
	return map[string]string{
		MetaSealSeq: strconv.FormatUint(seq, 10), MetaSealHash: h.String(),
		MetaSealKey: s.id, MetaSealSig: base64.StdEncoding.EncodeToString(sig),
	}
}

// SignEnd adds MetaEndKey and MetaEndSig to e, a session.end whose
// Session, Seq, Prev and other fields are final except Hash; the caller
// computes Hash afterwards (Chain.Seal does). e.Meta must not be nil.
func (s *Signer) SignEnd(e *Event) {
	delete(e.Meta, MetaEndSig)
	e.Meta[MetaEndKey] = s.id
	sig := ed25519.Sign(s.key, endMessage(e))
	e.Meta[MetaEndSig] = base64.StdEncoding.EncodeToString(sig)
}

// RetentionMessage returns the message that signs the retention_log row
// whose hash is h (the row hash covers every field and its predecessor's
// hash; ingest/retention computes it).
func RetentionMessage(h Hash) []byte {
	return append([]byte(retentionDomain), h[:]...)
}

// SignRetention returns the base64 signature of the retention_log row
// whose hash is h.
func (s *Signer) SignRetention(h Hash) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, RetentionMessage(h)))
}

// Keyring holds the trusted public keys of verifiers, by KeyID.
type Keyring struct {
	keys map[string]ed25519.PublicKey
}

// NewKeyring returns a Keyring trusting keys.
func NewKeyring(keys ...ed25519.PublicKey) *Keyring {
	k := &Keyring{keys: make(map[string]ed25519.PublicKey, len(keys))}
	for _, p := range keys {
		k.Add(p)
	}
	return k
}

// Add trusts pub.
func (k *Keyring) Add(pub ed25519.PublicKey) { k.keys[KeyID(pub)] = pub }

// Len returns the number of trusted keys.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

// Seal is a chain point vouched for by a verified signature.
type Seal struct {
	Seq uint64
	Key string // KeyID
}

// VerifySeal checks the chain.seal e of its stream: that it carries a
// trusted key's valid signature over the point it names. It returns that
// point; the caller checks that the stream's hash at Seq is the one
// signed (the returned hash).
func (k *Keyring) VerifySeal(e *Event) (Seal, Hash, error) {
	m := e.Meta
	seq, err := strconv.ParseUint(m[MetaSealSeq], 10, 64)
	if err != nil {
		return Seal{}, Hash{}, fmt.Errorf("%w: seal names no seq", ErrBadSignature)
	}
	h, err := ParseHash(m[MetaSealHash])
	if err != nil {
		return Seal{}, Hash{}, fmt.Errorf("%w: seal names no hash", ErrBadSignature)
	}
	if seq >= e.Seq {
		return Seal{}, Hash{}, fmt.Errorf("%w: seal at seq %d names a later point %d", ErrBadSignature, e.Seq, seq)
	}
	if err := k.check(m[MetaSealKey], m[MetaSealSig], SealMessage(e.Session, seq, h)); err != nil {
		return Seal{}, Hash{}, err
	}
	return Seal{Seq: seq, Key: m[MetaSealKey]}, h, nil
}

// VerifyEnd checks the signature a session.end carries over itself.
func (k *Keyring) VerifyEnd(e *Event) (Seal, error) {
	id, sig := e.Meta[MetaEndKey], e.Meta[MetaEndSig]
	if id == "" && sig == "" {
		return Seal{}, ErrNotSigned
	}
	if err := k.check(id, sig, endMessage(e)); err != nil {
		return Seal{}, err
	}
	return Seal{Seq: e.Seq, Key: id}, nil
}

// VerifyRetention checks sig, made by the key named id, over the
// retention_log row whose hash is h. It returns an error wrapping
// ErrNotSigned, ErrUnknownKey or ErrBadSignature.
func (k *Keyring) VerifyRetention(id, sig string, h Hash) error {
	if id == "" && sig == "" {
		return ErrNotSigned
	}
	return k.check(id, sig, RetentionMessage(h))
}

func (k *Keyring) check(id, sig string, msg []byte) error {
	if k == nil {
		return fmt.Errorf("%w: %.40q (no trusted keys)", ErrUnknownKey, id)
	}
	pub, ok := k.keys[id]
	if !ok {
		return fmt.Errorf("%w: %.40q", ErrUnknownKey, id)
	}
	raw, err := decodeSig(sig)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return fmt.Errorf("%w: malformed signature", ErrBadSignature)
	}
	if !ed25519.Verify(pub, msg, raw) {
		return fmt.Errorf("%w (key %s)", ErrBadSignature, id)
	}
	return nil
}

// decodeSig decodes the base64 text of a signature.
func decodeSig(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
