// Package freeport hands out loopback TCP ports for tests and local
// stacks that must name a port before the process that listens on it
// starts (a gateway config, a ClickHouse config, ssh -L).
//
// The usual trick, listening on port 0 and closing, returns a port from
// the kernel's ephemeral range, the same range the kernel draws from for
// every outgoing connection and every other port-0 listener on the
// machine. Between the close and the child's bind, another test package
// running in parallel can take it, and the child dies with "address
// already in use" (CI saw exactly that). Port avoids both sources:
//
//   - it picks below (or, failing that, above) the ephemeral range read
//     from /proc/sys/net/ipv4/ip_local_port_range, where the kernel never
//     assigns a port on its own;
//   - it takes an advisory lock on a file named for the port in a shared
//     directory and keeps it until the process exits, so no two processes
//     using this package, and no two calls in one process, are handed the
//     same port; the kernel drops the lock when the process dies, however
//     it dies, so a crashed test leaves nothing to clean.
//
// A port is also checked by binding it once, so one held by a service
// outside this package is skipped.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// span is how many ports the picker draws from.
const span = 8192

// attempts bounds the candidates one call tries before giving up.
const attempts = 512

var (
	mu   sync.Mutex
	held []*os.File // lock files kept open for the life of the process
)

// Port returns a loopback TCP port that is free now, outside the
// kernel's ephemeral range, and not handed out by this package to any
// other live process, or earlier to this one.
func Port() (int, error) {
	lo, hi := pickRange(ephemeralRange())
	dir := filepath.Join(os.TempDir(), "foureyes-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, fmt.Errorf("freeport: %w", err)
	}
	// Every user's tests share the directory, as they share the ports;
	// the umask would keep the others out. Not our directory: no matter.
	_ = os.Chmod(dir, 0o777|os.ModeSticky)
	mu.Lock()
	defer mu.Unlock()
	start := rand.IntN(hi - lo + 1)
	for i := 0; i < attempts; i++ {
		port := lo + (start+i*97)%(hi-lo+1)
		f, err := lockPort(dir, port)
		if err != nil {
			if errors.Is(err, errBusy) {
				continue
			}
			return 0, err
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			f.Close()
			continue
		}
		l.Close()
		held = append(held, f)
		return port, nil
	}
	return 0, fmt.Errorf("freeport: no free port among %d tried in %d-%d", attempts, lo, hi)
}

// Addr returns "127.0.0.1:PORT" for a port from Port.
func Addr() (string, error) {
	port, err := Port()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}

// TB is the part of testing.TB that MustAddr uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// MustAddr is Addr for tests: it fails tb if no port is found.
func MustAddr(tb TB) string {
	tb.Helper()
	addr, err := Addr()
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return addr
}

// MustPort is Port for tests: it fails tb if no port is found.
func MustPort(tb TB) int {
	tb.Helper()
	port, err := Port()
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return port
}

// ephemeralRange reads the kernel's range for automatic ports, or the
// Linux default when it cannot be read.
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	a, errA := strconv.Atoi(f[0])
	z, errZ := strconv.Atoi(f[1])
	if errA != nil || errZ != nil || a > z {
		return lo, hi
	}
	return a, z
}

// pickRange returns the ports Port draws from: the span just below the
// ephemeral range when there is room above the privileged ports, else
// the span just above it, else whatever is left above 1024.
func pickRange(elo, ehi int) (lo, hi int) {
	switch {
	case elo-span >= 1024:
		return elo - span, elo - 1
	case ehi+span <= 65535:
		return ehi + 1, ehi + span
	case elo-1 >= 1025:
		return 1025, elo - 1
	default:
		return 1025, 65535
	}
}
