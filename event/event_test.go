package event

import (
	"errors"
	"strings"
	"testing"
)

func sample(n int) []Event {
	var c Chain
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{V: Version, Session: "s1", Time: int64(1e18 + i), Type: Output, Gateway: "gw",
			Actor: "alice", Data: []byte{byte(i), 'x'}, Meta: map[string]string{"b": "2", "a": "1"},
			Class: "production", Retention: 90}
		c.Seal(&evs[i])
	}
	return evs
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func([]Event) []Event
		wantSeq uint64
		ok      bool
	}{
		{name: "intact", mutate: func(e []Event) []Event { return e }, ok: true},
		{name: "flipped data byte", mutate: func(e []Event) []Event { e[3].Data[1] ^= 1; return e }, wantSeq: 3},
		{name: "changed meta", mutate: func(e []Event) []Event { e[2].Meta = map[string]string{"a": "1"}; return e }, wantSeq: 2},
		{name: "changed actor", mutate: func(e []Event) []Event { e[4].Actor = "bob"; return e }, wantSeq: 4},
		{name: "missing event", mutate: func(e []Event) []Event { return append(e[:2:2], e[3:]...) }, wantSeq: 2},
		{name: "reordered", mutate: func(e []Event) []Event { e[1], e[2] = e[2], e[1]; return e }, wantSeq: 1},
		{name: "duplicate", mutate: func(e []Event) []Event { return append(e[:3:3], e[2:]...) }, wantSeq: 2},
		{name: "rehashed but prev broken", mutate: func(e []Event) []Event {
			e[2].Data = []byte("evil")
			e[2].Hash = ComputeHash(&e[2])
			return e
		}, wantSeq: 3},
		{name: "missing first", mutate: func(e []Event) []Event { return e[1:] }, wantSeq: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Verify(tt.mutate(sample(6)))
			if tt.ok {
				if got != nil {
					t.Fatalf("Verify = %v; want nil", got)
				}
				return
			}
			if got == nil || got.Seq != tt.wantSeq {
				t.Fatalf("Verify = %v; want break at seq %d", got, tt.wantSeq)
			}
		})
	}
}

func TestWireRoundTripKeepsHash(t *testing.T) {
	for _, e := range sample(3) {
		b, err := Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		var got Event
		if err := Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if h := ComputeHash(&got); h != e.Hash {
			t.Fatalf("hash after round trip = %s; want %s", h, e.Hash)
		}
		m, err := ParseMeta(got.MetaText())
		if err != nil || len(m) != 2 || m["a"] != "1" {
			t.Fatalf("ParseMeta(MetaText) = %v, %v", m, err)
		}
	}
}

func TestUnmarshalRejects(t *testing.T) {
	for name, in := range map[string]string{
		"garbage":    "not json",
		"no version": `{"session":"s","type":"output","ts":1}`,
		"future":     `{"v":99,"session":"s","type":"output","ts":1}`,
		"no session": `{"v":1,"type":"output","ts":1}`,
		"no type":    `{"v":1,"session":"s","ts":1}`,
		"no time":    `{"v":1,"session":"s","type":"output"}`,
		"bad hash":   `{"v":1,"session":"s","type":"output","ts":1,"hash":"zz"}`,
	} {
		var e Event
		err := Unmarshal([]byte(in), &e)
		if err == nil {
			t.Errorf("%s: Unmarshal = nil; want error", name)
		}
		if name == "future" && !errors.Is(err, ErrVersion) {
			t.Errorf("%s: err = %v; want ErrVersion", name, err)
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	var c Chain
	e := Event{V: Version, Session: "0b0f6a8e-1c1e-4a57-9d53-0d9a7f7f1e2a", Time: 1e18, Type: Output, Gateway: "gw", Data: make([]byte, 200)}
	b.ReportAllocs()
	for b.Loop() {
		c.Seal(&e)
	}
}

func TestTraffic(t *testing.T) {
	for _, tt := range []struct {
		name    string
		e       Event
		in, out int64
	}{
		{"input", Event{Type: Input, Data: []byte("ls\r")}, 3, 0},
		{"output", Event{Type: Output, Data: []byte("a\r\n")}, 0, 3},
		{"sftp file", Event{Type: Transfer, Meta: map[string]string{"via": "sftp", "bytes_up": "10", "bytes_down": "20"}}, 10, 20},
		{"scp stream", Event{Type: Transfer, Meta: map[string]string{"via": "scp", "scope": "stream", "bytes_up": "7", "bytes_down": "9"}}, 7, 9},
		{"scp file inside the stream", Event{Type: Transfer, Meta: map[string]string{"via": "scp", "scope": "file", "bytes_up": "7"}}, 0, 0},
		{"stream partly stored as events", Event{Type: Transfer, Meta: map[string]string{"via": "scp", "scope": "stream", "stored": "input by bob", "bytes_up": "7"}}, 0, 0},
		{"summarised stdout", Event{Type: OutputSummary, Meta: map[string]string{"stream": "stdout", "bytes": "1000", "stored": "100"}}, 0, 900},
		{"summarised stdin", Event{Type: OutputSummary, Meta: map[string]string{"stream": "stdin", "bytes": "1000", "stored": "100"}}, 900, 0},
		{"malformed counts", Event{Type: Transfer, Meta: map[string]string{"via": "sftp", "bytes_up": "-5", "bytes_down": "x"}}, 0, 0},
		{"stored above total", Event{Type: OutputSummary, Meta: map[string]string{"stream": "stdout", "bytes": "10", "stored": "100"}}, 0, 0},
		{"other", Event{Type: FileOp, Meta: map[string]string{"bytes_up": "5"}}, 0, 0},
	} {
		if in, out := Traffic(&tt.e); in != tt.in || out != tt.out {
			t.Errorf("%s: Traffic = %d, %d; want %d, %d", tt.name, in, out, tt.in, tt.out)
		}
	}
}

func TestParseStoredHash(t *testing.T) {
	want := ComputeHash(&Event{Session: "s", Seq: 1, Type: Output, Data: []byte("x")})
	for _, tt := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"raw bytes", string(want[:]), true},
		{"hex digits", want.String(), true},
		{"upper-case hex digits", strings.ToUpper(want.String()), true},
		{"empty", "", false},
		{"one byte short", string(want[:HashSize-1]), false},
		{"one byte long", string(want[:]) + "x", false},
		{"hex one digit short", want.String()[1:], false},
		{"hex one digit long", want.String() + "0", false},
		{"64 bytes that are not hex", strings.Repeat("zz", HashSize), false},
	} {
		got, err := ParseStoredHash(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok %v", tt.name, err, tt.ok)
		}
		if tt.ok && got != want {
			t.Errorf("%s: = %s, want %s", tt.name, got, want)
		}
	}
}
