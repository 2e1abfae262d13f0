package gateway

import (
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/anmitsu/go-shlex"
	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/guard"
)

// sshConfigUsage is shown with a refusal of a malformed `config`.
const sshConfigUsage = "usage: config [--prefix PREFIX]"

// sshConfig is the `config` verb: it prints an ssh_config block for every
// host the user may reach (WriteSSHConfig), addressed to the bastion as
// gateway.public_address names it, else as this connection reached it.
// What was listed is recorded as sshconfig.list in the gateway's stream;
// a malformed or unsafe request is refused and recorded as access.denied.
func (sess *clientSession) sshConfig(args string) exitResult {
	s, user := sess.s, sess.user.Name
	line := strings.TrimSpace("config " + args)
	deny := func(reason string, e *UserError) exitResult {
		s.recordGateway(event.AccessDenied, user, map[string]string{"user": user, "host": "", "reason": reason,
			"command": guard.SafeName(line, 256), "remote": sess.remote})
		return sess.refuse(e)
	}
	prefix, err := parseSSHConfigArgs(args)
	if err != nil {
		return deny("config: "+err.Error(), userErrorf(err, "config: %v; %s", err, sshConfigUsage))
	}
	host, port := s.publicAddr(sess.localAddr())
	w := newTextWriter(sess.ch, sess.pty != nil)
	res, err := WriteSSHConfig(w, s.cfg(), user, SSHConfigOptions{
		Host: host, Port: port, Prefix: prefix, HostKey: s.hostSigner.PublicKey(),
		Comment: "foureyes bastion " + s.cfg().Gateway.ID + ": ssh_config for " + user,
	})
	if errors.Is(err, ErrUnsafeSSHConfig) {
		return deny(err.Error(), userErrorf(err, "config: %v", err))
	}
	if err != nil {
		return sess.refuse(userErrorf(err, "config: %v", err))
	}
	if res.Omitted > 0 {
		sess.say("config: " + strconv.Itoa(res.Omitted) + " host(s) left out: their names cannot be written safely into ssh_config; ask the operator to rename them")
	}
	s.recordGateway(event.SSHConfigList, user, map[string]string{"user": user, "remote": sess.remote,
		"hosts": strings.Join(res.Hosts, ","), "omitted": strconv.Itoa(res.Omitted), "prefix": prefix})
	return exitResult{}
}

// errSSHConfigArgs is a malformed `config` command line.
var errSSHConfigArgs = errors.New("bad arguments")

// parseSSHConfigArgs parses the words after "config": an optional
// --prefix PREFIX (or --prefix=PREFIX).
func parseSSHConfigArgs(args string) (prefix string, err error) {
	words, err := shlex.Split(args, true)
	if err != nil {
		return "", errSSHConfigArgs
	}
	for i := 0; i < len(words); i++ {
		switch w := words[i]; {
		case w == "--prefix" && i+1 < len(words):
			prefix = words[i+1]
			i++
		case strings.HasPrefix(w, "--prefix="):
			prefix = strings.TrimPrefix(w, "--prefix=")
		default:
			return "", errSSHConfigArgs
		}
	}
	return prefix, nil
}

// publicAddr is the bastion's address as clients should give it to ssh:
// gateway.public_address, else the address the connection came in on
// (local), else "localhost"; port "" means 22.
func (s *Server) publicAddr(local net.Addr) (host, port string) {
	if a := s.cfg().Gateway.PublicAddress; a != "" {
		host, port, _ = config.SplitPublicAddress(a) // validated with the config
		return host, port
	}
	if local != nil {
		if h, p, err := net.SplitHostPort(local.String()); err == nil {
			return h, p
		}
	}
	return "localhost", ""
}
