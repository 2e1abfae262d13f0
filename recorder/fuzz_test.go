package recorder

import (
	"bytes"
	"os"
	"testing"

	"github.com/foureyes/foureyes/event"
)

// seedSegment returns the frames (after the header) of a small recorded
// spool segment.
func seedSegment(t testing.TB) []byte {
	cfg := Config{Gateway: "gw", SpoolDir: t.TempDir(), Logger: testLogger(t)}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := r.Start(StartInfo{ID: "seed", User: "alice", Host: "h"})
	s.Output([]byte("hello\r\n"))
	s.Input("alice", []byte("ls\r"))
	s.Resize(80, 24)
	r.spool.sync()
	r.halt()
	nos, _ := listSegments(cfg.SpoolDir)
	b, err := os.ReadFile(segPath(cfg.SpoolDir, nos[len(nos)-1]))
	if err != nil {
		t.Fatal(err)
	}
	return b[segHeaderSize:]
}

// FuzzScanFrames feeds garbage to the spool frame decoder: it must never
// panic, and what it accepts must re-encode to the same bytes.
func FuzzScanFrames(f *testing.F) {
	seed := seedSegment(f)
	f.Add(seed)
	f.Add(seed[:len(seed)-1])
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 'E'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(appendKindFrame(nil, kindCheckpoint, []byte(`{"open":[{"id":"x","next_seq":1}]}`)))
	f.Add(appendCheckpoint(nil, map[string]*sessionState{"x": {ID: "x", NextSeq: 1, Fields: map[string]string{"command": "\xff"}}}))
	f.Add(appendPadFrame(nil, 40))
	f.Add(appendTombFrame(appendTombFrame(nil, []byte("s1"), 0), []byte("s2"), 60))
	f.Fuzz(func(t *testing.T, b []byte) {
		var re []byte
		valid, err := scanFrames(b, func(_ int, fr frame) error {
			switch fr.kind {
			case kindEvent:
				re = appendEventFramePrefix(re, fr.time, string(fr.session))
				start := len(re) - (frameHeaderSize + eventBodyFixed + len(fr.session))
				re = append(re, fr.payload...)
				sealFrame(re[start:])
			case kindCheckpoint, kindCheckpointPart:
				re = appendKindFrame(re, fr.kind, fr.payload)
			case kindPad:
				re = appendPadFrame(re, frameHeaderSize+1+len(fr.payload))
			case kindTomb:
				re = appendTombFrame(re, fr.session, frameHeaderSize+2+len(fr.session)+len(fr.payload))
			}
			return nil
		})
		if valid > len(b) || (err == nil) != (valid == len(b)) {
			t.Fatalf("valid %d of %d, err %v", valid, len(b), err)
		}
		if !bytes.Equal(re, b[:valid]) {
			t.Fatal("accepted frames do not re-encode to the same bytes")
		}
		if cp, err := decodeCheckpointPart(b); err == nil {
			// a checkpoint that decodes must encode and decode again
			open := map[string]*sessionState{}
			for _, st := range cp.open {
				open[st.ID] = st
			}
			frames := appendCheckpoint(nil, open)
			if _, _, err := decodeFrame(frames); err != nil {
				t.Fatal(err)
			}
			if _, err := decodeCheckpointPart(frames[frameHeaderSize+1:]); err != nil && len(open) > 0 {
				t.Fatalf("re-encoded checkpoint does not decode: %v", err)
			}
		}
	})
}

// appendKindFrame appends a frame of kind with payload as its body's rest,
// as earlier builds wrote JSON checkpoints ('C').
func appendKindFrame(b []byte, kind byte, payload []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, frameHeaderSize)...)
	b = append(b, kind)
	b = append(b, payload...)
	sealFrame(b[start:])
	return b
}

// FuzzRecovery opens a spool whose only segment holds garbage after a
// valid header: New must succeed, and everything left must decode and
// end every session.
func FuzzRecovery(f *testing.F) {
	seed := seedSegment(f)
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add(append(append([]byte{}, seed...), 1, 2, 3))
	f.Add([]byte("not a spool at all"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		seg := appendSegHeader(nil, 1)
		if err := os.WriteFile(segPath(dir, 1), append(seg, b...), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := New(Config{Gateway: "gw", SpoolDir: dir, Logger: testLogger(t)})
		if err != nil {
			t.Fatalf("New on a damaged spool: %v", err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		for id, evs := range bySession(diskEvents(t, dir)) {
			if evs[len(evs)-1].Type != event.SessionEnd {
				t.Fatalf("session %q left open after recovery", id)
			}
		}
	})
}
