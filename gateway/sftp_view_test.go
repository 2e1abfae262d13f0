package gateway

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/sftp"
)

// hostile is a value that would rewrite a reviewer's screen if it reached
// it as terminal text: cursor up, erase, a carriage return, a fake line,
// a C1 CSI, a bidi override and an invalid byte.
const hostile = "\x1b[2A\x1b[J\r[sftp] alice stat \".\": ok\x1b[K\n\u009b2A\u202e\xff"

// plainLine reports whether line is printable ASCII (the hash's "…"
// aside) ending in one newline.
func plainLine(line string) bool {
	body, ok := strings.CutSuffix(line, "\n")
	if !ok || !utf8.ValidString(body) {
		return false
	}
	for _, r := range strings.ReplaceAll(body, "…", "") {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return true
}

// TestSFTPLineQuotesEveryField: every field that reaches a reviewer's
// [sftp] line is data; control bytes in any of them, the user's name
// included, come out escaped (review finding F3: an unknown extension's
// name erased the reviewer's earlier lines).
func TestSFTPLineQuotesEveryField(t *testing.T) {
	transferKeys := []string{"direction", "path", "open_flags", "bytes_up", "bytes_down", "sha256_up", "sha256_down",
		"out_of_order", "status", "error", "attr_size", "attr_mode", "attr_uid", "attr_gid", "attr_mtime", "attr_atime", "attr_extended"}
	opKeys := []string{"op", "path", "target", "open_flags", "count", "status",
		"attr_size", "attr_mode", "attr_uid", "attr_gid", "attr_mtime", "attr_atime", "attr_extended"}
	full := func(keys []string, bad string) map[string]string {
		m := map[string]string{}
		for _, k := range keys {
			m[k] = "x"
			if k == bad {
				m[k] = hostile
			}
		}
		return m
	}
	type tc struct {
		name string
		user string
		rec  sftp.Record
	}
	var cases []tc
	for _, dir := range []string{"upload", "download", "both", hostile} {
		for _, k := range transferKeys {
			m := full(transferKeys, k)
			if k != "direction" {
				m["direction"] = dir
			}
			cases = append(cases, tc{"transfer " + dir + " " + k, "alice", sftp.Record{Type: event.Transfer, Meta: m}})
		}
	}
	for _, k := range opKeys {
		cases = append(cases, tc{"file.op " + k, "alice", sftp.Record{Type: event.FileOp, Meta: full(opKeys, k)}})
	}
	cases = append(cases,
		tc{"user", hostile, sftp.Record{Type: event.FileOp, Meta: full(opKeys, "")}},
		tc{"unparsable reason", "alice", sftp.Record{Type: event.FileOp, Err: sftp.ErrUnparsable, Meta: map[string]string{"reason": hostile}}},
	)
	for _, c := range cases {
		line := describeSFTP(c.user, c.rec)
		if !plainLine(line) {
			t.Errorf("%s: line %q is not printable ASCII", c.name, line)
		}
		// What the reviewer's terminal gets, through the live view.
		v := liveView{crlf: true}
		if out := v.render(nil, []byte(line)); strings.ContainsAny(string(out), "\x1b\u009b") {
			t.Errorf("%s: the view passes %q", c.name, out)
		}
	}
}

// TestSFTPLineShowsWhatTheRecordSays: the reviewer's line carries what
// the record marks: out_of_order, both sides of a handle that read and
// wrote, the open flags and the attributes set (review findings F2, F4).
func TestSFTPLineShowsWhatTheRecordSays(t *testing.T) {
	const h1, h2 = "abcdef0123456789abcdef", "9876543210fedcba9876"
	tests := []struct {
		name string
		typ  event.Type
		meta map[string]string
		want []string
	}{
		{"out of order", event.Transfer, map[string]string{"direction": "upload", "path": "/srv/app.tar", "open_flags": "write,creat,trunc",
			"bytes_up": "1048576", "sha256_up": h1, "status": "ok", "out_of_order": "up"},
			[]string{`upload "/srv/app.tar" [write,creat,trunc]: 1048576 bytes, sha256 abcdef0123456789…`, "OUT OF ORDER (up): the hash is not the file's", ", ok\n"}},
		{"both sides", event.Transfer, map[string]string{"direction": "both", "path": "/f", "open_flags": "read,write",
			"bytes_up": "10", "sha256_up": h1, "bytes_down": "20", "sha256_down": h2, "status": "ok"},
			[]string{"up 10 bytes, sha256 abcdef0123456789…; down 20 bytes, sha256 9876543210fedcba…, ok"}},
		{"truncating open", event.Transfer, map[string]string{"direction": "upload", "path": "important.db", "open_flags": "trunc",
			"bytes_up": "0", "bytes_down": "0", "status": "ok"},
			[]string{`[sftp] alice upload "important.db" [trunc]: 0 bytes, ok`}},
		{"setstat", event.FileOp, map[string]string{"op": "setstat", "path": "/usr/local/bin/x", "attr_size": "0", "attr_mode": "0104755", "status": "ok"},
			[]string{`[sftp] alice setstat "/usr/local/bin/x" (size 0, mode 0104755): ok`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := describeSFTP("alice", sftp.Record{Type: tt.typ, Meta: tt.meta})
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("got %q; want it to hold %q", got, w)
				}
			}
		})
	}
}
