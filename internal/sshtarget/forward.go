package sshtarget

import (
	"net"

	"github.com/gliderlabs/ssh"
)

// allowLoopbackForward is the target's local port forwarding policy: a
// direct-tcpip channel (what a bastion opens for `ssh -L`) may reach
// this machine's loopback addresses only, as a database listening on
// 127.0.0.1 of a real host would be reached.
func allowLoopbackForward(_ ssh.Context, dest string, _ uint32) bool {
	ip := net.ParseIP(dest)
	return dest == "localhost" || (ip != nil && ip.IsLoopback())
}
