package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unsafe"
)

// hostile is an event whose every string and byte field holds bytes that
// JSON cannot carry: invalid UTF-8, NUL, escape sequences.
func hostile() Event {
	return Event{V: Version, Session: "s\xff1", Time: 1e18, Type: Type("ty\xfepe"), Gateway: "gw\x00",
		Actor: "al\xc3ice", Data: []byte("\x1b]52;c;\xff\xfe\x00"),
		Meta:  map[string]string{"term": "xterm\xff", "user": "\xc0\xaf", "k\xff": "v"},
		Class: "pro\xffd", Retention: 90}
}

// TestWireKeepsInvalidUTF8 is the regression test of the trust issue's
// hole 3: the JSON wire form replaced invalid UTF-8 with U+FFFD, so an
// event carrying such bytes (a pre-auth user name, TERM=xterm\xff) failed
// verification after Kafka. It fails on the JSON encoding.
func TestWireKeepsInvalidUTF8(t *testing.T) {
	var c Chain
	e := hostile()
	c.Seal(&e)
	b, err := Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	var got Event
	if err := Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip changed the event:\n got %#v\nwant %#v", got, e)
	}
	if brk := Verify([]Event{got}); brk != nil {
		t.Fatalf("Verify after round trip = %v", brk)
	}
	// The stored meta form keeps the bytes too.
	m, err := ParseMeta(got.MetaText())
	if err != nil || !reflect.DeepEqual(m, e.Meta) {
		t.Fatalf("ParseMeta(MetaText) = %q, %v; want %q", m, err, e.Meta)
	}
}

func TestWireIsCanonicalPlusHash(t *testing.T) {
	e := sample(2)[1]
	b, _ := Marshal(&e)
	canon, h, err := WireCanonical(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(canon, AppendCanonical(nil, &e)) || h != e.Hash {
		t.Fatal("wire form is not prefix | canonical | hash")
	}
	if len(b) != WireSize(&e) {
		t.Fatalf("len = %d; WireSize = %d", len(b), WireSize(&e))
	}
	hd, err := PeekHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{Session: e.Session, Seq: e.Seq, Time: e.Time, Type: e.Type, Class: e.Class, Retention: e.Retention}
	if hd != want {
		t.Fatalf("PeekHeader = %+v; want %+v", hd, want)
	}
}

// TestUnmarshalJSONOfEarlierBuilds: spools and topics written before the
// wire form hold JSON; it still decodes, with the same hash.
func TestUnmarshalJSONOfEarlierBuilds(t *testing.T) {
	e := sample(1)[0]
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	var got Event
	if err := Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if ComputeHash(&got) != e.Hash || got.Hash != e.Hash {
		t.Fatal("JSON of an earlier build does not keep its hash")
	}
	h, err := PeekHeader(b)
	if err != nil || h.Class != e.Class || h.Type != e.Type {
		t.Fatalf("PeekHeader(JSON) = %+v, %v", h, err)
	}
}

// TestUnmarshalSharedIsUnmarshalWithoutCopies checks that UnmarshalShared
// decodes what Unmarshal decodes (the hostile bytes included, and the
// JSON form), refuses what it refuses, and that its strings and data are
// views of the input rather than copies: that is all it is for.
func TestUnmarshalSharedIsUnmarshalWithoutCopies(t *testing.T) {
	var c Chain
	e := hostile()
	c.Seal(&e)
	wire, _ := Marshal(&e)
	legacy, _ := json.Marshal(&e)
	for _, in := range [][]byte{wire, legacy, wire[:len(wire)-1], []byte("junk")} {
		var want, got Event
		werr, gerr := Unmarshal(in, &want), UnmarshalShared(bytes.Clone(in), &got)
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) {
			t.Fatalf("UnmarshalShared = %#v, %v; Unmarshal = %#v, %v", got, gerr, want, werr)
		}
	}
	b := bytes.Clone(wire)
	var got Event
	if err := UnmarshalShared(b, &got); err != nil {
		t.Fatal(err)
	}
	if brk := Verify([]Event{got}); brk != nil {
		t.Fatalf("Verify = %v", brk)
	}
	inside := func(p *byte) bool {
		return uintptr(unsafe.Pointer(p)) >= uintptr(unsafe.Pointer(&b[0])) &&
			uintptr(unsafe.Pointer(p)) < uintptr(unsafe.Pointer(&b[0]))+uintptr(len(b))
	}
	for name, p := range map[string]*byte{"session": unsafe.StringData(got.Session), "actor": unsafe.StringData(got.Actor),
		"class": unsafe.StringData(got.Class), "data": &got.Data[0]} {
		if !inside(p) {
			t.Errorf("%s is a copy; want a view of the input", name)
		}
	}
	// Data is capped at its own length: appending to it cannot write
	// over the fields that follow it in the input.
	if cap(got.Data) != len(got.Data) {
		t.Errorf("cap(Data) = %d; want %d", cap(got.Data), len(got.Data))
	}
}

func TestWireRejects(t *testing.T) {
	good, _ := Marshal(&sample(1)[0])
	mut := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	// Offsets inside the canonical encoding: 2 prefix + 15 tag.
	const vOff = 2 + 15
	unsorted := sample(1)[0]
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrInvalid},
		{"magic only", []byte{wireMagic}, ErrInvalid},
		{"wire version", mut(func(b []byte) []byte { b[1] = 9; return b }), ErrVersion},
		{"no tag", mut(func(b []byte) []byte { b[3] = 'X'; return b }), ErrInvalid},
		{"event version", mut(func(b []byte) []byte { b[vOff+1] = 99; return b }), ErrVersion},
		{"truncated", good[:len(good)-1], ErrInvalid},
		{"trailing byte", append(bytes.Clone(good), 0), ErrInvalid},
		{"huge length", mut(func(b []byte) []byte { b[vOff+2] = 0xff; return b }), ErrInvalid},
		{"unsorted meta", func() []byte {
			b := AppendWire(nil, &unsorted)
			// swap the two one-byte keys "a" and "b" in place
			i := bytes.Index(b, []byte("\x00\x00\x00\x01a\x00\x00\x00\x011"))
			j := bytes.Index(b, []byte("\x00\x00\x00\x01b\x00\x00\x00\x012"))
			b[i+4], b[j+4] = 'b', 'a'
			return b
		}(), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Event
			if err := Unmarshal(tt.in, &e); !errors.Is(err, tt.want) {
				t.Fatalf("Unmarshal = %v; want %v", err, tt.want)
			}
		})
	}
}

// FuzzChainRoundTrip seals an event made of arbitrary bytes in every
// field, encodes it, decodes it and verifies it: what was sealed is what
// verifies, byte for byte.
func FuzzChainRoundTrip(f *testing.F) {
	f.Add("s", "output", "gw", "alice", []byte("x"), "k", "v", "production", uint16(90), int64(1))
	f.Add("s\xff", "ty\xfe", "g\x00", "\xc0", []byte("\x1b]52;"), "k\xff", "xterm\xff", "c\xff", uint16(0), int64(1e18))
	f.Fuzz(func(t *testing.T, session, typ, gw, actor string, data []byte, k, v, class string, ret uint16, ts int64) {
		if session == "" || typ == "" || ts <= 0 {
			return // Validate refuses these; Seal never sees them from the recorder
		}
		var c Chain
		evs := make([]Event, 2)
		for i := range evs {
			evs[i] = Event{V: Version, Session: session, Time: ts, Type: Type(typ), Gateway: gw, Actor: actor,
				Data: data, Meta: map[string]string{k: v, "n": actor}, Class: class, Retention: ret}
			c.Seal(&evs[i])
		}
		got := make([]Event, len(evs))
		for i := range evs {
			b, err := Marshal(&evs[i])
			if err != nil {
				t.Fatal(err)
			}
			if err := Unmarshal(b, &got[i]); err != nil {
				t.Fatalf("Unmarshal(Marshal(e)) = %v", err)
			}
			m, err := ParseMeta(got[i].MetaText())
			if err != nil {
				t.Fatalf("ParseMeta(MetaText) = %v", err)
			}
			got[i].Meta = m // as read back from ClickHouse
		}
		if brk := Verify(got); brk != nil {
			t.Fatalf("Verify after round trip = %v", brk)
		}
	})
}

// FuzzUnmarshal decodes arbitrary bytes: whatever decodes encodes again to
// an event with the same canonical form, and never panics.
func FuzzUnmarshal(f *testing.F) {
	b, _ := Marshal(&sample(1)[0])
	f.Add(b)
	h := hostile()
	f.Add(AppendWire(nil, &h))
	f.Add([]byte(`{"v":1,"session":"s","type":"t","ts":1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var e Event
		if Unmarshal(in, &e) != nil {
			return
		}
		out, err := Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		if IsWire(in) && !bytes.Equal(in, out) {
			t.Fatal("a decoded wire-form event encodes to other bytes")
		}
		var again Event
		if err := Unmarshal(out, &again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if ComputeHash(&e) != ComputeHash(&again) {
			t.Fatal("canonical form changed over a round trip")
		}
		if _, err := PeekHeader(in); err != nil {
			t.Fatalf("PeekHeader fails where Unmarshal succeeds: %v", err)
		}
		var shared Event
		if err := UnmarshalShared(bytes.Clone(in), &shared); err != nil || !reflect.DeepEqual(shared, e) {
			t.Fatalf("UnmarshalShared = %#v, %v; Unmarshal gave %#v", shared, err, e)
		}
	})
}

func FuzzParseMeta(f *testing.F) {
	e := hostile()
	f.Add(e.MetaText())
	f.Add(`{"a":"b"}`)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMeta(s)
		if err != nil {
			return
		}
		back, err := ParseMeta((&Event{Meta: m}).MetaText())
		if err != nil || !reflect.DeepEqual(back, m) && len(m) > 0 {
			t.Fatalf("ParseMeta(MetaText(m)) = %q, %v; want %q", back, err, m)
		}
	})
}

// TestAppendSealedIsSealThenWire: the recorder's one-pass path gives the
// same event and bytes as sealing and encoding separately.
func TestAppendSealedIsSealThenWire(t *testing.T) {
	var c1, c2 Chain
	for i := range 3 {
		e1, e2 := hostile(), hostile()
		e1.Time, e2.Time = int64(1e18+i), int64(1e18+i)
		c1.Seal(&e1)
		want := AppendWire([]byte("prefix"), &e1)
		got := c2.AppendSealed([]byte("prefix"), &e2)
		if !bytes.Equal(got, want) || !reflect.DeepEqual(e1, e2) {
			t.Fatalf("event %d: AppendSealed differs from Seal + AppendWire", i)
		}
	}
}
