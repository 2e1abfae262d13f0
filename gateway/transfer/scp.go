package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Bounds of the scp stream parser: past them it stops naming files (the
// stream's summary still counts every byte).
const (
	maxSCPLine  = 8 << 10 // a control line; OpenSSH's own limit is smaller
	maxSCPDepth = 256     // nested directories (scp -r)
)

// SCPFile is one file of a legacy scp stream, from its "C" header and
// the bytes that followed.
type SCPFile struct {
	// Path is the name in the header, under the directories ("D" lines)
	// it was sent in, joined by "/".
	Path string
	// Mode is the octal mode of the header ("0644").
	Mode string
	// Size is the size the header announced; Bytes how many passed.
	Size, Bytes int64
	// SHA256 is the hex SHA-256 of the file's bytes that passed.
	SHA256 string
	// Complete reports whether all Size bytes passed and the sender
	// confirmed them.
	Complete bool
}

// scpState is where the parser is in the stream.
type scpState int

const (
	scpLine   scpState = iota // reading a control line
	scpData                   // reading a file's bytes
	scpAfter                  // the sender's end-of-file byte
	scpBroken                 // not scp as known: stopped
)

// SCPStream follows the data direction of a legacy scp transfer (client
// → host for "scp -t", host → client for "scp -f"): control lines ("C",
// "D", "E", "T", errors) and file contents. It names each file, with its
// size and the SHA-256 of its bytes, so that an auditor sees file-level
// hashes and not only the protocol stream's. Nothing a peer sends makes
// it hold more than one control line. Safe for concurrent use.
type SCPStream struct {
	mu    sync.Mutex
	state scpState
	line  []byte
	dirs  []string
	cur   SCPFile
	left  int64
	h     hash.Hash
	seen  int // files begun
}

// Write follows p and returns the files that ended in it.
func (s *SCPStream) Write(p []byte) []SCPFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	var done []SCPFile
	for len(p) > 0 && s.state != scpBroken {
		switch s.state {
		case scpLine:
			i := 0
			for i < len(p) && p[i] != '\n' {
				i++
			}
			if len(s.line)+i > maxSCPLine {
				s.state = scpBroken
				return done
			}
			s.line = append(s.line, p[:i]...)
			if i == len(p) {
				return done
			}
			p = p[i+1:]
			s.control()
			s.line = s.line[:0]
		case scpData:
			n := int64(len(p))
			n = min(n, s.left)
			s.h.Write(p[:n])
			s.cur.Bytes += n
			s.left -= n
			p = p[n:]
			if s.left == 0 {
				s.state = scpAfter
			}
		case scpAfter:
			// "\0": the sender read the whole file; "\x01…\n": it failed.
			s.cur.Complete = p[0] == 0
			done = append(done, s.finishFile())
			if p[0] != 0 {
				s.state = scpLine
				continue // the error line
			}
			s.state = scpLine
			p = p[1:]
		}
	}
	return done
}

// Broken reports whether the stream left the scp protocol.
func (s *SCPStream) Broken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == scpBroken
}

// Seen returns how many files the stream began.
func (s *SCPStream) Seen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen
}

// Close ends the stream and returns the file it cut short, if any.
func (s *SCPStream) Close() []SCPFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != scpData && s.state != scpAfter {
		return nil
	}
	s.state = scpBroken
	return []SCPFile{s.finishFile()}
}

// control acts on one control line.
func (s *SCPStream) control() {
	l := string(s.line)
	if l == "" {
		s.state = scpBroken
		return
	}
	switch l[0] {
	case 'C', 'D':
		mode, rest, ok1 := strings.Cut(l[1:], " ")
		size, name, ok2 := strings.Cut(rest, " ")
		n, err := strconv.ParseInt(size, 10, 64)
		if !ok1 || !ok2 || err != nil || n < 0 || name == "" || strings.Contains(name, "/") {
			s.state = scpBroken
			return
		}
		if l[0] == 'D' {
			if len(s.dirs) >= maxSCPDepth {
				s.state = scpBroken
				return
			}
			s.dirs = append(s.dirs, name)
			return
		}
		s.seen++
		s.cur = SCPFile{Path: strings.Join(append(s.dirs[:len(s.dirs):len(s.dirs)], name), "/"), Mode: mode, Size: n}
		s.h = sha256.New()
		s.left = n
		s.state = scpData
		if n == 0 {
			s.state = scpAfter
		}
	case 'E':
		if len(s.dirs) > 0 {
			s.dirs = s.dirs[:len(s.dirs)-1]
		}
	case 'T', '\x01', '\x02':
		// Times, warnings and errors name no file.
	default:
		s.state = scpBroken
	}
}

// finishFile returns the current file with its hash.
func (s *SCPStream) finishFile() SCPFile {
	f := s.cur
	f.SHA256 = hex.EncodeToString(s.h.Sum(nil))
	if f.Bytes != f.Size {
		f.Complete = false
	}
	return f
}

// Meta returns the event.Transfer meta of the file, one of a transfer in
// direction (Upload or Download): scope "file", its path, mode, announced
// size, and the bytes and SHA-256 of its content on that side.
func (f SCPFile) Meta(direction string) map[string]string {
	side := "up"
	if direction == Download {
		side = "down"
	}
	status := StatusOK
	if !f.Complete {
		status = StatusIncomplete
	}
	return map[string]string{
		"via":            ViaSCP,
		"scope":          ScopeFile,
		"direction":      direction,
		"path":           f.Path,
		"mode":           f.Mode,
		"size":           strconv.FormatInt(f.Size, 10),
		"bytes_" + side:  strconv.FormatInt(f.Bytes, 10),
		"sha256_" + side: f.SHA256,
		"status":         status,
	}
}

// SCPAcks checks the other direction of an scp transfer: the receiving
// end's answers, each a NUL byte (go on) or an error (\x01 or \x02,
// text, newline). Anything else is not scp: a shell's prompt or output,
// or commands typed. Not safe for concurrent use: one direction has one
// copier.
type SCPAcks struct {
	msg    bool // inside an error message
	n      int  // its length so far
	broken bool
	// answered is set at the first answer; another goroutine may read
	// it (Answered).
	answered atomic.Bool
}

// Answered reports whether the receiving end answered at least once
// (the sink's first NUL opens an upload). Safe to call from another
// goroutine.
func (a *SCPAcks) Answered() bool { return a.answered.Load() }

// Write reports whether the stream, p included, is still only answers.
func (a *SCPAcks) Write(p []byte) bool {
	for _, c := range p {
		if a.broken {
			return false
		}
		switch {
		case a.msg && c == '\n':
			a.msg = false
		case a.msg:
			a.n++
			a.broken = a.n > maxSCPLine
		case c == 0:
			a.answered.Store(true)
		case c == 1 || c == 2:
			a.msg, a.n = true, 0
			a.answered.Store(true)
		default:
			a.broken = true
		}
	}
	return !a.broken
}
