package recorder

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

func TestOutputChunking(t *testing.T) {
	const chunk = 256
	tests := []struct {
		name string
		// run drives the session; the fake clock starts at t0.
		run      func(s *Session, c *fakeClock)
		wantLens []int           // Data lengths of output events, in order
		wantOff  []time.Duration // their times relative to t0
	}{
		{
			name: "size bound with one-byte writes",
			run: func(s *Session, c *fakeClock) {
				for i := 0; i < 3*chunk+10; i++ {
					s.Output([]byte{'x'})
					if i == chunk-1 {
						c.Advance(time.Millisecond) // next chunk starts 1ms later
					}
				}
			},
			wantLens: []int{chunk, chunk, chunk, 10},
			wantOff:  []time.Duration{0, time.Millisecond, time.Millisecond, time.Millisecond},
		},
		{
			name:     "size bound with one bulk write",
			run:      func(s *Session, c *fakeClock) { s.Output(make([]byte, 2*chunk+1)) },
			wantLens: []int{chunk, chunk, 1},
			wantOff:  []time.Duration{0, 0, 0},
		},
		{
			name: "time bound cuts a lone echo byte",
			run: func(s *Session, c *fakeClock) {
				s.Output([]byte("a"))
				c.Advance(20 * time.Millisecond)
				c.Advance(5 * time.Millisecond)
				s.Output([]byte("b"))
			},
			wantLens: []int{1, 1},
			wantOff:  []time.Duration{0, 25 * time.Millisecond},
		},
		{
			name: "time bound counts from the first byte of the chunk",
			run: func(s *Session, c *fakeClock) {
				s.Output([]byte("a"))
				c.Advance(15 * time.Millisecond)
				s.Output([]byte("b"))
				c.Advance(5 * time.Millisecond) // 20ms after "a": cut "ab"
				s.Output([]byte("c"))
			},
			wantLens: []int{2, 1},
			wantOff:  []time.Duration{0, 20 * time.Millisecond},
		},
		{
			name: "other events flush pending output first",
			run: func(s *Session, c *fakeClock) {
				s.Output([]byte("ab"))
				s.Input("alice", []byte("x"))
				s.Output([]byte("cd"))
				s.Resize(80, 24)
				s.Output([]byte("ef"))
				s.Record(event.Signal, "alice", nil, map[string]string{"signal": "INT"})
			},
			wantLens: []int{2, 2, 2},
			wantOff:  []time.Duration{0, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClock()
			t0 := c.Now()
			cfg := testConfig(t)
			cfg.ChunkBytes = chunk
			r := openTest(t, cfg, options{clock: c})
			s, err := r.Start(StartInfo{User: "alice", Host: "web1"})
			if err != nil {
				t.Fatal(err)
			}
			tt.run(s, c)
			if err := s.End(0, nil); err != nil {
				t.Fatal(err)
			}
			evs := diskEvents(t, cfg.SpoolDir)
			var lens []int
			var offs []time.Duration
			for _, e := range evs {
				if e.Type == event.Output {
					lens = append(lens, len(e.Data))
					offs = append(offs, time.Unix(0, e.Time).Sub(t0))
				}
			}
			if !slices.Equal(lens, tt.wantLens) {
				t.Errorf("output chunk sizes = %v; want %v", lens, tt.wantLens)
			}
			if !slices.Equal(offs, tt.wantOff) {
				t.Errorf("output chunk times = %v; want %v", offs, tt.wantOff)
			}
			if b := event.Verify(evs); b != nil {
				t.Errorf("chain: %v", b)
			}
		})
	}
}

func TestOutputTimerBeforeInterval(t *testing.T) {
	c := newFakeClock()
	cfg := testConfig(t)
	r := openTest(t, cfg, options{clock: c})
	s, err := r.Start(StartInfo{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	s.Output([]byte("a"))
	c.Advance(19 * time.Millisecond)
	if got := r.spool.stats().events; got != 1 {
		t.Fatalf("events after 19ms = %d; want 1 (start only, echo still pending)", got)
	}
	c.Advance(time.Millisecond)
	if got := r.spool.stats().events; got != 2 {
		t.Fatalf("events after 20ms = %d; want 2 (start, output)", got)
	}
}

func TestOutputRealTimer(t *testing.T) {
	cfg := testConfig(t)
	cfg.ChunkInterval = 2 * time.Millisecond
	r := openTest(t, cfg, options{})
	s, err := r.Start(StartInfo{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	s.Output([]byte("a"))
	deadline := time.Now().Add(10 * time.Second)
	for r.spool.stats().events < 2 {
		if time.Now().After(deadline) {
			t.Fatal("a lone output byte was never cut into a chunk")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSessionEvents(t *testing.T) {
	c := newFakeClock()
	cfg := testConfig(t)
	r := openTest(t, cfg, options{clock: c})
	t0 := c.Now().UnixNano()
	s, err := r.Start(StartInfo{
		ID: "sess-1", Kind: "shell", User: "alice", Host: "web1", Login: "root", Remote: "10.0.0.1:5555",
		KeyFingerprint: "SHA256:abc", Term: "xterm", Cols: 80, Rows: 24,
		Class: "production", Retention: 90, Meta: map[string]string{"ticket": "OPS-1", "user": "mallory"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != "sess-1" {
		t.Fatalf("ID = %q; want sess-1", s.ID())
	}
	s.Output([]byte("$ "))
	c.Advance(time.Millisecond)
	s.Input("alice", []byte("ls\r"))
	s.Input("bob", []byte("\x03"))
	s.Resize(120, 40)
	if err := s.Record(event.Exec, "alice", []byte("uname -a"), nil); err != nil {
		t.Fatal(err)
	}
	s.Output([]byte("file\r\n"))
	c.Advance(1500 * time.Millisecond)
	if err := s.End(3, map[string]string{"approvers": "bob", "exit_status": "0", "interrupted": "true"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after End")
	}
	if !errors.Is(s.Err(), ErrEnded) {
		t.Fatalf("Err after End = %v; want ErrEnded", s.Err())
	}

	evs := diskEvents(t, cfg.SpoolDir)
	wantTypes := []event.Type{event.SessionStart, event.Output, event.Input, event.Input, event.Resize, event.Exec, event.Output, event.SessionEnd}
	if got := types(evs); !slices.Equal(got, wantTypes) {
		t.Fatalf("types = %v; want %v", got, wantTypes)
	}
	if b := event.Verify(evs); b != nil {
		t.Fatalf("chain: %v", b)
	}
	for _, e := range evs {
		if e.V != event.Version || e.Session != "sess-1" || e.Gateway != "gw-test" || e.Class != "production" || e.Retention != 90 {
			t.Errorf("seq %d: header = v%d %q %q %q %d", e.Seq, e.V, e.Session, e.Gateway, e.Class, e.Retention)
		}
	}
	start := evs[0]
	wantStart := map[string]string{
		"user": "alice", "host": "web1", "login": "root", "remote": "10.0.0.1:5555", "kind": "shell",
		"key": "SHA256:abc", "term": "xterm", "cols": "80", "rows": "24", "gateway": "gw-test", "ticket": "OPS-1",
	}
	if start.Actor != "alice" || fmt.Sprint(start.Meta) != fmt.Sprint(wantStart) {
		t.Errorf("start actor %q meta %v; want alice %v", start.Actor, start.Meta, wantStart)
	}
	if start.Time != t0 {
		t.Errorf("start time = %d; want %d", start.Time, t0)
	}
	if evs[1].Actor != "" || string(evs[1].Data) != "$ " {
		t.Errorf("output = %q by %q", evs[1].Data, evs[1].Actor)
	}
	if evs[2].Actor != "alice" || string(evs[2].Data) != "ls\r" || evs[3].Actor != "bob" || string(evs[3].Data) != "\x03" {
		t.Errorf("inputs = %q by %q, %q by %q", evs[2].Data, evs[2].Actor, evs[3].Data, evs[3].Actor)
	}
	if evs[4].Meta["cols"] != "120" || evs[4].Meta["rows"] != "40" {
		t.Errorf("resize meta = %v", evs[4].Meta)
	}
	end := evs[7]
	wantEnd := map[string]string{
		"exit_status": "3", "duration_ms": "1501", "bytes_in": "4", "bytes_out": "8",
		"started_ns": strconv.FormatInt(t0, 10), "user": "alice", "host": "web1", "login": "root",
		"remote": "10.0.0.1:5555", "kind": "shell", "approvers": "bob",
	}
	if fmt.Sprint(end.Meta) != fmt.Sprint(wantEnd) {
		t.Errorf("end meta = %v; want %v", end.Meta, wantEnd)
	}
}

func TestRecordErrors(t *testing.T) {
	cfg := testConfig(t)
	r := openTest(t, cfg, options{})
	s, err := r.Start(StartInfo{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		typ  event.Type
		data []byte
		want error
	}{
		{"start is reserved", event.SessionStart, nil, ErrReservedType},
		{"end is reserved", event.SessionEnd, nil, ErrReservedType},
		{"empty type", "", nil, event.ErrInvalid},
		{"too large", event.AuditQuery, make([]byte, MaxEventData+1), ErrTooLarge},
	}
	huge := map[string]string{"k": strings.Repeat("x", 3<<20)}
	if err := s.Record(event.AuditQuery, "alice", nil, huge); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Record with 3 MiB of meta = %v; want ErrTooLarge", err)
	}
	if s.Err() != nil {
		t.Fatalf("a refused event ended the session: %v", s.Err())
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Record(tt.typ, "alice", tt.data, nil); !errors.Is(err, tt.want) {
				t.Fatalf("Record = %v; want %v", err, tt.want)
			}
		})
	}
	if err := s.End(0, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(event.Exec, "alice", nil, nil); !errors.Is(err, ErrEnded) {
		t.Fatalf("Record after End = %v; want ErrEnded", err)
	}
	if err := s.End(0, nil); !errors.Is(err, ErrEnded) {
		t.Fatalf("second End = %v; want ErrEnded", err)
	}
	s.Output([]byte("ignored"))
	s.Input("alice", []byte("ignored"))
	evs := diskEvents(t, cfg.SpoolDir)
	if got := types(evs); !slices.Equal(got, []event.Type{event.SessionStart, event.SessionEnd}) {
		t.Fatalf("recorded %v; want only start and end", got)
	}
	if b := event.Verify(evs); b != nil {
		t.Fatalf("refused events broke the chain: %v", b)
	}
}

func TestStartErrors(t *testing.T) {
	r := openTest(t, testConfig(t), options{})
	if _, err := r.Start(StartInfo{ID: "dup"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Start(StartInfo{ID: "dup"}); !errors.Is(err, ErrDuplicateSession) {
		t.Fatalf("duplicate Start = %v; want ErrDuplicateSession", err)
	}
	if _, err := r.Start(StartInfo{ID: string(bytes.Repeat([]byte("x"), 256))}); err == nil {
		t.Fatal("Start with a 256-byte id succeeded")
	}
	s, err := r.Start(StartInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ID()) != 36 {
		t.Fatalf("generated id %q is not a uuid", s.ID())
	}
	r.Close()
	if _, err := r.Start(StartInfo{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close = %v; want ErrClosed", err)
	}
}

func TestLargeInputIsSplit(t *testing.T) {
	cfg := testConfig(t)
	r := openTest(t, cfg, options{})
	s, _ := r.Start(StartInfo{User: "alice"})
	s.Input("alice", make([]byte, MaxEventData+5))
	s.End(0, nil)
	var lens []int
	for _, e := range diskEvents(t, cfg.SpoolDir) {
		if e.Type == event.Input {
			lens = append(lens, len(e.Data))
		}
	}
	if !slices.Equal(lens, []int{MaxEventData, 5}) {
		t.Fatalf("input sizes = %v; want [%d 5]", lens, MaxEventData)
	}
}

func TestConcurrentOutputAndInput(t *testing.T) {
	cfg := testConfig(t)
	cfg.ChunkBytes = 512
	cfg.ChunkInterval = time.Millisecond
	r := openTest(t, cfg, options{})
	s, err := r.Start(StartInfo{User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			s.Output([]byte("output line\r\n"))
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			s.Input("alice", []byte{'a'})
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n/10; i++ {
			s.Resize(80+i%10, 24)
		}
	}()
	wg.Wait()
	if err := s.End(0, nil); err != nil {
		t.Fatal(err)
	}
	evs := diskEvents(t, cfg.SpoolDir)
	if b := event.Verify(evs); b != nil {
		t.Fatalf("chain: %v", b)
	}
	var out, in, resizes int
	for _, e := range evs {
		switch e.Type {
		case event.Output:
			out += len(e.Data)
		case event.Input:
			in++
		case event.Resize:
			resizes++
		}
	}
	if out != n*len("output line\r\n") || in != n || resizes != n/10 {
		t.Fatalf("output bytes %d, inputs %d, resizes %d; want %d, %d, %d", out, in, resizes, n*len("output line\r\n"), n, n/10)
	}
	end := evs[len(evs)-1].Meta
	if end["bytes_out"] != strconv.Itoa(out) || end["bytes_in"] != strconv.Itoa(n) {
		t.Fatalf("end counters %v", end)
	}
}

func TestSessionsInterleaveButChainsStayApart(t *testing.T) {
	cfg := testConfig(t)
	r := openTest(t, cfg, options{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := r.Start(StartInfo{User: fmt.Sprint("u", i)})
			if err != nil {
				t.Error(err)
				return
			}
			for j := 0; j < 100; j++ {
				s.Input(s.ID(), []byte{byte(j)})
			}
			if err := s.End(0, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	groups := bySession(diskEvents(t, cfg.SpoolDir))
	if len(groups) != 8 {
		t.Fatalf("%d sessions; want 8", len(groups))
	}
	for id, evs := range groups {
		if len(evs) != 102 {
			t.Errorf("%s: %d events; want 102", id, len(evs))
		}
		if b := event.Verify(evs); b != nil {
			t.Errorf("%s: %v", id, b)
		}
	}
}
