package sftp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
)

// sum returns the hex SHA-256 of b.
func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestUploadAndDownloadHashes(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320000 bytes
	var up, down [][]byte
	up = append(up, helloUp, pkt(typeOpen, 1, "/srv/f.bin", uint32(0x1a), 0))
	down = append(down, helloDown, pkt(typeHandle, 1, "H1"))
	id := uint32(2)
	for off := 0; off < len(content); off += 32768 {
		end := min(off+32768, len(content))
		up = append(up, pkt(typeWrite, id, "H1", uint64(off), content[off:end]))
		down = append(down, pkt(typeStatus, id, 0, "", ""))
		id++
	}
	up = append(up, pkt(typeClose, id, "H1"))
	down = append(down, pkt(typeStatus, id, 0, "", ""))
	id++
	// and back
	up = append(up, pkt(typeOpen, id, "/srv/f.bin", uint32(flagRead), 0))
	down = append(down, pkt(typeHandle, id, "H2"))
	id++
	for off := 0; off < len(content); off += 32768 {
		end := min(off+32768, len(content))
		up = append(up, pkt(typeRead, id, "H2", uint64(off), 32768))
		down = append(down, pkt(typeData, id, content[off:end]))
		id++
	}
	up = append(up, pkt(typeRead, id, "H2", uint64(len(content)), 32768))
	down = append(down, pkt(typeStatus, id, 1, "EOF", ""))
	id++
	up = append(up, pkt(typeClose, id, "H2"))
	down = append(down, pkt(typeStatus, id, 0, "", ""))

	for _, chunk := range []int{0, 1, 7, 4096, 32768 + 3} {
		c := newCollector(0)
		// Requests go first, then each answer: the order a pipelining
		// client and a sequential server produce.
		for i := range up {
			feed(c.tap.Up, up[i], chunk)
			if i < len(down) {
				feed(c.tap.Down, down[i], chunk)
			}
		}
		var got []map[string]string
		for _, r := range c.recs {
			if r.Type != event.Transfer {
				t.Fatalf("chunk %d: unexpected record %v %v", chunk, r.Type, r.Meta)
			}
			got = append(got, r.Meta)
		}
		if len(got) != 2 {
			t.Fatalf("chunk %d: got %d transfers; want 2", chunk, len(got))
		}
		n := "320000"
		if g := got[0]; g["direction"] != "upload" || g["bytes_up"] != n || g["sha256_up"] != sum(content) || g["bytes_down"] != "0" || g["sha256_down"] != "" || g["status"] != "ok" || g["path"] != "/srv/f.bin" || g["via"] != "sftp" {
			t.Errorf("chunk %d: upload = %v", chunk, g)
		}
		if g := got[1]; g["direction"] != "download" || g["bytes_down"] != n || g["sha256_down"] != sum(content) || g["bytes_up"] != "0" || g["status"] != "ok" {
			t.Errorf("chunk %d: download = %v", chunk, g)
		}
	}
}

func TestFileOps(t *testing.T) {
	tests := []struct {
		name string
		up   []byte
		down []byte
		want map[string]string
	}{
		{"remove", pkt(typeRemove, 5, "/a"), pkt(typeStatus, 5, 0, "", ""), map[string]string{"op": "remove", "path": "/a", "status": "ok"}},
		{"remove refused", pkt(typeRemove, 5, "/a"), pkt(typeStatus, 5, 3, "no", ""), map[string]string{"op": "remove", "path": "/a", "status": "permission_denied"}},
		{"rename", pkt(typeRename, 5, "/a", "/b"), pkt(typeStatus, 5, 0, "", ""), map[string]string{"op": "rename", "path": "/a", "target": "/b", "status": "ok"}},
		{"posix-rename", pkt(typeExtended, 5, "posix-rename@openssh.com", "/a", "/b"), pkt(typeStatus, 5, 0, "", ""), map[string]string{"op": "rename", "path": "/a", "target": "/b", "status": "ok"}},
		{"mkdir", pkt(typeMkdir, 5, "/d", 0), pkt(typeStatus, 5, 0, "", ""), map[string]string{"op": "mkdir", "path": "/d", "status": "ok"}},
		{"rmdir", pkt(typeRmdir, 5, "/d"), pkt(typeStatus, 5, 2, "", ""), map[string]string{"op": "rmdir", "path": "/d", "status": "no_such_file"}},
		{"setstat", pkt(typeSetstat, 5, "/a", uint32(4), uint32(0o600)), pkt(typeStatus, 5, 0, "", ""), map[string]string{"op": "setstat", "path": "/a", "status": "ok", "attr_mode": "0600"}},
		{"setstat truncates and makes setuid", pkt(typeSetstat, 5, "/a", uint32(attrSize|attrUIDGID|attrPerms|attrTimes|attrExtended), uint64(0), 0, 0, uint32(0o104755), 1, 2, 1, "k", "v"), pkt(typeStatus, 5, 0, "", ""), map[string]string{"op": "setstat", "path": "/a", "status": "ok", "attr_size": "0", "attr_uid": "0", "attr_gid": "0", "attr_mode": "0104755", "attr_atime": "1", "attr_mtime": "2", "attr_extended": "1"}},
		{"fsetstat of a handle not open", pkt(typeFsetstat, 5, "H", uint32(attrSize), uint64(0)), pkt(typeStatus, 5, 4, "", ""), map[string]string{"op": "setstat", "path": "handle:48", "status": "failure", "attr_size": "0"}},
		{"mkdir with mode", pkt(typeMkdir, 5, "/d", uint32(attrPerms), uint32(0o777)), pkt(typeStatus, 5, 0, "", ""), map[string]string{"op": "mkdir", "path": "/d", "status": "ok", "attr_mode": "0777"}},
		{"create refused", pkt(typeOpen, 5, "/etc/x", uint32(flagWrite|flagCreat|flagExcl|0x100), uint32(attrPerms), uint32(0o4755)), pkt(typeStatus, 5, 3, "", ""), map[string]string{"op": "open", "path": "/etc/x", "status": "permission_denied", "open_flags": "write,creat,excl,0x100", "attr_mode": "04755"}},
		{"symlink", pkt(typeSymlink, 5, "/target", "/link"), pkt(typeStatus, 5, 0, "", ""), map[string]string{"op": "symlink", "path": "/link", "target": "/target", "status": "ok"}},
		{"readlink", pkt(typeReadlink, 5, "/link"), pkt(typeName, 5, 1, "/target", "/target", 0), map[string]string{"op": "readlink", "path": "/link", "target": "/target", "status": "ok"}},
		{"realpath", pkt(typeRealpath, 5, "."), pkt(typeName, 5, 1, "/home/x", "/home/x", 0), map[string]string{"op": "realpath", "path": ".", "target": "/home/x", "status": "ok"}},
		{"stat", pkt(typeStat, 5, "/a"), pkt(typeAttrs, 5, 0), map[string]string{"op": "stat", "path": "/a", "status": "ok"}},
		{"lstat missing", pkt(typeLstat, 5, "/a"), pkt(typeStatus, 5, 2, "", ""), map[string]string{"op": "lstat", "path": "/a", "status": "no_such_file"}},
		{"open refused", pkt(typeOpen, 5, "/etc/shadow", uint32(1), 0), pkt(typeStatus, 5, 3, "", ""), map[string]string{"op": "open", "path": "/etc/shadow", "status": "permission_denied", "open_flags": "read"}},
		{"hardlink", pkt(typeExtended, 5, "hardlink@openssh.com", "/old", "/new"), pkt(typeStatus, 5, 0, "", ""), map[string]string{"op": "hardlink", "path": "/new", "target": "/old", "status": "ok"}},
		{"unknown extension", pkt(typeExtended, 5, "x@example.com", "zz"), pkt(typeStatus, 5, 8, "", ""), map[string]string{"op": "extended:x@example.com", "path": "", "status": "op_unsupported"}},
		{"unknown type", pkt(77, 5, "zz"), pkt(typeStatus, 5, 8, "", ""), map[string]string{"op": "type-77", "path": "", "status": "op_unsupported"}},
		{"statvfs", pkt(typeExtended, 5, "statvfs@openssh.com", "/"), pkt(typeExtReply, 5), map[string]string{"op": "statvfs", "path": "/", "status": "ok"}},
		{"lsetstat", pkt(typeExtended, 5, "lsetstat@openssh.com", "/l", uint32(0)), pkt(typeStatus, 5, 0, "", ""), map[string]string{"op": "setstat", "path": "/l", "status": "ok"}},
		{"lsetstat with mode", pkt(typeExtended, 5, "lsetstat@openssh.com", "/l", uint32(attrPerms), uint32(0o2755)), pkt(typeStatus, 5, 0, "", ""), map[string]string{"op": "setstat", "path": "/l", "status": "ok", "attr_mode": "02755"}},
		{"unknown extension with terminal controls", pkt(typeExtended, 5, "\x1b[2A\x1b[J\r[sftp] alice stat \".\": ok\x1b[K\n"), pkt(typeStatus, 5, 8, "", ""), map[string]string{"op": `extended:$'\E[2A\E[J\r[sftp] alice stat ".": ok\E[K\n'`, "path": "", "status": "op_unsupported"}},
		{"unknown extension not ASCII", pkt(typeExtended, 5, "x\u202e@example.com"), pkt(typeStatus, 5, 8, "", ""), map[string]string{"op": `extended:$'x\u202e@example.com'`, "path": "", "status": "op_unsupported"}},
		{"expand-path", pkt(typeExtended, 5, "expand-path@openssh.com", "~/x"), pkt(typeName, 5, 1, "/home/x/x", "/home/x/x", 0), map[string]string{"op": "realpath", "path": "~/x", "target": "/home/x/x", "status": "ok"}},
		{"home-directory", pkt(typeExtended, 5, "home-directory", "bob"), pkt(typeName, 5, 1, "/home/bob", "/home/bob", 0), map[string]string{"op": "home-directory", "path": "bob", "target": "/home/bob", "status": "ok"}},
		{"copy-data between handles not open", pkt(typeExtended, 5, "copy-data", "R", uint64(0), uint64(0), "W", uint64(0)), pkt(typeStatus, 5, 4, "", ""), map[string]string{"op": "copy-data", "path": "handle:52", "target": "handle:57", "status": "failure"}},
		{"fsync not recorded", pkt(typeExtended, 5, "fsync@openssh.com", "H"), pkt(typeStatus, 5, 0, "", ""), nil},
		{"users-groups-by-id not recorded", pkt(typeExtended, 5, "users-groups-by-id@openssh.com", "", ""), pkt(typeExtReply, 5), nil},
		{"fstat not recorded", pkt(typeFstat, 5, "H"), pkt(typeAttrs, 5, 0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCollector(0)
			c.tap.Up(helloUp)
			c.tap.Down(helloDown)
			c.tap.Up(tt.up)
			c.tap.Down(tt.down)
			if tt.want == nil {
				if len(c.recs) != 0 {
					t.Fatalf("got %v; want no record", c.recs)
				}
				return
			}
			if len(c.recs) != 1 || c.recs[0].Type != event.FileOp {
				t.Fatalf("got %v; want one file.op", c.recs)
			}
			if got := c.recs[0].Meta; !sameMeta(got, tt.want) {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

// sameMeta compares meta maps.
func sameMeta(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDirectoryListingCountOnly(t *testing.T) {
	c := newCollector(0)
	c.tap.Up(cat(helloUp, pkt(typeOpendir, 1, "/srv"), pkt(typeReaddir, 2, "D"), pkt(typeReaddir, 3, "D"), pkt(typeReaddir, 4, "D"), pkt(typeClose, 5, "D")))
	c.tap.Down(cat(helloDown, pkt(typeHandle, 1, "D"),
		pkt(typeName, 2, 2, "a", "-rw a", 0, "b", "-rw b", 0),
		pkt(typeName, 3, 1, "secret-name", "-rw secret-name", 0),
		pkt(typeStatus, 4, 1, "", ""), pkt(typeStatus, 5, 0, "", "")))
	if len(c.recs) != 1 {
		t.Fatalf("got %d records; want 1: %v", len(c.recs), c.recs)
	}
	want := map[string]string{"op": "opendir", "path": "/srv", "status": "ok", "count": "3"}
	if !sameMeta(c.recs[0].Meta, want) {
		t.Errorf("got %v; want %v", c.recs[0].Meta, want)
	}
}

func TestKeepContentCapped(t *testing.T) {
	c := newCollector(10)
	c.tap.Up(cat(helloUp, pkt(typeOpen, 1, "/f", uint32(0x1a), 0)))
	c.tap.Down(cat(helloDown, pkt(typeHandle, 1, "H")))
	c.tap.Up(cat(pkt(typeWrite, 2, "H", uint64(0), "hello "), pkt(typeWrite, 3, "H", uint64(6), "world, and more")))
	c.tap.Down(cat(pkt(typeStatus, 2, 0, "", ""), pkt(typeStatus, 3, 0, "", "")))
	c.tap.Close()
	var data []string
	var offs []string
	var tr map[string]string
	for _, r := range c.recs {
		switch r.Type {
		case event.TransferData:
			data, offs = append(data, string(r.Data)), append(offs, r.Meta["offset"])
		case event.Transfer:
			tr = r.Meta
		}
	}
	if strings.Join(data, "|") != "hello |worl" || strings.Join(offs, ",") != "0,6" {
		t.Errorf("kept %q at %v; want \"hello |worl\" at 0,6", data, offs)
	}
	if tr["status"] != "incomplete" || tr["bytes_up"] != "21" || tr["sha256_up"] != sum([]byte("hello world, and more")) {
		t.Errorf("transfer = %v; want incomplete, 21 bytes and the whole hash", tr)
	}
}

func TestCloseEndsOpenHandlesAndUnanswered(t *testing.T) {
	c := newCollector(0)
	c.tap.Up(cat(helloUp, pkt(typeOpen, 1, "/f", uint32(1), 0)))
	c.tap.Down(cat(helloDown, pkt(typeHandle, 1, "H")))
	c.tap.Up(pkt(typeRemove, 2, "/g"))
	c.tap.Close()
	c.tap.Up(pkt(typeRemove, 3, "/h")) // ignored after Close
	if len(c.recs) != 2 || c.recs[0].Meta["status"] != "unanswered" || c.recs[0].Meta["path"] != "/g" || c.recs[1].Meta["status"] != "incomplete" {
		t.Errorf("got %v", c.recs)
	}
}

// TestHostileStreams: every kind of broken stream ends parsing with one
// unparsable record; later bytes are ignored and nothing panics.
func TestHostileStreams(t *testing.T) {
	big := make([]byte, maxHead+10)
	manyUp := helloUp
	for i := 0; i <= maxPending; i++ {
		manyUp = append(manyUp, pkt(typeStat, i, "/x")...)
	}
	tests := []struct {
		name     string
		up, down []byte
		reason   string
	}{
		{"huge length", cat(helloUp, []byte{0xff, 0xff, 0xff, 0xff, 1}), nil, "packet length"},
		{"zero length", cat(helloUp, []byte{0, 0, 0, 0}), nil, "packet length"},
		{"first not init", pkt(typeStat, 1, "/x"), nil, "not INIT"},
		{"init twice", cat(helloUp, helloUp), helloDown, "INIT twice"},
		{"host first not version", helloUp, pkt(typeStatus, 1, 0), "not VERSION"},
		{"other version", helloUp, pkt(typeVersion, 6), "version 6"},
		{"answer to nothing", helloUp, cat(helloDown, pkt(typeStatus, 9, 0, "", "")), "not in flight"},
		{"id reused", cat(helloUp, pkt(typeStat, 1, "/a"), pkt(typeRemove, 1, "/b")), helloDown, "reused request id 1"},
		{"data for a stat", cat(helloUp, pkt(typeStat, 1, "/a")), cat(helloDown, pkt(typeData, 1, "xx")), "with DATA"},
		{"handle for a stat", cat(helloUp, pkt(typeStat, 1, "/a")), cat(helloDown, pkt(typeHandle, 1, "H")), "with a handle"},
		{"request type from host", helloUp, cat(helloDown, pkt(typeOpen, 1, "/a", 0, 0)), "type 3"},
		{"write handle too long", cat(helloUp, pkt(typeWrite, 1, strings.Repeat("h", 300), uint64(0), "x")), helloDown, "handle of 300"},
		{"write length mismatch", cat(helloUp, pkt(typeWrite, 1, "H", uint64(0), "abc")[:4+1+4+4+1+8], []byte{0, 0, 0, 9}, []byte("abc")), helloDown, "carries 3"},
		{"short packet", cat(helloUp, pkt(typeRemove, 1)), helloDown, "packet too short"},
		{"request too long", cat(helloUp, pkt(typeRename, 1, "/a", big)), helloDown, "too long to parse"},
		{"too many in flight", manyUp, helloDown, "requests in flight"},
		// A WRITE's content is attributed as it streams: the handle
		// must name its file then (TestWriteToHandleInTransition).
		{"write to a handle not granted", cat(helloUp, pkt(typeOpen, 1, "/a", 2, 0), pkt(typeWrite, 2, "H", uint64(0), "x")), helloDown, "which is not open"},
		{"duplicate handle", cat(helloUp, pkt(typeOpen, 1, "/a", 1, 0), pkt(typeOpen, 2, "/b", 1, 0)), cat(helloDown, pkt(typeHandle, 1, "H"), pkt(typeHandle, 2, "H")), "already open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCollector(0)
			c.tap.Up(tt.up)
			c.tap.Down(tt.down)
			c.tap.Up(pkt(typeRemove, 99, "/later"))
			c.tap.Down(pkt(typeStatus, 99, 0, "", ""))
			c.tap.Close()
			var bad []Record
			for _, r := range c.recs {
				if r.Err != nil {
					bad = append(bad, r)
				}
				if r.Meta["path"] == "/later" {
					t.Errorf("parsed after the break: %v", r.Meta)
				}
			}
			if len(bad) != 1 || !errors.Is(bad[0].Err, ErrUnparsable) || bad[0].Meta["op"] != OpUnparsable || !strings.Contains(bad[0].Meta["reason"], tt.reason) {
				t.Fatalf("got %v; want one unparsable record with %q", c.recs, tt.reason)
			}
			if !c.tap.Broken() {
				t.Error("tap not broken")
			}
		})
	}
}

// TestWriteToHandleInTransition: a WRITE to a handle the client is
// closing (the host may hand its id to the next OPEN) or to a directory
// handle cannot be attributed to a file: the tap stops parsing there.
func TestWriteToHandleInTransition(t *testing.T) {
	tests := []struct {
		name       string
		open, then []byte
		handle     string
		reason     string
	}{
		{"being closed", pkt(typeOpen, 1, "/a", 2, 0), cat(pkt(typeClose, 2, "H"), pkt(typeOpen, 3, "/b", 2, 0), pkt(typeWrite, 4, "H", uint64(0), "x")), "H", "which is being closed"},
		{"directory", pkt(typeOpendir, 1, "/d"), pkt(typeWrite, 2, "H", uint64(0), "x"), "H", "directory handle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCollector(0)
			c.tap.Up(cat(helloUp, tt.open))
			c.tap.Down(cat(helloDown, pkt(typeHandle, 1, tt.handle)))
			c.tap.Up(tt.then)
			if !c.tap.Broken() {
				t.Fatalf("tap still parsing; records %v", c.recs)
			}
			for _, r := range c.recs {
				if r.Type == event.Transfer && r.Meta["bytes_up"] != "0" {
					t.Errorf("content attributed to %s: %v", r.Meta["path"], r.Meta)
				}
			}
			last := c.recs[0]
			for _, r := range c.recs {
				if r.Err != nil {
					last = r
				}
			}
			if !errors.Is(last.Err, ErrUnparsable) || !strings.Contains(last.Meta["reason"], tt.reason) {
				t.Errorf("got %v; want an unparsable record with %q", c.recs, tt.reason)
			}
		})
	}
}

// TestOutOfOrderMarked: alice sends a known file's bytes in order but to
// offsets that swap its halves. The hash is the known file's, the file
// on the host is not: the transfer says its content did not pass front
// to back. A front-to-back upload says nothing of the kind.
func TestOutOfOrderMarked(t *testing.T) {
	known := []byte("first half|second half")
	h := len(known) / 2
	for _, tt := range []struct {
		name   string
		writes []byte
		want   string
	}{
		{"in order", cat(pkt(typeWrite, 2, "H", uint64(0), known[:h]), pkt(typeWrite, 3, "H", uint64(h), known[h:])), ""},
		{"halves swapped", cat(pkt(typeWrite, 2, "H", uint64(len(known)-h), known[:h]), pkt(typeWrite, 3, "H", uint64(0), known[h:])), "up"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newCollector(0)
			c.tap.Up(cat(helloUp, pkt(typeOpen, 1, "/f", uint32(0x1a), 0)))
			c.tap.Down(cat(helloDown, pkt(typeHandle, 1, "H")))
			c.tap.Up(cat(tt.writes, pkt(typeClose, 4, "H")))
			c.tap.Down(cat(pkt(typeStatus, 2, 0, "", ""), pkt(typeStatus, 3, 0, "", ""), pkt(typeStatus, 4, 0, "", "")))
			if len(c.recs) != 1 || c.recs[0].Type != event.Transfer {
				t.Fatalf("records %v; want one transfer", c.recs)
			}
			m := c.recs[0].Meta
			if m["sha256_up"] != sum(known) || m["out_of_order"] != tt.want {
				t.Errorf("transfer %v; want the known hash and out_of_order %q", m, tt.want)
			}
		})
	}
}

// TestOpenFlagsDecideDirection: an open that creates, truncates or
// appends is a write whatever then passes; a truncation is never
// recorded as a read (review finding F2: an OPEN with only TRUNC emptied
// the file and was recorded as "download", 0 bytes).
func TestOpenFlagsDecideDirection(t *testing.T) {
	tests := []struct {
		name      string
		flags     uint32
		attrs     []any // after the flags word of ATTRS
		read      bool  // the handle reads 5 bytes
		wantDir   string
		wantFlags string
	}{
		{"trunc only", flagTrunc, nil, false, "upload", "trunc"},
		{"read and trunc, then read", flagRead | flagTrunc, nil, true, "both", "read,trunc"},
		{"creat only", flagCreat, nil, false, "upload", "creat"},
		{"creat excl with mode", flagCreat | flagExcl, []any{uint32(0o4755)}, false, "upload", "creat,excl"},
		{"append", flagAppend, nil, false, "upload", "append"},
		{"write", flagWrite, nil, false, "upload", "write"},
		{"read", flagRead, nil, true, "download", "read"},
		{"read, nothing read", flagRead, nil, false, "download", "read"},
		{"read write, only read", flagRead | flagWrite, nil, true, "download", "read,write"},
		{"no flag", 0, nil, false, "download", "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCollector(0)
			c.tap.Up(helloUp)
			c.tap.Down(helloDown)
			af := uint32(0)
			if tt.attrs != nil {
				af = attrPerms
			}
			c.tap.Up(pkt(typeOpen, append([]any{1, "/f", tt.flags, af}, tt.attrs...)...))
			c.tap.Down(pkt(typeHandle, 1, "H"))
			if tt.read {
				c.tap.Up(pkt(typeRead, 2, "H", uint64(0), 5))
				c.tap.Down(pkt(typeData, 2, "hello"))
			}
			c.tap.Up(pkt(typeClose, 3, "H"))
			c.tap.Down(pkt(typeStatus, 3, 0, "", ""))
			if len(c.recs) != 1 || c.recs[0].Type != event.Transfer {
				t.Fatalf("got %v; want one transfer", c.recs)
			}
			m := c.recs[0].Meta
			if m["direction"] != tt.wantDir || m["open_flags"] != tt.wantFlags {
				t.Errorf("direction = %q, open_flags = %q; want %q, %q", m["direction"], m["open_flags"], tt.wantDir, tt.wantFlags)
			}
			if tt.attrs != nil && m["attr_mode"] != "04755" {
				t.Errorf("attr_mode = %q; want 04755", m["attr_mode"])
			}
		})
	}
}
