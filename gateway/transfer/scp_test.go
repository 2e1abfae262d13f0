package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// scpSend builds the sender's side of an scp -r stream: tree/ with a.bin
// and sub/b.txt, times included (-p).
func scpSend(a, b []byte) []byte {
	var s []byte
	s = append(s, "T1700000000 0 1700000000 0\nD0755 0 tree\n"...)
	s = append(s, fmt.Sprintf("T1700000000 0 1700000000 0\nC0644 %d a.bin\n", len(a))...)
	s = append(s, a...)
	s = append(s, 0)
	s = append(s, "D0700 0 sub\n"...)
	s = append(s, fmt.Sprintf("C0600 %d b.txt\n", len(b))...)
	s = append(s, b...)
	s = append(s, 0)
	s = append(s, "E\nE\n"...)
	return s
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestSCPStream names every file of a recursive copy with its size and
// hash, however the stream is cut into reads.
func TestSCPStream(t *testing.T) {
	a := make([]byte, 70000)
	for i := range a {
		a[i] = byte(i)
	}
	b := []byte("small\n")
	stream := scpSend(a, b)
	want := []SCPFile{
		{Path: "tree/a.bin", Mode: "0644", Size: int64(len(a)), Bytes: int64(len(a)), SHA256: sum(a), Complete: true},
		{Path: "tree/sub/b.txt", Mode: "0600", Size: int64(len(b)), Bytes: int64(len(b)), SHA256: sum(b), Complete: true},
	}
	for _, chunk := range []int{1, 7, 4096, len(stream)} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			var s SCPStream
			var got []SCPFile
			for p := stream; len(p) > 0; {
				n := min(chunk, len(p))
				got = append(got, s.Write(p[:n])...)
				p = p[n:]
			}
			got = append(got, s.Close()...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("files = %+v; want %+v", got, want)
			}
		})
	}
}

// TestSCPStreamCut: a file cut short, a sender's error after a file, and
// a stream that is not scp.
func TestSCPStreamCut(t *testing.T) {
	var s SCPStream
	if got := s.Write([]byte("C0644 10 x\nhello")); len(got) != 0 {
		t.Fatalf("Write = %+v before the file ended", got)
	}
	got := s.Close()
	if len(got) != 1 || got[0].Complete || got[0].Bytes != 5 || got[0].SHA256 != sum([]byte("hello")) {
		t.Errorf("Close = %+v; want x incomplete after 5 bytes", got)
	}

	s = SCPStream{}
	got = s.Write([]byte("C0644 2 y\nhi\x01scp: y: read error\nC0644 1 z\nz\x00"))
	if len(got) != 2 || got[0].Complete || got[0].Path != "y" || !got[1].Complete || got[1].Path != "z" {
		t.Errorf("files = %+v; want y failed, z complete", got)
	}

	for _, bad := range []string{"garbage\n", "C0644 -1 x\n", "C0644 1 a/b\n", "C0644 1\n", "\n"} {
		s = SCPStream{}
		if got := s.Write([]byte(bad + "C0644 1 x\nx\x00")); len(got) != 0 || s.state != scpBroken {
			t.Errorf("after %q: files %+v, state %d; want it to stop", bad, got, s.state)
		}
	}
	s = SCPStream{}
	long := make([]byte, maxSCPLine+1)
	for i := range long {
		long[i] = 'C'
	}
	s.Write(long)
	if s.state != scpBroken || cap(s.line) > 2*maxSCPLine {
		t.Errorf("a %d-byte line: state %d, buffer %d; want it to stop", len(long), s.state, cap(s.line))
	}
}

// FuzzSCPStream: no input panics or makes it hold more than a line, and
// every file it reports passed at most its announced size.
func FuzzSCPStream(f *testing.F) {
	f.Add(scpSend([]byte("abc"), []byte("de")), 3)
	f.Add([]byte("C0644 2 y\nhi\x01scp: y: read error\n"), 1)
	f.Fuzz(func(t *testing.T, stream []byte, chunk int) {
		chunk = max(1, chunk%64+1)
		var s SCPStream
		for p := stream; len(p) > 0; {
			n := min(chunk, len(p))
			for _, f := range s.Write(p[:n]) {
				if f.Bytes > f.Size || (f.Complete && f.Bytes != f.Size) {
					t.Fatalf("file %+v", f)
				}
			}
			p = p[n:]
		}
		s.Close()
		if len(s.line) > maxSCPLine || len(s.dirs) > maxSCPDepth {
			t.Fatalf("holds a %d-byte line and %d directories", len(s.line), len(s.dirs))
		}
	})
}

func TestSCPAcks(t *testing.T) {
	for _, tc := range []struct {
		stream string
		ok     bool
	}{
		{"\x00\x00\x00", true},
		{"\x00\x01scp: x: Permission denied\n\x00", true},
		{"\x02scp: fatal\n", true},
		{"\x00$ ", false},
		{"ls -la\n", false},
		{"\x00\x01" + strings.Repeat("a", maxSCPLine+1), false},
	} {
		var a SCPAcks
		ok := true
		for i := range len(tc.stream) {
			ok = a.Write([]byte{tc.stream[i]}) && ok
		}
		if ok != tc.ok {
			t.Errorf("SCPAcks(%q) = %v; want %v", tc.stream, ok, tc.ok)
		}
	}
}
