package gateway

import (
	"strings"
	"testing"
)

// TestHostileRequests sends malformed and oversized session requests; the
// gateway refuses or bounds them and the session still works.
func TestHostileRequests(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c, err := f.dial("alice")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	garbage := []byte{0xff, 0xff, 0xff, 0xff, 0x00}
	for _, req := range []string{"pty-req", "exec", "env", "signal", "x11-req"} {
		if ok, err := s.SendRequest(req, true, garbage); ok || err != nil {
			t.Errorf("%s with garbage = %v, %v; want refused", req, ok, err)
		}
	}
	if ok, _ := s.SendRequest("window-change", true, garbage); ok {
		t.Error("window-change without a pty accepted")
	}
	if err := s.Setenv("LD_PRELOAD", "/tmp/evil.so"); err == nil {
		t.Error("LD_PRELOAD accepted")
	}
	if err := s.Setenv("LANG", "C.UTF-8"); err != nil {
		t.Errorf("LANG refused: %v", err)
	}
	if err := s.RequestPty("xterm", 1<<30, 1<<30, nil); err != nil {
		t.Fatal(err)
	}
	out, err := s.CombinedOutput("demo -- stty size; echo $LANG $LD_PRELOAD.")
	if err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "10000 10000\r\nC.UTF-8 ." {
		t.Errorf("output = %q; want the clamped size and only LANG", got)
	}
}
