package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// SplitPublicAddress splits gateway.public_address, HOST or HOST:PORT (an
// IPv6 host in brackets when a port follows), into its host and its port;
// port is "" when a is a bare host.
func SplitPublicAddress(a string) (host, port string, err error) {
	if a == "" || strings.ContainsAny(a, " \t@/") {
		return "", "", fmt.Errorf("%q is not HOST or HOST:PORT", a)
	}
	if h, p, err := net.SplitHostPort(a); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || h == "" {
			return "", "", fmt.Errorf("%q is not HOST or HOST:PORT (port 1-65535)", a)
		}
		return h, p, nil
	}
	if h, ok := strings.CutPrefix(a, "["); ok {
		if h, ok = strings.CutSuffix(h, "]"); ok && net.ParseIP(h) != nil {
			return h, "", nil
		}
		return "", "", fmt.Errorf("%q is not HOST or HOST:PORT", a)
	}
	if strings.Count(a, ":") == 1 || strings.ContainsAny(a, "[]") {
		return "", "", fmt.Errorf("%q is not HOST or HOST:PORT", a)
	}
	if strings.Contains(a, ":") && net.ParseIP(a) == nil {
		return "", "", fmt.Errorf("%q is not HOST or HOST:PORT", a)
	}
	return a, "", nil
}
