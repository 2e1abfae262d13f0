package chserver

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

func TestStartStop(t *testing.T) {
	s := StartForTest(t)
	if s.Addr == "" {
		t.Fatal("no address")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("server still running after Stop")
	}
}

// takenPort returns the port of a loopback listener held until the test
// ends: a port another process took.
func takenPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// pickFirst makes Start's first port pick return port, and later picks
// free ports, and counts the picks.
func pickFirst(t *testing.T, port int) *int {
	t.Helper()
	var picks int
	t.Cleanup(func() { pickPort = freePort })
	pickPort = func() (int, error) {
		picks++
		if picks == 1 {
			return port, nil
		}
		return freePort()
	}
	return &picks
}

// TestStartRetriesTakenPickedPort: a port Start picked that another
// process took before the server bound it makes the server exit at start
// (CI saw it: exit status 70); Start tries again on new ports.
func TestStartRetriesTakenPickedPort(t *testing.T) {
	taken := takenPort(t)
	picks := pickFirst(t, taken)
	s := StartWithForTest(t, Options{})
	if *picks < 4 {
		t.Errorf("ports picked = %d; want a second try (2 per try)", *picks)
	}
	if s.Addr == net.JoinHostPort("127.0.0.1", strconv.Itoa(taken)) {
		t.Errorf("server address = %s, the taken port", s.Addr)
	}
}

// TestStartFixedPortTakenFails: ports the caller chose are not replaced:
// a taken one is an error that says the server exited, and no port is
// picked.
func TestStartFixedPortTakenFails(t *testing.T) {
	if _, err := exec.LookPath(Binary); err != nil && os.Getenv("CI") != "true" {
		t.Skip(ErrNotInstalled)
	}
	free, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	picks := pickFirst(t, 0)
	_, err = Start(context.Background(), t.TempDir(), Options{TCPPort: takenPort(t), HTTPPort: free, StartTimeout: 30 * time.Second})
	if !errors.Is(err, errExited) {
		t.Fatalf("Start on a taken fixed port: err = %v; want %v", err, errExited)
	}
	if *picks != 0 {
		t.Errorf("ports picked = %d; want 0", *picks)
	}
}
