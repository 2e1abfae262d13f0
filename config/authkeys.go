package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// A users[].keys[] entry is an authorized_keys line: "[OPTIONS] TYPE
// BASE64 [COMMENT]". The options that restrict a key are honoured as sshd
// honours them; every other option is refused with a configuration error,
// never ignored: a key line that says more than foureyes enforces would
// grant more than the operator wrote.

// ErrKeyOption is wrapped by the errors of ParseAuthorizedKey about a key
// line's options (unsupported, malformed, given twice).
var ErrKeyOption = errors.New("config: key option")

// AuthorizedKey is one parsed users[].keys[] line.
type AuthorizedKey struct {
	Key     gossh.PublicKey
	Comment string
	Options KeyOptions
}

// KeyOptions are the restrictions of a key line. The zero value restricts
// nothing beyond what the bastion always refuses (port, agent and X11
// forwarding; user rc files do not exist on the bastion).
type KeyOptions struct {
	// From is the from="PATTERN-LIST" option: comma-separated address
	// patterns (wildcards * and ?, or CIDR), each possibly negated with
	// '!'. Empty: any address.
	From []string
	// ExpiresAt is the expiry-time= option: the key is refused from this
	// instant on, and sessions logged in with it end. Zero: never.
	ExpiresAt time.Time
	// NoPTY (no-pty, or restrict without a later pty) refuses terminals.
	NoPTY bool
	// Restrict records "restrict", and the no-*-forwarding and
	// no-user-rc options; the bastion enforces them always.
	Restrict, NoPortForwarding, NoAgentForwarding, NoX11Forwarding, NoUserRC bool
}

// unsupportedOptions are authorized_keys options foureyes does not
// implement, with the fix shown in the error.
var unsupportedOptions = map[string]string{
	"command":           "forced commands are not supported; remove it and restrict the user's roles instead",
	"environment":       "environment= is not supported; the bastion passes only the locale to hosts",
	"permitopen":        "the bastion never forwards ports; remove it",
	"permitlisten":      "the bastion never forwards ports; remove it",
	"principals":        "certificates are not supported; list the user's keys instead",
	"cert-authority":    "certificates are not supported; list the user's keys instead",
	"tunnel":            "the bastion never forwards tunnels; remove it",
	"port-forwarding":   "the bastion never forwards ports; remove it",
	"agent-forwarding":  "the bastion never forwards agents; remove it",
	"x11-forwarding":    "the bastion never forwards X11; remove it",
	"user-rc":           "the bastion runs no rc files; remove it",
	"no-touch-required": "security-key options are not supported; remove it",
	"verify-required":   "security-key options are not supported; remove it",
	"touch-required":    "security-key options are not supported; remove it",
}

// ParseAuthorizedKey parses one users[].keys[] line and its options. An
// option foureyes does not implement is an error naming it (wrapping
// ErrKeyOption), never ignored.
func ParseAuthorizedKey(line string) (AuthorizedKey, error) {
	k, comment, opts, rest, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return AuthorizedKey{}, fmt.Errorf("config: not a public key: %w", err)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return AuthorizedKey{}, fmt.Errorf("%w: one key per entry; split the lines into separate list items", ErrKeyOption)
	}
	if _, ok := k.(*gossh.Certificate); ok {
		// Its validity, principals and options would go unchecked: the
		// gateway compares keys, it does not verify certificates.
		return AuthorizedKey{}, fmt.Errorf("%w: certificates are not supported; list the user's plain public key instead", ErrKeyOption)
	}
	ak := AuthorizedKey{Key: k, Comment: comment}
	seen := map[string]bool{}
	for _, o := range opts {
		if err := ak.Options.apply(o, seen); err != nil {
			return AuthorizedKey{}, err
		}
	}
	return ak, nil
}

// apply adds one option, as written in the line, to o.
func (o *KeyOptions) apply(opt string, seen map[string]bool) error {
	name, value, hasValue := strings.Cut(opt, "=")
	name = strings.ToLower(name)
	if hasValue {
		v, err := dequote(value)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrKeyOption, name, err)
		}
		value = v
	}
	flag := func(p *bool) error {
		if hasValue {
			return fmt.Errorf("%w: %s takes no value", ErrKeyOption, name)
		}
		*p = true
		return nil
	}
	switch name {
	case "from", "expiry-time":
		if !hasValue {
			return fmt.Errorf("%w: %s needs a value, e.g. %s", ErrKeyOption, name, optionExample(name))
		}
		if seen[name] {
			return fmt.Errorf("%w: %s is given twice; keep one", ErrKeyOption, name)
		}
		seen[name] = true
		if name == "from" {
			pats, err := ParseFromPatterns(value)
			if err != nil {
				return fmt.Errorf("%w: from=%q: %v", ErrKeyOption, value, err)
			}
			o.From = pats
			return nil
		}
		t, err := parseExpiryTime(value)
		if err != nil {
			return fmt.Errorf("%w: expiry-time=%q: %v", ErrKeyOption, value, err)
		}
		o.ExpiresAt = t
		return nil
	case "restrict":
		if err := flag(&o.Restrict); err != nil {
			return err
		}
		o.NoPTY, o.NoPortForwarding, o.NoAgentForwarding, o.NoX11Forwarding, o.NoUserRC = true, true, true, true, true
		return nil
	case "pty":
		if hasValue {
			return fmt.Errorf("%w: pty takes no value", ErrKeyOption)
		}
		o.NoPTY = false
		return nil
	case "no-pty":
		return flag(&o.NoPTY)
	case "no-port-forwarding":
		return flag(&o.NoPortForwarding)
	case "no-agent-forwarding":
		return flag(&o.NoAgentForwarding)
	case "no-x11-forwarding":
		return flag(&o.NoX11Forwarding)
	case "no-user-rc":
		return flag(&o.NoUserRC)
	}
	if fix := unsupportedOptions[name]; fix != "" {
		return fmt.Errorf("%w: %s is not supported: %s", ErrKeyOption, name, fix)
	}
	return fmt.Errorf("%w: %s is not a known option; supported: from=, expiry-time=, restrict, pty, no-pty, no-port-forwarding, no-agent-forwarding, no-x11-forwarding, no-user-rc", ErrKeyOption, quotePrefix(name, 30))
}

// optionExample shows a value of a valued option.
func optionExample(name string) string {
	if name == "from" {
		return `from="10.0.0.0/8,!10.0.0.66"`
	}
	return `expiry-time="20271231"`
}

// dequote removes the double quotes around an option value, undoing \"
// inside, as sshd does. An unquoted value is refused: sshd requires the
// quotes.
func dequote(v string) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", errors.New(`the value must be in double quotes`)
	}
	inner := v[1 : len(v)-1]
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if c == '\\' && i+1 < len(inner) && inner[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		if c == '"' {
			return "", errors.New(`an unescaped '"' inside the value`)
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// parseExpiryTime parses sshd's expiry-time formats: YYYYMMDD,
// YYYYMMDDHHMM or YYYYMMDDHHMMSS, in the bastion's local time, or in UTC
// with a trailing Z.
func parseExpiryTime(v string) (time.Time, error) {
	loc := time.Local
	s := v
	if strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z") {
		loc, s = time.UTC, s[:len(s)-1]
	}
	layout := ""
	switch len(s) {
	case 8:
		layout = "20060102"
	case 12:
		layout = "200601021504"
	case 14:
		layout = "20060102150405"
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			layout = ""
		}
	}
	if layout == "" {
		return time.Time{}, errors.New("want YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, with a trailing Z for UTC")
	}
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a valid date: %w", err)
	}
	return t, nil
}

// ParseFromPatterns splits and checks a from= pattern list. foureyes does
// not resolve client addresses to names (as sshd with its default UseDNS
// no), so every pattern is matched against the address: a name pattern
// could never match and, negated, would never deny; it is refused.
func ParseFromPatterns(list string) ([]string, error) {
	var pats []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		bare := strings.TrimPrefix(p, "!")
		switch {
		case bare == "":
			return nil, errors.New("an empty pattern; separate patterns with single commas")
		case strings.Contains(bare, "/"):
			pfx, err := netip.ParsePrefix(bare)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR block (e.g. 10.0.0.0/8)", bare)
			}
			if pfx.Masked() != pfx {
				return nil, fmt.Errorf("%q has host bits set; write %s", bare, pfx.Masked())
			}
		default:
			for _, c := range bare {
				if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':' || c == '*' || c == '?') {
					return nil, fmt.Errorf("%q is not an address pattern: foureyes matches client addresses, not names; use an IP, a wildcard such as 10.1.*, or a CIDR block", bare)
				}
			}
		}
		pats = append(pats, p)
	}
	return pats, nil
}

// AllowsFrom reports whether a client at addr may use the key: with sshd's
// pattern-list semantics, some pattern matches and no negated one does.
// No from= option allows every address.
func (o KeyOptions) AllowsFrom(addr netip.Addr) bool {
	if len(o.From) == 0 {
		return true
	}
	addr = addr.Unmap()
	ip := strings.ToLower(addr.String())
	allowed := false
	for _, p := range o.From {
		neg := strings.HasPrefix(p, "!")
		if !matchAddrPattern(strings.TrimPrefix(p, "!"), addr, ip) {
			continue
		}
		if neg {
			return false
		}
		allowed = true
	}
	return allowed
}

// Expired reports whether the key's expiry-time has passed at t.
func (o KeyOptions) Expired(t time.Time) bool {
	return !o.ExpiresAt.IsZero() && !t.Before(o.ExpiresAt)
}

// matchAddrPattern matches one (not negated) pattern against addr, whose
// lower-case text is ip.
func matchAddrPattern(p string, addr netip.Addr, ip string) bool {
	if strings.Contains(p, "/") {
		pfx, err := netip.ParsePrefix(p)
		return err == nil && pfx.Contains(addr)
	}
	return wildcardMatch(strings.ToLower(p), ip)
}

// wildcardMatch matches s against p, where '*' stands for any run of
// characters and '?' for one.
func wildcardMatch(p, s string) bool {
	px, sx := 0, 0
	star, back := -1, 0
	for sx < len(s) {
		switch {
		case px < len(p) && (p[px] == '?' || p[px] == s[sx]):
			px++
			sx++
		case px < len(p) && p[px] == '*':
			star, back = px, sx
			px++
		case star >= 0:
			back++
			px, sx = star+1, back
		default:
			return false
		}
	}
	for px < len(p) && p[px] == '*' {
		px++
	}
	return px == len(p)
}

// keyProblem explains why user's key line k was refused.
func keyProblem(user, k string, err error) string {
	if errors.Is(err, ErrKeyOption) {
		msg := strings.TrimPrefix(err.Error(), ErrKeyOption.Error()+": ")
		return fmt.Sprintf("user %q, key %s: %s", user, quotePrefix(k, 40), msg)
	}
	return badKey(k)
}
