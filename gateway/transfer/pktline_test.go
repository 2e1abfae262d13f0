package transfer

import "testing"

func TestPktLines(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream string
		raw    bool
		ok     bool
	}{
		{"wants", "0032want 0123456789012345678901234567890123456789\n00000009done\n", false, true},
		{"specials", "000000010002", false, true},
		{"empty packet", "0004", false, true},
		{"commands then pack", "0010old new ref\n0000PACK\x00\x00\x00\x02garbage", true, true},
		{"pack without flush first", "PACK\x00", true, false},
		{"shell prompt", "$ ", false, false},
		{"typed command", "echo hidden\n", false, false},
		{"bad length", "0003", false, false},
		{"too long", "fff1", false, false},
		{"after a packet", "0009done\nls -la\n", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &PktLines{RawAfterFlush: tc.raw}
			ok := true
			for i := range len(tc.stream) {
				ok = k.Write([]byte{tc.stream[i]})
			}
			if ok != tc.ok {
				t.Errorf("PktLines(%q) = %v; want %v", tc.stream, ok, tc.ok)
			}
		})
	}
}

// FuzzPktLines: no input panics, and a broken stream stays broken.
func FuzzPktLines(f *testing.F) {
	f.Add([]byte("0009done\n0000PACK"), true)
	f.Fuzz(func(t *testing.T, stream []byte, raw bool) {
		k := &PktLines{RawAfterFlush: raw}
		broken := false
		for i := 0; i < len(stream); i += 3 {
			ok := k.Write(stream[i:min(i+3, len(stream))])
			if broken && ok {
				t.Fatal("a broken stream became valid")
			}
			broken = !ok
		}
	})
}
