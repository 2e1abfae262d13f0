package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
	gossh "golang.org/x/crypto/ssh"
)

// rawSFTP is a hand-written SFTP client over an x/crypto session: it
// sends packets no stock client sends (pipelined past the handle the
// host has not granted yet, writes to a handle being closed).
type rawSFTP struct {
	t    *testing.T
	s    *gossh.Session
	in   io.WriteCloser
	out  io.Reader
	done chan error
}

// openRawSFTP logs in as user+host and starts the sftp subsystem.
func (f *fixture) openRawSFTP(t *testing.T, user, host string) *rawSFTP {
	t.Helper()
	_, s := f.sessionAs(t, user+TargetSep+host)
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}
	r := &rawSFTP{t: t, s: s, in: in, out: out, done: make(chan error, 1)}
	r.send(sftpPacket(1, nil, u32(3))) // INIT v3
	if typ, _ := r.recv(); typ != 2 {
		t.Fatalf("first host packet type %d; want VERSION", typ)
	}
	return r
}

// u32 and sstr encode SFTP fields.
func u32(v uint32) []byte  { return binary.BigEndian.AppendUint32(nil, v) }
func sstr(s string) []byte { return append(u32(uint32(len(s))), s...) }

// sftpPacket frames a packet of typ; id is nil for INIT.
func sftpPacket(typ byte, id []byte, fields ...[]byte) []byte {
	body := append([]byte{typ}, id...)
	for _, f := range fields {
		body = append(body, f...)
	}
	return append(u32(uint32(len(body))), body...)
}

// send writes packets in one write, so the gateway reads them together.
func (r *rawSFTP) send(pkts ...[]byte) {
	if _, err := r.in.Write(bytes.Join(pkts, nil)); err != nil {
		r.t.Logf("write: %v", err)
	}
}

// recv reads one host packet: its type and body after the type byte
// (nil type 0 once the stream ended).
func (r *rawSFTP) recv() (byte, []byte) {
	var hdr [4]byte
	if _, err := io.ReadFull(r.out, hdr[:]); err != nil {
		return 0, nil
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(r.out, body); err != nil {
		return 0, nil
	}
	return body[0], body[1:]
}

// drain reads up to n host packets, fewer if the stream ends: the host
// has acted on every request before the client hangs up.
func (r *rawSFTP) drain(n int) {
	for i := 0; i < n; i++ {
		if typ, _ := r.recv(); typ == 0 {
			return
		}
	}
}

// open opens path for writing (create, truncate) and returns the handle.
func (r *rawSFTP) open(id uint32, path string) string {
	r.send(sftpOpenWrite(id, path))
	typ, body := r.recv()
	if typ != 102 {
		r.t.Fatalf("OPEN %s: host packet type %d; want HANDLE", path, typ)
	}
	n := binary.BigEndian.Uint32(body[4:8])
	return string(body[8 : 8+n])
}

// sftpOpenWrite is OPEN path with WRITE|CREAT|TRUNC and no attributes.
func sftpOpenWrite(id uint32, path string) []byte {
	return sftpPacket(3, u32(id), sstr(path), u32(0x02|0x08|0x10), u32(0))
}

// sftpWrite is WRITE data at offset 0 of handle.
func sftpWrite(id uint32, handle string, data string) []byte {
	return sftpPacket(6, u32(id), sstr(handle), make([]byte, 8), sstr(data))
}

// sftpClose is CLOSE handle.
func sftpClose(id uint32, handle string) []byte { return sftpPacket(4, u32(id), sstr(handle)) }

// wait ends the client's side and waits for the session to end.
func (r *rawSFTP) wait() {
	r.in.Close()
	go func() { r.done <- r.s.Wait() }()
	go io.Copy(io.Discard, r.out)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
		r.t.Fatal("sftp session not ended")
	}
}

// TestSFTPWriteToHandleNotGranted: alice (watched) writes through SFTP
// to a handle the host has not granted yet, or one she is closing, in
// the same burst as the OPEN that makes the host (OpenSSH's sftp-server,
// which hands out the lowest free slot) give that handle to another
// file. The bytes would land in that file while the record said they
// went nowhere (handle not yet known) or into the closed file. Such a
// write is not a stream the record can follow: it never reaches the
// host, and the strictly recorded session ends, saying why.
func TestSFTPWriteToHandleNotGranted(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	home := filepath.Join(f.dir, "home")
	const payload = "ssh-ed25519 AAAA-planted-key"
	cases := []struct {
		name   string
		attack func(r *rawSFTP)
		reason string
	}{
		{"guessed handle of an OPEN in flight", func(r *rawSFTP) {
			// sftp-server's first handle is slot 0.
			r.send(sftpOpenWrite(1, "guessed.txt"), sftpWrite(2, "\x00\x00\x00\x00", payload), sftpClose(3, "\x00\x00\x00\x00"))
			r.drain(3)
		}, "not open"},
		{"handle being closed, reused by the next OPEN", func(r *rawSFTP) {
			h := r.open(1, "decoy.txt")
			r.send(sftpClose(2, h), sftpOpenWrite(3, "reused.txt"), sftpWrite(4, h, payload), sftpClose(5, h))
			r.drain(4)
		}, "being closed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, name := range []string{"guessed.txt", "decoy.txt", "reused.txt"} {
				os.Remove(filepath.Join(home, name))
			}
			before := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "sftp" })
			r := f.openRawSFTP(t, "alice", "demo")
			c.attack(r)
			r.wait()
			for _, name := range []string{"guessed.txt", "decoy.txt", "reused.txt"} {
				if b, err := os.ReadFile(filepath.Join(home, name)); err == nil && strings.Contains(string(b), payload) {
					t.Errorf("%s on the host holds the bytes written to a handle the record could not name", name)
				}
			}
			ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "sftp" })
			if len(ids) != len(before)+1 {
				t.Fatalf("%d sftp recordings; want %d", len(ids), len(before)+1)
			}
			id := ""
			for _, x := range ids {
				if !strings.Contains(strings.Join(before, " "), x) {
					id = x
				}
			}
			var evs []event.Event
			waitFor(t, "the sftp session's end recorded", func() bool {
				evs = f.streams()[id]
				return len(evs) > 0 && evs[len(evs)-1].Type == event.SessionEnd
			})
			e := requireEvent(t, evs, event.FileOp, "alice", map[string]string{"op": "unparsable", "direction": "client"})
			if !strings.Contains(e.Meta["reason"], c.reason) {
				t.Errorf("unparsable reason %q; want it to say %q", e.Meta["reason"], c.reason)
			}
			end := evs[len(evs)-1]
			if !strings.HasPrefix(end.Meta["reason"], "sftp stream could not be parsed: ") {
				t.Errorf("session.end reason %q", end.Meta["reason"])
			}
		})
	}
}
