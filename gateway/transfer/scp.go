package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"sync"

	"github.com/foureyes/foureyes/termsafe"
)

// Bounds of the scp parser: past them it stops following (the stream's
// summary still counts every byte).
const (
	// maxSCPLine is the longest control line or answer text, newline
	// excluded: OpenSSH reads 2047 bytes at most, so a longer line is
	// cut in two by the program at the other end, and two records
	// where the parser would see one.
	maxSCPLine  = 2046
	maxSCPDepth = 256 // nested directories (scp -r)
	// maxSCPError is how much of an error answer a file's record keeps.
	maxSCPError = 512
)

// SCPFile is one file (or, Dir, directory) of a legacy scp stream, from
// its "C" or "D" header, the receiving end's answers and the bytes that
// followed.
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
	// Complete reports whether all Size bytes passed and both ends
	// confirmed them.
	Complete bool
	// Dir reports whether the header was a directory's ("D"): only
	// recorded when it was refused.
	Dir bool
	// Refused reports whether the receiving end refused the header: no
	// byte of the file was sent.
	Refused bool
	// Error is the error text an end sent about the file (the receiving
	// end's answer, or the sender's report), cut at maxSCPError bytes.
	Error string
}

// scpState is where the parser is in the data direction.
type scpState int

const (
	scpLine   scpState = iota // reading a control line
	scpData                   // reading a file's bytes
	scpAfter                  // the sender's end-of-file byte
	scpEnded                  // the receiving end exited: nothing more may come
	scpBroken                 // not scp as known: stopped
)

// scpWait is the record whose answer the parser waits for; the zero
// value, the receiving end's first NUL.
type scpWait int

const (
	waitStart  scpWait = iota // the receiving end's first NUL
	waitNone                  // the sender's turn
	waitHeader                // a "C" line
	waitDir                   // a "D" line
	waitEnd                   // an "E" line
	waitTimes                 // a "T" line
	waitFile                  // a file's content and end byte
)

// SCP follows both directions of a legacy scp transfer in step, as scp
// itself alternates them: the data direction (client → host for
// "scp -t", host → client for "scp -f") sends a record — a control line
// ("C", "D", "E", "T"), or a file's bytes and end byte — and waits; the
// receiving end answers each with a NUL (go on) or an error line (\x01
// or \x02, text, newline). A file's bytes follow only a NUL to its "C"
// line: a refused header is followed by the next header, never by the
// file's bytes. So each file is named with its own bytes and their
// SHA-256, a refused one as refused with the receiving end's error.
//
// A byte the receiving end could read otherwise than the parser — a
// record sent before the answer to the one before it, an answer to no
// record, anything that is not scp — stops the parser (Broken, with
// Why): the caller then stores the rest of the transfer instead of
// naming files. Nothing a peer sends makes it hold more than one control
// line and one answer's text. Safe for concurrent use: the two
// directions are fed by two goroutines.
type SCP struct {
	mu    sync.Mutex
	state scpState
	wait  scpWait
	why   string
	line  []byte
	// trailerErr: the line being read is the sender's error after a
	// file's bytes, which the receiving end answers.
	trailerErr bool
	sentOK     bool // the sender's end byte of the current file was NUL

	ans      []byte // error answer text so far (cut at maxSCPError)
	ansN     int    // its length
	inAns    bool
	ansFatal bool

	dirs    []string
	pending SCPFile // the "D" waiting for its answer
	cur     SCPFile
	left    int64
	h       hash.Hash
	seen    int // files begun
	started bool
	closed  bool
}

// Data follows p, sent by the sending end, and returns the files that
// ended in it.
func (s *SCP) Data(p []byte) []SCPFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	var done []SCPFile
	for len(p) > 0 && s.state != scpBroken {
		if s.state == scpEnded {
			s.fail("scp data after the receiving end exited")
			break
		}
		if s.wait != waitNone {
			if s.wait == waitStart {
				// scp sends nothing before the sink's first answer; a
				// shell the host runs instead of `scp -t` never answers.
				s.fail("scp data sent before the receiving end's first answer")
			} else {
				s.fail("scp data sent before the answer to the last record")
			}
			break
		}
		switch s.state {
		case scpLine:
			i := 0
			for i < len(p) && p[i] != '\n' {
				i++
			}
			if len(s.line)+i > maxSCPLine {
				s.fail("scp control line too long")
				return done
			}
			s.line = append(s.line, p[:i]...)
			if i == len(p) {
				return done
			}
			p = p[i+1:]
			done = s.control(done)
			s.line = s.line[:0]
		case scpData:
			n := min(int64(len(p)), s.left)
			s.h.Write(p[:n])
			s.cur.Bytes += n
			s.left -= n
			p = p[n:]
			if s.left == 0 {
				s.state = scpAfter
			}
		case scpAfter:
			// "\0": the sender read the whole file; "\x01…\n": it
			// failed, and the line says why. Either way the receiving
			// end answers.
			switch p[0] {
			case 0:
				s.sentOK = true
				s.state, s.wait = scpLine, waitFile
				p = p[1:]
			case 1:
				s.sentOK, s.trailerErr = false, true
				s.state = scpLine // the error line, the \x01 included
			default:
				s.fail("scp file not ended by a NUL or an error")
			}
		}
	}
	return done
}

// Answers follows p, sent by the receiving end, and returns the files
// whose fate it decided.
func (s *SCP) Answers(p []byte) []SCPFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	var done []SCPFile
	for _, c := range p {
		if s.state == scpBroken {
			return done
		}
		if s.inAns {
			if c == '\n' {
				s.inAns = false
				done = s.answer(false, done)
				continue
			}
			s.ansN++
			if s.ansN > maxSCPLine {
				s.fail("scp error answer too long")
				return done
			}
			if len(s.ans) < maxSCPError {
				s.ans = append(s.ans, c)
			}
			continue
		}
		switch c {
		case 0:
			s.ans = s.ans[:0]
			done = s.answer(true, done)
		case 1, 2:
			s.inAns, s.ansFatal, s.ans, s.ansN = true, c == 2, s.ans[:0], 0
		default:
			s.fail("scp answer that is neither a NUL nor an error")
		}
	}
	return done
}

// answer applies one answer (ok: a NUL; else an error, its text in
// s.ans) to the record waiting for it.
func (s *SCP) answer(ok bool, done []SCPFile) []SCPFile {
	if s.state == scpEnded || s.wait == waitNone {
		s.fail("scp answer to no record")
		return done
	}
	w := s.wait
	s.wait = waitNone
	switch w {
	case waitStart:
		s.started = true
		if !ok {
			s.state = scpEnded // the sink could not use its target and exited
		}
	case waitHeader:
		if ok {
			s.state = scpData
			if s.left == 0 {
				s.state = scpAfter
			}
			break
		}
		f := s.cur
		f.Refused, f.Error = true, string(s.ans)
		done = append(done, f)
	case waitDir:
		if ok {
			s.dirs = append(s.dirs, s.pending.Path)
			break
		}
		f := s.pending
		f.Path = s.path(f.Path)
		f.Refused, f.Error = true, string(s.ans)
		done = append(done, f)
	case waitEnd:
		if !ok {
			s.fail("scp end of directory refused")
			return done
		}
		if len(s.dirs) == 0 {
			s.state = scpEnded // the sink returned from its target
			break
		}
		s.dirs = s.dirs[:len(s.dirs)-1]
	case waitTimes:
		if !ok {
			s.state = scpEnded // a sink exits on a time line it cannot read
		}
	case waitFile:
		f := s.finishFile()
		f.Complete = f.Complete && s.sentOK && ok
		if !ok {
			f.Error = string(s.ans)
		}
		done = append(done, f)
	}
	if !ok && s.ansFatal {
		s.state = scpEnded // the sender exits on a fatal answer
	}
	return done
}

// fail stops the parser for why.
func (s *SCP) fail(why string) {
	if s.state != scpBroken {
		s.state, s.why = scpBroken, why
	}
}

// Answered reports whether the receiving end answered at least once
// (the sink's first NUL opens an upload).
func (s *SCP) Answered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// Broken reports whether the parser stopped following the transfer, and
// why.
func (s *SCP) Broken() (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == scpBroken, s.why
}

// Seen returns how many files the stream began.
func (s *SCP) Seen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen
}

// Close ends the stream and returns the file it cut short, if any: one
// whose header was sent (its answer unknown: no byte counted), whose
// bytes were passing or whose end was not answered.
func (s *SCP) Close() []SCPFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	cut := s.state == scpData || s.state == scpAfter || s.wait == waitHeader || s.wait == waitFile ||
		(s.state == scpLine && s.trailerErr)
	s.fail("closed")
	if !cut {
		return nil
	}
	f := s.finishFile()
	f.Complete = false
	return []SCPFile{f}
}

// control acts on one control line of the sender.
func (s *SCP) control(done []SCPFile) []SCPFile {
	l := string(s.line)
	if s.trailerErr {
		// The sender's error after a file's bytes: the receiving end
		// answers it.
		s.trailerErr = false
		if l == "" || l[0] != 1 {
			s.fail("scp file not ended by a NUL or an error")
			return done
		}
		s.cur.Error = cut(l[1:])
		s.wait = waitFile
		return done
	}
	if l == "" {
		s.fail("scp empty control line")
		return done
	}
	switch l[0] {
	case 'C', 'D':
		mode, rest, ok1 := strings.Cut(l[1:], " ")
		size, name, ok2 := strings.Cut(rest, " ")
		n, err := strconv.ParseInt(size, 10, 64)
		if !ok1 || !ok2 || err != nil || n < 0 || name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
			s.fail("scp header not understood")
			return done
		}
		if l[0] == 'D' {
			if len(s.dirs) >= maxSCPDepth {
				s.fail("scp directories nested too deep")
				return done
			}
			s.pending = SCPFile{Path: name, Mode: mode, Dir: true}
			s.wait = waitDir
			return done
		}
		s.seen++
		s.cur = SCPFile{Path: s.path(name), Mode: mode, Size: n}
		s.h = sha256.New()
		s.left = n
		s.wait = waitHeader
	case 'E':
		s.wait = waitEnd
	case 'T':
		s.wait = waitTimes
	case '\x01':
		// A warning of the sender's (a file it could not read): not
		// answered.
	case '\x02':
		s.state = scpEnded // the receiving end exits on it
	default:
		s.fail("scp control line not understood")
	}
	return done
}

// path returns name under the directories entered.
func (s *SCP) path(name string) string {
	return strings.Join(append(s.dirs[:len(s.dirs):len(s.dirs)], name), "/")
}

// cut bounds an error text kept in a record.
func cut(t string) string {
	if len(t) > maxSCPError {
		return t[:maxSCPError]
	}
	return t
}

// finishFile returns the current file with its hash.
func (s *SCP) finishFile() SCPFile {
	f := s.cur
	if s.h != nil {
		f.SHA256 = hex.EncodeToString(s.h.Sum(nil))
	}
	f.Complete = f.Bytes == f.Size
	return f
}

// Meta returns the event.Transfer meta of the file, one of a transfer in
// direction (Upload or Download): scope "file" ("dir" for a refused
// directory), its path, mode, announced size, and the bytes and SHA-256
// of its content on that side; status "refused" when the receiving end
// refused its header, "error" when an end reported an error about it,
// with the error's text (quoted when not printable: it is the host's or
// the client's).
func (f SCPFile) Meta(direction string) map[string]string {
	side := "up"
	if direction == Download {
		side = "down"
	}
	status := StatusOK
	switch {
	case f.Refused:
		status = StatusRefused
	case f.Error != "":
		status = StatusError
	case !f.Complete:
		status = StatusIncomplete
	}
	m := map[string]string{
		"via":       ViaSCP,
		"scope":     ScopeFile,
		"direction": direction,
		"path":      f.Path,
		"mode":      f.Mode,
		"status":    status,
	}
	if f.Dir {
		m["scope"] = ScopeDir
	} else {
		m["size"] = strconv.FormatInt(f.Size, 10)
		m["bytes_"+side] = strconv.FormatInt(f.Bytes, 10)
		if !f.Refused {
			m["sha256_"+side] = f.SHA256
		}
	}
	if f.Error != "" {
		m["error"] = termsafe.Text(f.Error)
	}
	return m
}
