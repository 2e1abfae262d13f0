package freeport

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestPortsAreDistinctFreeAndOutsideEphemeral(t *testing.T) {
	elo, ehi := ephemeralRange()
	seen := map[int]bool{}
	for i := 0; i < 64; i++ {
		port := MustPort(t)
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
		if port >= elo && port <= ehi {
			t.Fatalf("port %d is in the ephemeral range %d-%d", port, elo, ehi)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		l.Close()
	}
}

// TestPortStaysLocked shows the guarantee between processes: flock locks
// belong to an open file, so a second open of the same lock file, as
// another process would make, is refused while the first holder lives.
func TestPortStaysLocked(t *testing.T) {
	port := MustPort(t)
	dir := filepath.Join(os.TempDir(), "foureyes-ports")
	f, err := lockPort(dir, port)
	if !errors.Is(err, errBusy) {
		if f != nil {
			f.Close()
		}
		t.Fatalf("second lock on handed-out port %d = %v; want errBusy", port, err)
	}
}

func TestAddrIsLoopback(t *testing.T) {
	addr := MustAddr(t)
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("MustAddr = %q (%v); want 127.0.0.1:PORT", addr, err)
	}
}

func TestPickRange(t *testing.T) {
	for _, c := range []struct{ elo, ehi, lo, hi int }{
		{32768, 60999, 32768 - span, 32767},
		{1024, 40000, 40001, 40000 + span},
		{5000, 65000, 1025, 4999},
		{1025, 65535, 1025, 65535},
	} {
		lo, hi := pickRange(c.elo, c.ehi)
		if lo != c.lo || hi != c.hi {
			t.Errorf("pickRange(%d, %d) = %d-%d; want %d-%d", c.elo, c.ehi, lo, hi, c.lo, c.hi)
		}
	}
}
