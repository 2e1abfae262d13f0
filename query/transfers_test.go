package query

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

const (
	sumUp   = "3279bac5e17bef31e67ac2eb1801491941b0958c84ec5e96de149702366ee20e"
	sumDown = "709e80c88487a2411e1ee4dfb9f22a861492d20c4765150c0c794abd70f8147c"
	sumCat  = "2c7d8fd2b3b1e2b4ee5b1f1a6c7f4a9a1f7b1a0e8f2d5c3b9a8e7d6c5b4a3f21"
)

// transferStore holds: x1 (a legacy scp upload with a hostile path), x2
// (an SFTP session: a read, a rename), x3 (cat disk.img past the cap),
// and s1 (a shell session without transfers).
func transferStore(t *testing.T) *Store {
	t.Helper()
	conn := testConn(t)
	store(t, conn, shellSession("s1", t0))

	x1 := newRec("x1", "alice", "demo", "exec", t0.Add(time.Hour))
	x1.at(time.Millisecond, event.Exec, "alice", "scp -t 'evil\x1b]0;x\x07.bin'", nil)
	x1.at(1500*time.Millisecond, event.Transfer, "alice", "", map[string]string{"via": "scp", "scope": "file", "direction": "upload",
		"path": "up.bin", "target": "evil\x1b]0;x\x07.bin", "mode": "0644", "size": "307200", "bytes_up": "307200", "sha256_up": sumCat, "status": "ok"})
	x1.at(2*time.Second, event.Transfer, "alice", "", map[string]string{"via": "scp", "program": "scp", "direction": "upload",
		"path": "evil\x1b]0;x\x07.bin", "bytes_up": "307220", "bytes_down": "3", "sha256_up": sumUp, "sha256_down": sumDown,
		"started_ns": "0", "duration_ms": "160", "status": "ok", "exit_status": "0", "scope": "stream", "files": "1"})
	store(t, conn, x1.end(2100*time.Millisecond, "0"))

	x2 := newRec("x2", "alice", "demo", "sftp", t0.Add(2*time.Hour))
	x2.at(time.Second, event.FileOp, "alice", "", map[string]string{"op": "realpath", "path": ".", "status": "ok"})
	x2.at(2*time.Second, event.Transfer, "alice", "", map[string]string{"via": "sftp", "direction": "download", "path": "/etc/hosts",
		"bytes_up": "0", "bytes_down": "220", "sha256_up": "", "sha256_down": sumDown, "duration_ms": "3", "status": "ok", "handle": "00000001"})
	x2.at(3*time.Second, event.FileOp, "alice", "", map[string]string{"op": "rename", "path": "a.txt", "target": "b.txt", "status": "ok"})
	store(t, conn, x2.end(4*time.Second, "0"))

	x3 := newRec("x3", "bob", "db1", "exec", t0.Add(3*time.Hour))
	x3.at(time.Millisecond, event.Exec, "bob", "cat disk.img", nil)
	x3.at(time.Second, event.Output, "", "first bytes", nil)
	x3.at(5*time.Second, event.OutputSummary, "", "last bytes", map[string]string{"stream": "stdout", "bytes": "52428800",
		"stored": "1048576", "sha256": sumCat, "cap": "1048576"})
	store(t, conn, x3.end(5100*time.Millisecond, "0"))
	return NewStore(conn)
}

// squash folds runs of spaces (tabwriter's alignment) into one.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestShowTransfers: show lists each transfer (via, direction, path,
// sizes, hashes, duration, status), SFTP file operations and output not
// stored past the cap; hostile paths are escaped.
func TestShowTransfers(t *testing.T) {
	st := transferStore(t)
	r := runCLI(st, "show", "x1")
	if r.code != 0 {
		t.Fatalf("show x1: %+v", r)
	}
	want := `transfer  scp upload "evil\x1b]0;x\a.bin": up 307220 bytes sha256 ` + sumUp + `, down 3 bytes sha256 ` + sumDown + `; 1 files; 160 ms; ok (exit 0)`
	if !strings.Contains(squash(r.stdout), squash(want)) {
		t.Errorf("show x1 lacks\n%s\n in:\n%s", want, r.stdout)
	}
	want = `transfer scp upload file "up.bin" → "evil\x1b]0;x\a.bin" (mode 0644): 307200 bytes sha256 ` + sumCat + `; ok`
	if !strings.Contains(squash(r.stdout), squash(want)) {
		t.Errorf("show x1 lacks\n%s\n in:\n%s", want, r.stdout)
	}
	if strings.Contains(r.stdout, "\x1b") || strings.Contains(r.stdout, "\a") {
		t.Errorf("show x1 prints a raw control character:\n%q", r.stdout)
	}

	r = runCLI(st, "show", "x2")
	for _, want := range []string{
		`file      realpath ".": ok`,
		`transfer  sftp download "/etc/hosts" (handle 00000001): up 0 bytes, down 220 bytes sha256 ` + sumDown + `; 3 ms; ok`,
		`file      rename "a.txt" → "b.txt": ok`,
	} {
		if !strings.Contains(squash(r.stdout), squash(want)) {
			t.Errorf("show x2 lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runCLI(st, "show", "x3")
	want = "summary   stdout past 1 MiB not stored: 52428800 bytes, sha256 " + sumCat + " (first 1048576 bytes stored, last KiB kept)"
	if !strings.Contains(squash(r.stdout), squash(want)) {
		t.Errorf("show x3 lacks\n%s\n in:\n%s", want, r.stdout)
	}

	r = runCLI(st, "show", "x1", "--json")
	var found bool
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var j eventJSON
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			t.Fatalf("show --json line %q: %v", line, err)
		}
		if j.Type == string(event.Transfer) && j.Meta["scope"] == "stream" {
			found = j.Meta["bytes_up"] == "307220" && j.Meta["sha256_up"] == sumUp && j.Meta["path"] == "evil\x1b]0;x\x07.bin"
		}
	}
	if !found {
		t.Errorf("show --json has no transfer record with its meta:\n%s", r.stdout)
	}
}

// TestSessionsTransfers: --transfers lists only the sessions that moved
// or changed files, in text and JSON, with the other filters.
func TestSessionsTransfers(t *testing.T) {
	st := transferStore(t)
	r := runCLI(st, "sessions", "--transfers", "--kind", "all")
	if r.code != 0 {
		t.Fatalf("sessions --transfers: %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "x2") || !strings.HasPrefix(lines[2], "x1") {
		t.Errorf("sessions --transfers:\n%s", r.stdout)
	}
	r = runCLI(st, "sessions", "--transfers", "--json", "--kind", "all", "--since", t0.Add(90*time.Minute).Format(time.RFC3339))
	lines = strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"x2"`) {
		t.Errorf("sessions --transfers --since --json:\n%s", r.stdout)
	}
	// Without the flag every session is listed.
	r = runCLI(st, "sessions", "--kind", "all")
	if n := len(strings.Split(strings.TrimSpace(r.stdout), "\n")); n != 5 {
		t.Errorf("sessions: %d lines; want 5:\n%s", n, r.stdout)
	}
}

// TestExportAndPlayMarkTransfers: export and play show a summary as one
// marker line where it happened, never as terminal output.
func TestExportAndPlayMarkTransfers(t *testing.T) {
	st := transferStore(t)
	r := runCLI(st, "export", "x3")
	if r.code != 0 {
		t.Fatalf("export x3: %+v", r)
	}
	var marker bool
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(line), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("export line %q: %v", line, err)
		}
		switch ev[1] {
		case "m":
			marker = strings.HasPrefix(ev[2].(string), "[foureyes summary: stdout past 1 MiB not stored: 52428800 bytes")
		case "o":
			if ev[2] != "first bytes" {
				t.Errorf("export output %q; want only the stored output", ev[2])
			}
		}
	}
	if !marker {
		t.Errorf("export has no marker for the summary:\n%s", r.stdout)
	}
	r = runCLI(st, "play", "x3")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "first bytes\r\n[foureyes summary: stdout past 1 MiB not stored") {
		t.Errorf("play x3: %+v", r)
	}
	// A transfer's session has no output to replay; export holds its marker.
	r = runCLI(st, "export", "x1")
	if !strings.Contains(r.stdout, `"m","[foureyes transfer: scp upload`) {
		t.Errorf("export x1:\n%s", r.stdout)
	}
}

// A transfer whose content did not pass front to back (the gateway marks
// it out_of_order) must not read as a plain hash of the file.
func TestTransferItemOutOfOrder(t *testing.T) {
	e := event.Event{Type: event.Transfer, Meta: map[string]string{"via": "sftp", "direction": "upload", "path": "f",
		"bytes_up": "10", "sha256_up": sumUp, "status": "ok", "out_of_order": "up\x1b[2J"}}
	_, d, ok := transferItem(&e)
	if !ok || !strings.Contains(d, "OUT OF ORDER (") || !strings.Contains(d, "the hash is not the file's") || strings.Contains(d, "\x1b") {
		t.Fatalf("transferItem = %q", d)
	}
	delete(e.Meta, "out_of_order")
	if _, d, _ = transferItem(&e); strings.Contains(d, "OUT OF ORDER") {
		t.Fatalf("in-order transfer marked: %q", d)
	}
}

// An scp file the host refused reads as refused, with the host's error
// as data; a refused directory as a directory without bytes.
func TestTransferItemRefused(t *testing.T) {
	for _, tc := range []struct {
		meta map[string]string
		want string
	}{
		{map[string]string{"via": "scp", "scope": "file", "direction": "upload", "path": "report.pdf", "mode": "0644", "size": "72",
			"bytes_up": "0", "status": "refused", "error": "scp: ./report.pdf: Is a directory\x1b[2A"},
			`scp upload file "report.pdf" (mode 0644): 0 bytes of 72 announced; refused ("scp: ./report.pdf: Is a directory\x1b[2A")`},
		{map[string]string{"via": "scp", "scope": "dir", "direction": "upload", "path": "locked", "mode": "0755", "status": "refused", "error": "no"},
			`scp upload directory "locked" (mode 0755); refused ("no")`},
	} {
		e := event.Event{Type: event.Transfer, Meta: tc.meta}
		if _, d, ok := transferItem(&e); !ok || d != tc.want {
			t.Errorf("transferItem = %q; want %q", d, tc.want)
		}
	}
}

// The attributes an SFTP client asked to set, and an open's flags, are
// shown on file and transfer lines, escaped: a setstat of size 0
// truncates, a mode may add setuid.
func TestTransferItemAttributes(t *testing.T) {
	for _, tc := range []struct {
		e    event.Event
		want string
	}{
		{event.Event{Type: event.FileOp, Meta: map[string]string{"op": "setstat", "path": "/srv/db", "attr_size": "0", "attr_mode": "0104755", "status": "ok"}},
			`setstat "/srv/db" (set size 0, mode 0104755): ok`},
		{event.Event{Type: event.FileOp, Meta: map[string]string{"op": "open", "path": "x", "open_flags": "trunc", "attr_uid": "0\x1b[2J", "status": "permission_denied"}},
			`open "x" [trunc] (set uid $'0\E[2J'): permission_denied`},
		{event.Event{Type: event.FileOp, Meta: map[string]string{"op": "remove", "path": "y", "status": "ok"}},
			`remove "y": ok`},
		{event.Event{Type: event.Transfer, Meta: map[string]string{"via": "sftp", "direction": "upload", "path": "z", "open_flags": "write,creat,trunc", "attr_mode": "0600", "status": "ok"}},
			`sftp upload "z" [write,creat,trunc] (set mode 0600): up 0 bytes, down 0 bytes; ok`},
	} {
		_, d, ok := transferItem(&tc.e)
		if !ok || strings.ContainsRune(d, 0x1b) {
			t.Errorf("transferItem = %q (ok %v): not shown, or not escaped", d, ok)
		}
		if d != tc.want {
			t.Errorf("transferItem = %q; want %q", d, tc.want)
		}
	}
}
