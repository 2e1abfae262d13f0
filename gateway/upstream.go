package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/foureyes/foureyes/config"
	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// clientVersion is the bastion's SSH version string towards hosts.
const clientVersion = "SSH-2.0-foureyes"

// dialUpstream connects and logs in to h as h.Login with the bastion's
// client key. The host must present its pinned key; any other key fails
// with a *HostKeyMismatchError. Dialing and the handshake are bounded by
// UpstreamTimeout and abandoned when ctx ends.
func (s *Server) dialUpstream(ctx context.Context, h *config.Host) (*gossh.Client, error) {
	pinned, err := config.ParseHostKey(h.HostKey) // validated by newPolicy
	if err != nil {
		return nil, fmt.Errorf("gateway: hosts %s host_key: %w", h.Name, err)
	}
	var mismatch *HostKeyMismatchError
	cfg := &gossh.ClientConfig{
		User:          h.Login,
		Auth:          []gossh.AuthMethod{gossh.PublicKeys(s.clientSigner)},
		ClientVersion: clientVersion,
		// Ask only for the pinned key's algorithms: a host with several
		// keys must present the one we know.
		HostKeyAlgorithms: hostKeyAlgorithms(pinned.Type()),
		HostKeyCallback: func(_ string, _ net.Addr, key gossh.PublicKey) error {
			if ssh.KeysEqual(key, pinned) {
				return nil
			}
			mismatch = &HostKeyMismatchError{
				Host: h.Name,
				Addr: h.Address,
				Want: gossh.FingerprintSHA256(pinned),
				Got:  gossh.FingerprintSHA256(key),
			}
			return mismatch
		},
	}
	timeout := s.cfg().Gateway.UpstreamTimeout
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(dctx, "tcp", h.Address)
	if err != nil {
		return nil, fmt.Errorf("gateway: dial %s (%s): %w", h.Name, h.Address, err)
	}
	// The handshake has no context: close the connection if ctx ends
	// or the timeout passes before it completes.
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	c, chans, reqs, err := gossh.NewClientConn(conn, h.Address, cfg)
	if !stop() {
		if err == nil {
			c.Close()
		}
		if err = context.Cause(dctx); errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no SSH login within %v", timeout)
		}
		return nil, fmt.Errorf("gateway: connect %s (%s): %w", h.Name, h.Address, err)
	}
	if mismatch != nil {
		conn.Close()
		return nil, mismatch
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("gateway: connect %s (%s): %w", h.Name, h.Address, err)
	}
	return gossh.NewClient(c, chans, reqs), nil
}

// hostKeyAlgorithms returns the host key algorithms that produce keys of
// type keyType, or nil (x/crypto's defaults) for unknown types.
func hostKeyAlgorithms(keyType string) []string {
	switch keyType {
	case gossh.KeyAlgoRSA:
		return []string{gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSA}
	case gossh.KeyAlgoED25519, gossh.KeyAlgoECDSA256, gossh.KeyAlgoECDSA384, gossh.KeyAlgoECDSA521:
		return []string{keyType}
	}
	return nil
}
