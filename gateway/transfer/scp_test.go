package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// step is one read of an scp transfer: bytes of the sending end (data)
// or of the receiving end (answers).
type step struct {
	answer bool
	b      string
}

func send(b string) step   { return step{b: b} }
func answer(b string) step { return step{answer: true, b: b} }

// run feeds steps to s, each data step in chunks of chunk bytes, and
// returns the files it named, Close's included.
func run(s *SCP, steps []step, chunk int) []SCPFile {
	var got []SCPFile
	for _, st := range steps {
		for p := []byte(st.b); len(p) > 0; {
			n := min(chunk, len(p))
			if st.answer {
				got = append(got, s.Answers(p[:n])...)
			} else {
				got = append(got, s.Data(p[:n])...)
			}
			p = p[n:]
		}
	}
	return append(got, s.Close()...)
}

// scpSteps is an scp -rp of tree/ with a.bin and sub/b.txt, the
// receiving end answering every record.
func scpSteps(a, b []byte) []step {
	ok := answer("\x00")
	return []step{
		ok,
		send("T1700000000 0 1700000000 0\n"), ok, send("D0755 0 tree\n"), ok,
		send("T1700000000 0 1700000000 0\n"), ok, send(fmt.Sprintf("C0644 %d a.bin\n", len(a))), ok,
		send(string(a) + "\x00"), ok,
		send("D0700 0 sub\n"), ok,
		send(fmt.Sprintf("C0600 %d b.txt\n", len(b))), ok, send(string(b) + "\x00"), ok,
		send("E\n"), ok, send("E\n"), ok,
	}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestSCP names every file of a recursive copy with its size and hash,
// however the streams are cut into reads.
func TestSCP(t *testing.T) {
	a := make([]byte, 70000)
	for i := range a {
		a[i] = byte(i)
	}
	b := []byte("small\n")
	want := []SCPFile{
		{Path: "tree/a.bin", Mode: "0644", Size: int64(len(a)), Bytes: int64(len(a)), SHA256: sum(a), Complete: true},
		{Path: "tree/sub/b.txt", Mode: "0600", Size: int64(len(b)), Bytes: int64(len(b)), SHA256: sum(b), Complete: true},
	}
	for _, chunk := range []int{1, 7, 4096, 1 << 20} {
		t.Run(fmt.Sprint(chunk), func(t *testing.T) {
			var s SCP
			got := run(&s, scpSteps(a, b), chunk)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("files = %+v; want %+v", got, want)
			}
			if broken, why := s.Broken(); !broken || why != "closed" {
				t.Errorf("Broken() = %v, %q after Close; want true, closed", broken, why)
			}
		})
	}
}

// TestSCPRefusedHeader: a header the receiving end refuses is recorded
// as refused with its error, and the next header's bytes are the next
// file's, never the refused one's (review finding F1: the bytes after a
// refused "C" line, another header and its content, were counted as the
// refused file's).
func TestSCPRefusedHeader(t *testing.T) {
	secret := "ssh-ed25519 AAAA evil\n"
	hidden := fmt.Sprintf("C0600 %d authorized_keys\n", len(secret)) + secret
	var s SCP
	got := run(&s, []step{
		answer("\x00"),
		send(fmt.Sprintf("C0644 %d report.pdf\n", len(hidden))),
		answer("\x01scp: ./report.pdf: Is a directory\n"),
		send(fmt.Sprintf("C0600 %d authorized_keys\n", len(secret))), answer("\x00"),
		send(secret + "\x00"), answer("\x00"),
		send("D0755 0 locked\n"), answer("\x01scp: ./locked: Permission denied\n"),
		send("C0644 2 late\n"), answer("\x00"), send("hi\x00"), answer("\x01scp: ./late: No space left on device\n"),
	}, 1<<20)
	want := []SCPFile{
		{Path: "report.pdf", Mode: "0644", Size: int64(len(hidden)), Refused: true, Error: "scp: ./report.pdf: Is a directory"},
		{Path: "authorized_keys", Mode: "0600", Size: int64(len(secret)), Bytes: int64(len(secret)), SHA256: sum([]byte(secret)), Complete: true},
		{Path: "locked", Mode: "0755", Dir: true, Refused: true, Error: "scp: ./locked: Permission denied"},
		{Path: "late", Mode: "0644", Size: 2, Bytes: 2, SHA256: sum([]byte("hi")), Error: "scp: ./late: No space left on device"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("files = %+v\nwant %+v", got, want)
	}
	if m := got[0].Meta(Upload); m["status"] != StatusRefused || m["error"] != "scp: ./report.pdf: Is a directory" || m["bytes_up"] != "0" || m["sha256_up"] != "" {
		t.Errorf("refused meta = %v", m)
	}
	if m := got[2].Meta(Upload); m["scope"] != ScopeDir || m["status"] != StatusRefused {
		t.Errorf("refused directory meta = %v", m)
	}
	if m := got[3].Meta(Upload); m["status"] != StatusError {
		t.Errorf("file the sink failed to write: meta = %v", m)
	}
	// The host's error text is data: quoted when it is not printable.
	f := SCPFile{Path: "x", Refused: true, Error: "scp: \x1b[2Ax"}
	if m := f.Meta(Upload); strings.ContainsRune(m["error"], 0x1b) {
		t.Errorf("error = %q; want it escaped", m["error"])
	}
}

// TestSCPOutOfStep: a byte the receiving end could read otherwise than
// the parser stops it, so that the caller stores the rest rather than
// name a file wrongly; no file is credited with bytes whose header's
// answer was not seen.
func TestSCPOutOfStep(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
		why   string
		files int // named before Close
	}{
		{"data before the first answer", []step{send("C0644 1 x\n")}, "scp data sent before the receiving end's first answer", 0},
		{"content pipelined after its header", []step{answer("\x00"), send("C0644 2 x\nhi\x00")}, "scp data sent before the answer to the last record", 0},
		{"next header before the answer to a file", []step{answer("\x00"), send("C0644 2 x\n"), answer("\x00"), send("hi\x00C0644 1 y\n")}, "scp data sent before the answer to the last record", 0},
		{"answer to no record", []step{answer("\x00\x00")}, "scp answer to no record", 0},
		{"error answer to no record", []step{answer("\x00\x01;echo hidden\n")}, "scp answer to no record", 0},
		{"not an answer", []step{answer("\x00$ ")}, "scp answer that is neither a NUL nor an error", 0},
		{"answer too long", []step{answer("\x00"), send("C0644 1 x\n"), answer("\x01" + strings.Repeat("a", maxSCPLine+1))}, "scp error answer too long", 0},
		{"line the sink would cut", []step{answer("\x00"), send("C0644 1 " + strings.Repeat("n", maxSCPLine))}, "scp control line too long", 0},
		{"data after the sink ended", []step{answer("\x00"), send("E\n"), answer("\x00"), send("C0644 1 x\n")}, "scp data after the receiving end exited", 0},
		{"file not ended", []step{answer("\x00"), send("C0644 1 x\n"), answer("\x00"), send("xZ")}, "scp file not ended by a NUL or an error", 0},
		{"garbage", []step{answer("\x00"), send("garbage\n")}, "scp control line not understood", 0},
		{"negative size", []step{answer("\x00"), send("C0644 -1 x\n")}, "scp header not understood", 0},
		{"slash in name", []step{answer("\x00"), send("C0644 1 a/b\n")}, "scp header not understood", 0},
		{"dot name", []step{answer("\x00"), send("D0755 0 ..\n")}, "scp header not understood", 0},
		{"empty line", []step{answer("\x00"), send("\n")}, "scp empty control line", 0},
		{"refused end of directory", []step{answer("\x00"), send("D0755 0 d\n"), answer("\x00"), send("E\n"), answer("\x01no\n")}, "scp end of directory refused", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{1, 1 << 20} {
				var s SCP
				var got []SCPFile
				for _, st := range tc.steps {
					for p := []byte(st.b); len(p) > 0; {
						n := min(chunk, len(p))
						if st.answer {
							got = append(got, s.Answers(p[:n])...)
						} else {
							got = append(got, s.Data(p[:n])...)
						}
						p = p[n:]
					}
				}
				if broken, why := s.Broken(); !broken || why != tc.why || len(got) != tc.files {
					t.Errorf("chunk %d: Broken() = %v, %q, files %+v; want true, %q, %d files", chunk, broken, why, got, tc.why, tc.files)
				}
				for _, f := range s.Close() {
					if f.Complete || f.Bytes != 0 && tc.name != "file not ended" && tc.name != "next header before the answer to a file" {
						t.Errorf("chunk %d: cut file %+v credited", chunk, f)
					}
				}
				if len(s.line) > maxSCPLine || len(s.ans) > maxSCPError {
					t.Errorf("chunk %d: holds %d and %d bytes", chunk, len(s.line), len(s.ans))
				}
			}
		})
	}
}

// TestSCPCut: a file cut short, a sender's error after a file, and the
// ends that exit.
func TestSCPCut(t *testing.T) {
	var s SCP
	got := run(&s, []step{answer("\x00"), send("C0644 10 x\n"), answer("\x00"), send("hello")}, 1<<20)
	if len(got) != 1 || got[0].Complete || got[0].Bytes != 5 || got[0].SHA256 != sum([]byte("hello")) {
		t.Errorf("files = %+v; want x incomplete after 5 bytes", got)
	}

	s = SCP{}
	got = run(&s, []step{answer("\x00"), send("C0644 2 y\n"), answer("\x00"), send("hi\x01scp: y: read error\n"), answer("\x00"),
		send("\x01scp: w: Permission denied\n"), send("C0644 1 z\n"), answer("\x00"), send("z\x00"), answer("\x00")}, 1<<20)
	if len(got) != 2 || got[0].Complete || got[0].Path != "y" || got[0].Error != "scp: y: read error" || !got[1].Complete || got[1].Path != "z" {
		t.Errorf("files = %+v; want y failed, z complete", got)
	}
	if broken, why := s.Broken(); !broken || why != "closed" {
		t.Errorf("Broken() = %v, %q", broken, why)
	}

	// A header whose answer never came: named, no byte credited.
	s = SCP{}
	got = run(&s, []step{answer("\x00"), send("C0644 3 q\n")}, 1<<20)
	if len(got) != 1 || got[0].Complete || got[0].Bytes != 0 || got[0].Path != "q" {
		t.Errorf("files = %+v; want q incomplete, 0 bytes", got)
	}

	// A fatal answer ends the transfer.
	s = SCP{}
	got = run(&s, []step{answer("\x00"), send("C0644 3 q\n"), answer("\x02scp: fatal\n")}, 1<<20)
	if len(got) != 1 || !got[0].Refused || s.Data([]byte("C")) != nil {
		t.Errorf("files = %+v; want q refused", got)
	}
	if !s.Answered() {
		t.Error("Answered() = false after the first NUL")
	}
}

// FuzzSCP: no input panics or makes it hold more than a line and an
// answer, and every file it reports passed at most its announced size,
// none refused with bytes.
func FuzzSCP(f *testing.F) {
	f.Add([]byte(nil), 3, uint8(5))
	f.Add([]byte("C0644 2 y\nhi\x01scp: y: read error\n"), 1, uint8(0))
	f.Fuzz(func(t *testing.T, stream []byte, chunk int, split uint8) {
		chunk = max(1, chunk%64+1)
		var s SCP
		check := func(fs []SCPFile) {
			for _, f := range fs {
				if f.Bytes > f.Size || (f.Complete && f.Bytes != f.Size) || (f.Refused && f.Bytes != 0) {
					t.Fatalf("file %+v", f)
				}
			}
		}
		// Odd chunks go to the answers, even ones to the data.
		for i, p := 0, stream; len(p) > 0; i++ {
			n := min(chunk, len(p))
			if i%2 == 1 && split&1 == 1 {
				check(s.Answers(p[:n]))
			} else {
				check(s.Data(p[:n]))
			}
			split = split>>1 | split<<7
			p = p[n:]
		}
		check(s.Close())
		if len(s.line) > maxSCPLine || len(s.dirs) > maxSCPDepth || len(s.ans) > maxSCPError {
			t.Fatalf("holds a %d-byte line, %d directories, a %d-byte answer", len(s.line), len(s.dirs), len(s.ans))
		}
	})
}
