package guard

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestGate(t *testing.T) {
	g := NewGate(3, 2, 1000, 1000)
	a1, err1 := g.Admit("a")
	_, err2 := g.Admit("a")
	_, err3 := g.Admit("a")
	if err1 != nil || err2 != nil || !errors.Is(err3, ErrTooManyFromSource) {
		t.Fatalf("per source: %v %v %v; want nil nil ErrTooManyFromSource", err1, err2, err3)
	}
	if _, err := g.Admit("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Admit("c"); !errors.Is(err, ErrTooManyUnauthenticated) {
		t.Fatalf("global: %v; want ErrTooManyUnauthenticated", err)
	}
	a1.Release()
	a1.Release() // idempotent
	if got := g.Unauthenticated(); got != 2 {
		t.Errorf("Unauthenticated = %d; want 2", got)
	}
	if _, err := g.Admit("c"); err != nil {
		t.Errorf("after release: %v", err)
	}
	if got := g.Refused(); got != 2 {
		t.Errorf("Refused = %d; want 2", got)
	}
}

// TestListenerClosesExcessAtOnce checks over real TCP that a connection
// beyond the per-source cap is closed before anything is read from it,
// and that closing an admitted one frees its place.
func TestListenerClosesExcessAtOnce(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan string, 10)
	l := &Listener{Listener: inner, Gate: NewGate(10, 1, 1000, 1000), Refused: func(src string, _ net.Addr, err error) { refused <- src + ": " + err.Error() }}
	defer l.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	c1, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	s1 := <-accepted
	// The excess connection is reset: dialing or the first read fails.
	if c2, err := net.Dial("tcp", inner.Addr().String()); err == nil {
		defer c2.Close()
		c2.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c2.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("second connection from the same source: read = %v; want it closed by the server", err)
		}
	}
	if got := <-refused; got != "127.0.0.1: "+ErrTooManyFromSource.Error() {
		t.Errorf("refused = %q", got)
	}
	s1.Close()
	c3, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	s3 := <-accepted
	defer s3.Close()
	if _, err := c3.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(s3, buf); err != nil || buf[0] != 'x' {
		t.Errorf("after release: %v %q", err, buf)
	}
}

func TestGateRate(t *testing.T) {
	clock := time.Unix(1e9, 0)
	g := NewGate(100, 100, 2, 3)
	g.rate.now = func() time.Time { return clock }
	for i := 0; i < 3; i++ {
		tk, err := g.Admit("a")
		if err != nil {
			t.Fatalf("burst connection %d: %v", i+1, err)
		}
		tk.Release() // the rate counts new connections, not open ones
	}
	if _, err := g.Admit("a"); !errors.Is(err, ErrTooFastFromSource) {
		t.Fatalf("4th connection in the same instant: %v; want ErrTooFastFromSource", err)
	}
	if _, err := g.Admit("b"); err != nil {
		t.Errorf("another source: %v", err)
	}
	clock = clock.Add(500 * time.Millisecond) // one token back at 2/s
	if _, err := g.Admit("a"); err != nil {
		t.Errorf("after 0.5s: %v", err)
	}
	if _, err := g.Admit("a"); !errors.Is(err, ErrTooFastFromSource) {
		t.Errorf("second after 0.5s: %v; want refused", err)
	}
}

func TestSource(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 4000}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 22}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:10.0.0.1"), Port: 22}, "10.0.0.1"},
	}
	for _, tt := range tests {
		if got := Source(tt.addr); got != tt.want {
			t.Errorf("Source(%v) = %q; want %q", tt.addr, got, tt.want)
		}
	}
}

func TestSafeName(t *testing.T) {
	long := strings.Repeat("a", 200<<10)
	tests := []struct{ in, want string }{
		{"alice", "alice"},
		{"\x1b[2Jroot", `"\x1b[2Jroot"`},
		{"a b", `"a b"`},
		{"", `""`},
		{long, `"` + strings.Repeat("a", 64) + `"…(204800 bytes)`},
		{"ééééé", "ééééé"},
		{strings.Repeat("é", 40), `"` + strings.Repeat("é", 32) + `"…(80 bytes)`},
	}
	for _, tt := range tests {
		if got := SafeName(tt.in, 64); got != tt.want {
			t.Errorf("SafeName(%.20q) = %.100q; want %.100q", tt.in, got, tt.want)
		}
	}
	if got := SafeName(strings.Repeat("\xff", 1<<20), 64); len(got) > 4*64+32 {
		t.Errorf("SafeName of 1 MiB of invalid UTF-8 is %d bytes", len(got))
	}
}

// TestLockoutUsersCountedDuringSourceFlood: failing once from each of
// more sources than the table tracks (an IPv6 /48 holds 65,536 /64s) must
// not switch off the user lockout. It did: the shared cap skipped new user
// windows too.
func TestLockoutUsersCountedDuringSourceFlood(t *testing.T) {
	clock := time.Unix(1e9, 0)
	l := NewLockout(LockoutConfig{UserFailures: 3, SourceFailures: 5, Window: time.Hour, Duration: 10 * time.Minute})
	l.now = func() time.Time { return clock }
	for i := range maxTracked {
		l.Fail("", fmt.Sprintf("2001:db8:%x::/64", i))
	}
	var got []Lock
	for i := range 3 {
		got = l.Fail("alice", fmt.Sprintf("2001:db9:%x::/64", i))
	}
	if len(got) != 1 || got[0].Scope != ScopeUser || got[0].Target != "alice" {
		t.Fatalf("third failure of alice during a source flood started %+v; want a user lock", got)
	}
}

func TestLockout(t *testing.T) {
	clock := time.Unix(1e9, 0)
	l := NewLockout(LockoutConfig{UserFailures: 3, SourceFailures: 5, Window: time.Minute, Duration: 10 * time.Minute})
	l.now = func() time.Time { return clock }
	for i := 0; i < 2; i++ {
		if got := l.Fail("alice", "10.0.0.1"); got != nil {
			t.Fatalf("failure %d locked %v", i+1, got)
		}
	}
	clock = clock.Add(2 * time.Minute) // the window ends: start over
	l.Fail("alice", "10.0.0.2")
	l.Fail("alice", "10.0.0.3")
	if _, locked := l.Locked("alice", "10.0.0.9"); locked {
		t.Fatal("locked after 2 failures in the window")
	}
	got := l.Fail("alice", "10.0.0.4")
	if len(got) != 1 || got[0].Scope != ScopeUser || got[0].Target != "alice" || got[0].Failures != 3 || !got[0].Until.Equal(clock.Add(10*time.Minute)) {
		t.Fatalf("third failure started %+v; want a user lock on alice", got)
	}
	if lk, locked := l.Locked("alice", "192.0.2.1"); !locked || lk.Scope != ScopeUser {
		t.Errorf("alice from elsewhere: %+v %v; want locked", lk, locked)
	}
	if _, locked := l.Locked("bob", "10.0.0.4"); locked {
		t.Error("bob locked by alice's failures")
	}
	// A source: unknown names ("") count for the source only.
	for i := 0; i < 4; i++ {
		l.Fail("", "198.51.100.1")
	}
	got = l.Fail("", "198.51.100.1")
	if len(got) != 1 || got[0].Scope != ScopeSource || got[0].Target != "198.51.100.1" {
		t.Fatalf("fifth failure from the source started %+v", got)
	}
	if _, locked := l.Locked("bob", "198.51.100.1"); !locked {
		t.Error("bob from a locked source: not locked")
	}
	if locks := l.Locks(); len(locks) != 2 || locks[0].Target != "alice" || locks[1].Target != "198.51.100.1" {
		t.Errorf("Locks = %+v", locks)
	}
	if lifted := l.Unlock("alice"); len(lifted) != 1 {
		t.Errorf("Unlock(alice) lifted %+v", lifted)
	}
	if _, locked := l.Locked("alice", "10.0.0.1"); locked {
		t.Error("alice still locked after Unlock")
	}
	if lifted := l.Unlock("nobody"); len(lifted) != 0 {
		t.Errorf("Unlock(nobody) lifted %+v", lifted)
	}
	clock = clock.Add(10 * time.Minute) // the source's lock ends by itself
	if _, locked := l.Locked("", "198.51.100.1"); locked {
		t.Error("source still locked after the duration")
	}
	if locks := l.Locks(); len(locks) != 0 {
		t.Errorf("Locks after expiry = %+v", locks)
	}
}

func TestLockoutSucceededForgetsUserFailures(t *testing.T) {
	l := NewLockout(LockoutConfig{UserFailures: 2, SourceFailures: 100, Window: time.Hour, Duration: time.Hour})
	l.Fail("alice", "a")
	l.Succeeded("alice")
	if got := l.Fail("alice", "a"); got != nil {
		t.Errorf("lock after a success in between: %+v", got)
	}
}

func TestFailureReporter(t *testing.T) {
	clock := time.Unix(1e9, 0)
	r := NewFailureReporter(10 * time.Second)
	r.now = func() time.Time { return clock }
	f := Failure{Source: "10.0.0.1", User: "alice", Method: "publickey", Reason: "key not authorized for user"}
	if !r.Report(f) {
		t.Fatal("first failure not reported at once")
	}
	for i := 0; i < 1000; i++ {
		f.User = "u" + string(rune('a'+i%26))
		if r.Report(f) {
			t.Fatal("a later failure of the burst reported at once")
		}
	}
	if !r.Report(Failure{Source: "10.0.0.2", User: "bob"}) {
		t.Error("another source's first failure not reported at once")
	}
	if due := r.Due(); len(due) != 0 {
		t.Fatalf("due before the interval ended: %+v", due)
	}
	clock = clock.Add(10 * time.Second)
	due := r.Due()
	if len(due) != 1 || due[0].Source != "10.0.0.1" || due[0].Count != 1000 || len(due[0].Users) != maxNames || due[0].OtherUsers == 0 ||
		due[0].Methods["publickey"] != 1000 {
		t.Fatalf("Due = %+v; want one summary of 1000 failures from 10.0.0.1", due)
	}
	// The flood goes on: counted into the next interval, nothing at once.
	if r.Report(f) {
		t.Error("failure right after a summary reported at once")
	}
	clock = clock.Add(10 * time.Second)
	if due := r.Due(); len(due) != 1 || due[0].Count != 1 {
		t.Fatalf("second interval: %+v", due)
	}
	// A quiet interval ends the burst: the next failure is a first again.
	clock = clock.Add(10 * time.Second)
	if due := r.Due(); len(due) != 0 {
		t.Fatalf("quiet interval produced %+v", due)
	}
	if !r.Report(f) {
		t.Error("failure after a quiet interval not reported at once")
	}
	r.Report(f)
	if fl := r.Flush(); len(fl) != 1 || fl[0].Count != 1 {
		t.Errorf("Flush = %+v", fl)
	}
}

func TestFailureReporterBoundsSources(t *testing.T) {
	r := NewFailureReporter(time.Second)
	now := time.Unix(1e9, 0)
	r.now = func() time.Time { return now }
	for i := 0; i < maxSources+100; i++ {
		r.Report(Failure{Source: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).String()})
	}
	if len(r.bursts) > maxSources+1 {
		t.Errorf("%d bursts tracked; want at most %d", len(r.bursts), maxSources+1)
	}
	now = now.Add(time.Second)
	due := r.Due()
	if len(due) != 1 || due[0].Source != OverflowSource || due[0].Count != 100 {
		t.Errorf("Due = %d summaries (%+v); want the overflow with 100", len(due), due)
	}
}

// FuzzSafeName: whatever a client sends as a name, the result is valid
// UTF-8 without control characters, bounded, and s itself when plain.
func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"alice", "\x1b[2J", "a b", "\xff\xfe", strings.Repeat("é", 100), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SafeName(s, 64)
		if len(got) > 4*64+32 {
			t.Fatalf("SafeName(%q) is %d bytes", s, len(got))
		}
		if !utf8.ValidString(got) {
			t.Fatalf("SafeName(%q) = %q is not UTF-8", s, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) {
				t.Fatalf("SafeName(%q) = %q holds a control character", s, got)
			}
		}
		if len(s) <= 64 && plain(s) && got != s {
			t.Fatalf("SafeName(%q) = %q; want it unchanged", s, got)
		}
	})
}
