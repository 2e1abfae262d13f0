package gateway

import (
	"bytes"
	"testing"
)

// BenchmarkLiveView measures what rendering a chunk for reviewers
// (liveView: sanitizing, and CRLF for sessions without a pty) costs per
// 32 KiB chunk of host output, on the hot path of every four-eyes
// session (hub.broadcast, under the hub's lock). "text" is plain lines,
// "colour" is `ls --color`-like output with an SGR sequence every few
// words. Run with
//
//	go test -run '^$' -bench LiveView ./gateway/
func BenchmarkLiveView(b *testing.B) {
	text := bytes.Repeat([]byte("drwxr-xr-x  2 root root 4096 Nov 19 10:00 backups\r\n"), bufSize/40+1)[:bufSize]
	colour := bytes.Repeat([]byte("\x1b[01;34mbackups\x1b[0m  \x1b[01;32mrun.sh\x1b[0m  notes.txt\r\n"), bufSize/40+1)[:bufSize]
	for _, tc := range []struct {
		name  string
		chunk []byte
		crlf  bool
	}{
		{"text/pty", text, false},
		{"colour/pty", colour, false},
		{"text/exec", bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n")), true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			v := liveView{crlf: tc.crlf}
			b.SetBytes(int64(len(tc.chunk)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				v.render(make([]byte, 0, len(tc.chunk)+16), tc.chunk)
			}
		})
	}
}
