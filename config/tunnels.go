package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// maxTunnels bounds hosts[].tunnels: a host is not a router.
const maxTunnels = 64

// AllowsTunnel reports whether `ssh -L` may reach dest ("ADDRESS:PORT",
// as the client asked for it) through h: dest is one of h.Tunnels,
// compared exactly (no name resolution, "localhost" is not
// "127.0.0.1").
func (h *Host) AllowsTunnel(dest string) bool {
	for _, t := range h.Tunnels {
		if t == dest {
			return true
		}
	}
	return false
}

// validateTunnels checks hosts[].tunnels.
func (c *Config) validateTunnels(p *problems) {
	for i, h := range c.Hosts {
		if len(h.Tunnels) > maxTunnels {
			p.add(fmt.Sprintf("hosts[%d].tunnels", i), "lists %d destinations; at most %d", len(h.Tunnels), maxTunnels)
		}
		seen := map[string]bool{}
		for j, t := range h.Tunnels {
			key := fmt.Sprintf("hosts[%d].tunnels[%d]", i, j)
			if err := checkTunnel(t); err != nil {
				p.add(key, "%v", err)
			} else if seen[t] {
				p.add(key, "%q appears twice", t)
			}
			seen[t] = true
		}
	}
}

// checkTunnel checks one tunnel destination.
func checkTunnel(t string) error {
	host, port, err := net.SplitHostPort(t)
	if err != nil || host == "" {
		return fmt.Errorf("%s is not ADDRESS:PORT as seen from the host (e.g. \"127.0.0.1:5432\")", quotePrefix(t, 40))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return fmt.Errorf("%q: the port must be 1 to 65535", t)
	}
	if len(host) > 253 || strings.ContainsFunc(host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':' || r == '_')
	}) {
		return fmt.Errorf("%s: the address must be an IP address or a DNS name", quotePrefix(t, 40))
	}
	if port == "22" {
		return fmt.Errorf("%q is an SSH port: a tunnel to it would carry sessions past the recording; connect with `ssh USER+HOST@BASTION` instead", t)
	}
	return nil
}
