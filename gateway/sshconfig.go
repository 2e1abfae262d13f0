package gateway

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/foureyes/foureyes/config"
	gossh "golang.org/x/crypto/ssh"
)

// ErrUnsafeSSHConfig is returned by WriteSSHConfig when the bastion's
// address, the user's name, the prefix or a file path cannot be written
// into an ssh_config file without being read as something else (a pattern,
// a %-token, a second directive). An unsafe host name is not an error: the
// host is left out, named in a comment.
var ErrUnsafeSSHConfig = errors.New("gateway: cannot be written safely into ssh_config")

// SSHConfigOptions say how WriteSSHConfig reaches the bastion.
type SSHConfigOptions struct {
	// Host and Port are the bastion as clients reach it (HostName and
	// Port of every block). Port "" means 22.
	Host, Port string
	// Prefix is put before each host's name in its Host alias ("fe-"
	// makes `ssh fe-demo-prod`), for people whose own ssh_config already
	// names the hosts. Default: none.
	Prefix string
	// HostKey is the bastion's host key, printed as the known_hosts line
	// under the alias every block checks (HostKeyAlias). Optional.
	HostKey gossh.PublicKey
	// IdentityFile and KnownHostsFile, when set, are added to every
	// block (with IdentitiesOnly and StrictHostKeyChecking yes): the dev
	// stack knows both; the `config` verb knows neither.
	IdentityFile, KnownHostsFile string
	// Comment is the first line of the header, without "# ".
	Comment string
}

// SSHConfigResult says what WriteSSHConfig wrote.
type SSHConfigResult struct {
	Hosts   []string // the hosts given a block, sorted
	Omitted int      // hosts left out: their name is not safe in ssh_config
}

// WriteSSHConfig writes an ssh_config block for every host user may
// connect to (config.CanConnect, the rule connect applies), sorted by
// name: `Host PREFIXNAME` with HostName and Port of the bastion, `User
// USER+NAME` (the target in the user name, target.go) and HostKeyAlias
// set to the bastion's known_hosts name, so that ssh checks the bastion's
// key whichever alias is used, never a key of the host's. A host needing
// four-eyes approval says so in a comment. Each host has one login
// (hosts[].login), so there is one block per host.
//
// Only names made of letters, digits, '.', '_' and '-' are written:
// anything else could be read by ssh as a pattern (*, ?, !, ','), a
// %-token, a comment or a quote, or end the line. A host whose name is not
// safe is left out (a comment names it, escaped); an unsafe bastion
// address, user name or prefix is an ErrUnsafeSSHConfig.
func WriteSSHConfig(w io.Writer, cfg *config.Config, user string, o SSHConfigOptions) (SSHConfigResult, error) {
	var res SSHConfigResult
	if o.Port == "" {
		o.Port = "22"
	}
	if !safeSSHHostName(o.Host) {
		return res, fmt.Errorf("%w: bastion address %s (set gateway.public_address)", ErrUnsafeSSHConfig, strconv.QuoteToASCII(o.Host))
	}
	if n, err := strconv.Atoi(o.Port); err != nil || n < 1 || n > 65535 {
		return res, fmt.Errorf("%w: bastion port %s", ErrUnsafeSSHConfig, strconv.QuoteToASCII(o.Port))
	}
	if !safeSSHName(user) {
		return res, fmt.Errorf("%w: user name %s", ErrUnsafeSSHConfig, strconv.QuoteToASCII(user))
	}
	if o.Prefix != "" && !safeSSHName(o.Prefix) {
		return res, fmt.Errorf("%w: prefix %s: use letters, digits, '.', '_' and '-'", ErrUnsafeSSHConfig, strconv.QuoteToASCII(o.Prefix))
	}
	for _, p := range []string{o.IdentityFile, o.KnownHostsFile} {
		if strings.ContainsFunc(p, unicode.IsControl) {
			return res, fmt.Errorf("%w: path %s", ErrUnsafeSSHConfig, strconv.QuoteToASCII(p))
		}
	}
	u, ok := cfg.User(user)
	if !ok {
		return res, fmt.Errorf("gateway: no user %s", strconv.QuoteToASCII(user))
	}
	var hosts []*config.Host
	var omitted []string
	for i := range cfg.Hosts {
		h := &cfg.Hosts[i]
		if !cfg.CanConnect(u, h) {
			continue
		}
		if !safeSSHName(h.Name) {
			omitted = append(omitted, h.Name)
			continue
		}
		hosts = append(hosts, h)
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].Name < hosts[j].Name })
	sort.Strings(omitted)
	alias := KnownHostsName(o.Host, o.Port)

	var b strings.Builder
	if o.Comment != "" {
		fmt.Fprintf(&b, "# %s\n", strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, o.Comment))
	}
	fmt.Fprintf(&b, "# Hosts %s may reach through the bastion %s, port %s. Every connection is recorded.\n", user, o.Host, o.Port)
	fmt.Fprintf(&b, "# Use: save as ~/.ssh/foureyes.conf and put `Include foureyes.conf` first in ~/.ssh/config;\n")
	fmt.Fprintf(&b, "# then ssh, scp, sftp, rsync, git and Ansible take the host names below.\n")
	if o.HostKey != nil {
		fmt.Fprintf(&b, "# The bastion's key, checked for every host below (~/.ssh/known_hosts line):\n")
		fmt.Fprintf(&b, "#   %s %s\n", alias, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(o.HostKey))))
	}
	if len(hosts) == 0 {
		fmt.Fprintf(&b, "# %s may reach no host.\n", user)
	}
	for _, name := range omitted {
		fmt.Fprintf(&b, "# Left out: host %s has a name ssh_config cannot hold safely.\n", strconv.QuoteToASCII(name))
	}
	for _, h := range hosts {
		fmt.Fprintf(&b, "\nHost %s%s\n", o.Prefix, h.Name)
		if pol, ok := cfg.ApprovalPolicy(h); ok {
			if pol.RequiresExecApproval() {
				b.WriteString("    # four-eyes: a reviewer approves each connection, or an approval window (`request`)\n")
			} else {
				b.WriteString("    # four-eyes: a reviewer approves each terminal session, or an approval window (`request`)\n")
			}
		}
		fmt.Fprintf(&b, "    HostName %s\n    Port %s\n    User %s%s%s\n", o.Host, o.Port, user, TargetSep, h.Name)
		fmt.Fprintf(&b, "    HostKeyAlias %s\n", alias)
		if o.IdentityFile != "" {
			fmt.Fprintf(&b, "    IdentityFile %s\n    IdentitiesOnly yes\n", SSHConfigPath(o.IdentityFile))
		}
		if o.KnownHostsFile != "" {
			fmt.Fprintf(&b, "    UserKnownHostsFile %s\n    StrictHostKeyChecking yes\n", SSHConfigPath(o.KnownHostsFile))
		}
		res.Hosts = append(res.Hosts, h.Name)
	}
	res.Omitted = len(omitted)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return res, fmt.Errorf("gateway: write ssh_config: %w", err)
	}
	return res, nil
}

// safeSSHName reports whether s can be written into ssh_config as a Host
// pattern or a User value and mean only itself: letters, digits, '.', '_'
// and '-', not starting with '-' (which ssh would read as an option).
func safeSSHName(s string) bool {
	if s == "" || s[0] == '-' || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// safeSSHHostName reports whether s is a DNS name or an IP address that
// ssh_config's HostName takes literally (no %-token, no zone).
func safeSSHHostName(s string) bool {
	if ip := net.ParseIP(s); ip != nil {
		return true
	}
	return safeSSHName(s) && !strings.Contains(s, "_")
}

// KnownHostsName is how OpenSSH names host:port in known_hosts; it is
// the HostKeyAlias of every block, so the bastion's key, as ssh recorded
// it when its user first connected, is the one checked.
func KnownHostsName(host, port string) string {
	if port == "22" {
		return host
	}
	return "[" + host + "]:" + port
}

// SSHConfigPath quotes a path as an ssh_config value: % doubled (ssh
// expands %-tokens in file names), and in double quotes when it holds
// whitespace, quotes or backslashes, which would otherwise split or end it.
// Paths with control characters are refused before this is called.
func SSHConfigPath(p string) string {
	p = strings.ReplaceAll(p, "%", "%%")
	if !strings.ContainsAny(p, " \"'\\#") {
		return p
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p) + `"`
}
