package termsafe

import (
	"encoding/binary"
	"slices"
)

// Sanitizer limits.
const (
	// maxSeq bounds the buffered bytes of one escape or CSI sequence; a
	// longer one is dropped whole.
	maxSeq = 256
	// maxString bounds how much of an OSC/DCS/SOS/PM/APC string is dropped
	// before the sanitizer resumes, so that a string never terminated cannot
	// hide the rest of a recording. Nothing of a string is ever buffered.
	maxString = 1 << 20
)

// Sanitizer states.
const (
	sGround    = iota
	sEsc       // after ESC, collecting intermediates
	sCSI       // after ESC [ or 8-bit CSI, collecting parameters
	sCSIIgnore // an over-long CSI sequence: dropped up to its final byte
	sString    // inside OSC/DCS/SOS/PM/APC: dropped
	sStringEsc // ESC inside a string: ST (ESC \) or a new sequence
)

// Sanitizer makes recorded terminal output safe to replay on an auditor's
// terminal. It keeps what draws — printable text, valid UTF-8, CR, LF, TAB,
// BS, and the escape sequences for cursor movement, erasing, scrolling,
// colours and attributes, alternate screen, cursor visibility and shape,
// character sets — and removes everything that makes a terminal answer,
// store or act beyond the screen: OSC (titles, clipboard OSC 52,
// hyperlinks, colour queries), DCS (DECRQSS, sixel, tmux passthrough),
// SOS/PM/APC, device status and attribute requests (CSI n, CSI c, CSI > c,
// CSI = c), window manipulation (CSI t), DECRQM and every other CSI with a
// $, >, = or < marker, mouse and focus reporting, bracketed paste and
// keyboard modes other than cursor/keypad mode, printer control, ESC Z,
// and all other C0 controls (BEL, ENQ answerback, SO/SI, ...). C1 controls
// — raw 8-bit bytes that are not part of valid UTF-8, and U+0080–U+009F
// encoded in UTF-8 — are parsed like their 7-bit forms and filtered the
// same way; kept sequences are always written in 7-bit form. Invalid UTF-8
// becomes U+FFFD. A full reset (ESC c) becomes a mode reset and a clear.
//
// Text on the screen must be seen, so colours and attributes (SGR) are
// read as a terminal reads them — numbers, leading zeros and all, colon
// sub-parameters, 256-colour and RGB forms — and written anew from an
// allow-list: conceal (SGR 8), however spelt, and every code not on the
// list are dropped. The Sanitizer tracks the attributes it has sent, and
// a background that would draw text in (nearly) its own colour is not
// set; after a cursor restore or soft reset, which take attributes the
// Sanitizer cannot be sure of, it sends its own whole. Only colours set
// explicitly are compared: the viewer's default colours are unknown, so
// for instance black text on a dark default background stays black.
//
// State carries across Append calls, so a sequence split over two output
// events is still recognised; memory is bounded whatever the input. The
// zero value is ready to use; a Sanitizer is not safe for concurrent use.
type Sanitizer struct {
	state  uint8
	n      int // bytes in seq
	seq    [maxSeq]byte
	bad    bool // the ESC sequence being collected is malformed
	strLen int  // bytes of the current string dropped so far

	utf  [4]byte // pending UTF-8 character
	nutf int
	need int // total length of the pending character
	lo   byte
	hi   byte // valid range of the next continuation byte

	alt    bool // alternate screen active
	region bool // scroll region set
	origin bool // origin mode set

	pen    pen  // the SGR state sent so far
	saved  pen  // the pen at the last cursor save
	forced bool // repen wrote the whole pen, and no SGR has come since
}

// Sanitize returns dst with the sanitized form of src appended, treating
// src as a complete stream.
func Sanitize(dst, src []byte) []byte {
	var s Sanitizer
	return s.Flush(s.Append(dst, src))
}

// Append appends the sanitized form of src to dst and returns the extended
// slice. Bytes of an incomplete sequence at the end of src are held until
// the next call.
func (s *Sanitizer) Append(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		if s.state == sGround && s.nutf == 0 {
			j := i + printablePrefix(src[i:])
			for j < len(src) && src[j] >= 0x20 && src[j] < 0x7f {
				j++
			}
			dst = append(dst, src[i:j]...)
			if i = j; i == len(src) {
				break
			}
		}
		dst = s.byte(dst, src[i])
		i++
	}
	return dst
}

// Flush ends the stream: a character cut short becomes U+FFFD and an
// unfinished sequence is dropped. The Sanitizer is then back in its initial
// parse state (terminal modes tracked for Restore are kept).
func (s *Sanitizer) Flush(dst []byte) []byte {
	if s.nutf > 0 {
		dst = append(dst, "\uFFFD"...)
		s.nutf = 0
	}
	s.state = sGround
	s.n = 0
	return dst
}

// Restore appends the sequences that return a terminal to its usual state
// after a replay: leave the alternate screen, reset the scroll region,
// attributes, cursor visibility and shape, keypad and cursor key modes,
// autowrap, insert mode, synchronized output and the G0 character set.
func (s *Sanitizer) Restore(dst []byte) []byte {
	if s.alt {
		dst = append(dst, "\x1b[?1049l"...)
		s.alt = false
		s.pen = s.saved
		dst = s.repen(dst)
	}
	if s.region || s.origin {
		dst = append(dst, "\x1b7\x1b[?6l\x1b[r\x1b8"...)
		s.region, s.origin = false, false
		s.saved = s.pen
		dst = s.repen(dst)
	}
	dst = s.sgr(dst, sgrReset)
	return append(dst, "\x1b[?25h\x1b[0 q\x1b[?1l\x1b>\x1b[?5l\x1b[?7h\x1b[4l\x1b[?2026l\x1b(B"...)
}

// byte processes one byte outside the ground fast path.
func (s *Sanitizer) byte(dst []byte, b byte) []byte {
	switch s.state {
	case sGround:
		if s.nutf > 0 || b >= 0x80 {
			return s.utf8(dst, b)
		}
		if b >= 0x20 && b < 0x7f {
			return append(dst, b)
		}
		return s.control(dst, b)
	case sEsc:
		switch {
		case b == 0x7f:
		case b < 0x20:
			return s.control(dst, b)
		case b >= 0x80:
			s.state = sGround
			return s.byte(dst, b)
		case b <= 0x2f:
			if s.n < 2 {
				s.seq[s.n] = b
				s.n++
			} else {
				s.bad = true
			}
		default:
			s.state = sGround
			return s.escDispatch(dst, b)
		}
	case sCSI, sCSIIgnore:
		switch {
		case b == 0x7f:
		case b < 0x20:
			return s.control(dst, b)
		case b >= 0x80:
			s.state = sGround
			return s.byte(dst, b)
		case b <= 0x3f:
			if s.n == maxSeq {
				s.state = sCSIIgnore
			} else {
				s.seq[s.n] = b
				s.n++
			}
		default:
			ignore := s.state == sCSIIgnore
			s.state = sGround
			if !ignore {
				return s.csiDispatch(dst, b)
			}
		}
	case sString:
		switch b {
		case 0x07, 0x18, 0x1a, 0x9c: // BEL, CAN, SUB, 8-bit ST
			s.state = sGround
		case 0x1b:
			s.state = sStringEsc
		default:
			if s.strLen++; s.strLen > maxString {
				s.state = sGround
			}
		}
	case sStringEsc:
		if b == '\\' {
			s.state = sGround
			return dst
		}
		s.startEsc()
		return s.byte(dst, b)
	}
	return dst
}

func (s *Sanitizer) startEsc() {
	s.state = sEsc
	s.n = 0
	s.bad = false
}

func (s *Sanitizer) startString() {
	s.state = sString
	s.strLen = 0
}

// control executes a C0 control (or DEL) in any state but the strings.
func (s *Sanitizer) control(dst []byte, b byte) []byte {
	switch b {
	case '\r', '\n', '\t', '\b':
		return append(dst, b)
	case 0x1b:
		s.startEsc()
	case 0x18, 0x1a: // CAN, SUB abort a sequence
		s.state = sGround
	}
	return dst
}

// c1 acts on a C1 control: the sequence introducers start the same parse
// as their 7-bit forms, the rest are dropped.
func (s *Sanitizer) c1(dst []byte, c byte) []byte {
	switch c {
	case 0x9b:
		s.state = sCSI
		s.n = 0
	case 0x90, 0x98, 0x9d, 0x9e, 0x9f:
		s.startString()
	}
	return dst
}

// utf8 decodes non-ASCII text byte by byte.
func (s *Sanitizer) utf8(dst []byte, b byte) []byte {
	if s.nutf > 0 {
		if b < s.lo || b > s.hi {
			// Cut short: one U+FFFD for the prefix, then b afresh.
			s.nutf = 0
			dst = append(dst, "\uFFFD"...)
			return s.byte(dst, b)
		}
		s.utf[s.nutf] = b
		s.nutf++
		s.lo, s.hi = 0x80, 0xbf
		if s.nutf < s.need {
			return dst
		}
		s.nutf = 0
		if s.need == 2 && s.utf[0] == 0xc2 && s.utf[1] <= 0x9f { // U+0080..U+009F
			return s.c1(dst, s.utf[1])
		}
		return append(dst, s.utf[:s.need]...)
	}
	s.lo, s.hi = 0x80, 0xbf
	switch {
	case b >= 0xc2 && b <= 0xdf:
		s.need = 2
	case b >= 0xe0 && b <= 0xef:
		s.need = 3
		if b == 0xe0 {
			s.lo = 0xa0
		} else if b == 0xed {
			s.hi = 0x9f
		}
	case b >= 0xf0 && b <= 0xf4:
		s.need = 4
		if b == 0xf0 {
			s.lo = 0x90
		} else if b == 0xf4 {
			s.hi = 0x8f
		}
	case b <= 0x9f:
		return s.c1(dst, b)
	default:
		return append(dst, "\uFFFD"...)
	}
	s.utf[0] = b
	s.nutf = 1
	return dst
}

// escDispatch handles ESC [intermediates] final.
func (s *Sanitizer) escDispatch(dst []byte, final byte) []byte {
	if s.bad {
		return dst
	}
	if s.n == 0 {
		switch final {
		case '[':
			s.state = sCSI
			s.n = 0
		case ']', 'P', 'X', '^', '_':
			s.startString()
		case '7': // DECSC saves the pen with the cursor
			s.saved = s.pen
			dst = append(dst, 0x1b, final)
		case '8': // DECRC restores it
			s.pen = s.saved
			dst = s.repen(append(dst, 0x1b, final))
		case '=', '>', 'D', 'E', 'M', 'H':
			dst = append(dst, 0x1b, final)
		case 'c': // full reset: keep the visible effect only
			dst = s.Restore(dst)
			dst = append(dst, "\x1b[H\x1b[2J"...)
		}
		return dst
	}
	if s.n == 1 {
		switch inter := s.seq[0]; {
		case inter == '(' || inter == ')' || inter == '*' || inter == '+' || inter == '-' || inter == '.' || inter == '/':
			return append(dst, 0x1b, inter, final)
		case inter == '#' && (final == '3' || final == '4' || final == '5' || final == '6' || final == '8'):
			return append(dst, 0x1b, inter, final)
		}
	}
	return dst
}

// keptPrivateModes are the DEC private modes a replay may set: cursor keys,
// reverse video, origin, autowrap, cursor blink and visibility, keypad,
// alternate screen, synchronized output.
var keptPrivateModes = []string{"1", "5", "6", "7", "12", "25", "47", "66", "1047", "1048", "1049", "2026"}

// csiDispatch writes the buffered CSI sequence with its final byte when it
// only draws.
func (s *Sanitizer) csiDispatch(dst []byte, final byte) []byte {
	seq := s.seq[:s.n]
	var prefix byte
	if len(seq) > 0 && seq[0] >= '<' && seq[0] <= '?' {
		prefix, seq = seq[0], seq[1:]
	}
	p := 0
	for p < len(seq) && seq[p] >= 0x30 && seq[p] <= 0x3b {
		p++
	}
	params, inter := seq[:p], seq[p:]
	for _, c := range inter {
		if c > 0x2f { // a parameter byte after an intermediate, or a misplaced marker
			return dst
		}
	}
	keep := false
	switch {
	case len(inter) == 1 && prefix == 0:
		keep = inter[0] == ' ' && final == 'q' && len(params) <= 2 || // DECSCUSR cursor shape
			inter[0] == '!' && final == 'p' && len(params) == 0 // DECSTR soft reset
	case len(inter) > 0:
	case prefix == '?':
		switch final {
		case 'J', 'K': // selective erase: one of the parameters 0, 1, 2
			keep = len(params) == 0 || len(params) == 1 && params[0] >= '0' && params[0] <= '2'
		case 'h', 'l':
			return s.modes(dst, prefix, params, final)
		}
	case prefix != 0:
	default:
		switch final {
		case 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'P', 'X', 'Z', '@', '`',
			'a', 'd', 'e', 'f', 'g', 's':
			keep = true
		case 'm':
			return s.sgr(dst, params)
		case 'S', 'T': // one count; with more parameters T starts mouse highlighting
			keep = !slices.Contains(params, ';')
		case 'b': // REP: a bounded count, or the terminal may spin
			keep = len(params) <= 4 && !slices.Contains(params, ';')
		case 'u': // restore cursor; with parameters it is a keyboard protocol
			keep = len(params) == 0
		case 'r':
			keep = true
			s.region = len(params) > 0
		case 'h', 'l':
			return s.modes(dst, prefix, params, final)
		}
	}
	if !keep {
		return dst
	}
	dst = append(dst, 0x1b, '[')
	dst = append(append(dst, s.seq[:s.n]...), final)
	switch {
	case prefix != 0:
	case final == 's' && len(inter) == 0: // save cursor, and the pen with it
		s.saved = s.pen
	case final == 'u' && len(inter) == 0: // restore
		s.pen = s.saved
		dst = s.repen(dst)
	case final == 'p': // DECSTR: the pen and the saved one reset
		s.pen, s.saved = pen{}, pen{}
		dst = s.repen(dst)
	}
	return dst
}

// modes writes a set/reset mode sequence reduced to the kept modes.
func (s *Sanitizer) modes(dst []byte, prefix byte, params []byte, final byte) []byte {
	start := len(dst)
	dst = append(dst, 0x1b, '[')
	if prefix != 0 {
		dst = append(dst, prefix)
	}
	head := len(dst)
	restore := false
	for len(params) > 0 {
		var p []byte
		if i := slices.Index(params, ';'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			p, params = params, nil
		}
		if !keptMode(prefix, string(p)) {
			continue
		}
		if len(dst) > head {
			dst = append(dst, ';')
		}
		dst = append(dst, p...)
		if prefix == '?' {
			switch string(p) {
			case "47", "1047", "1049":
				s.alt = final == 'h'
			case "6":
				s.origin = final == 'h'
			}
			switch string(p) { // 1048 and 1049 save and restore the cursor, and the pen
			case "1048", "1049":
				if final == 'h' {
					s.saved = s.pen
				} else {
					restore = true
				}
			}
		}
	}
	if len(dst) == head {
		return dst[:start]
	}
	dst = append(dst, final)
	if restore {
		s.pen = s.saved
		dst = s.repen(dst)
	}
	return dst
}

func keptMode(prefix byte, p string) bool {
	if prefix == '?' {
		return slices.Contains(keptPrivateModes, p)
	}
	return p == "4" // IRM, insert mode
}

// printablePrefix returns how many leading bytes of b, in whole 8-byte
// words, are printable ASCII (0x20–0x7e): the ground state's fast path,
// a word at a time. It may stop early (the caller goes on byte by byte),
// never late.
func printablePrefix(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	n := 0
	for ; n+8 <= len(b); n += 8 {
		w := binary.LittleEndian.Uint64(b[n:])
		low := (w - 0x20*ones) &^ w & highs // a byte below 0x20
		del := w ^ 0x7f*ones                // a byte 0x7f becomes 0
		if low|w&highs|(del-ones)&^del&highs != 0 {
			break
		}
	}
	return n
}
