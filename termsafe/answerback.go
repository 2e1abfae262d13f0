package termsafe

// Answerback states.
const (
	aGround = iota
	aEsc    // after ESC
	aCSI    // inside ESC [ …, collecting
	aString // inside ESC ] / P / _ / ^ / X …: dropped
	aStrEsc // ESC inside a string
	aMouse  // the 3 bytes after an X10 mouse report (ESC [ M): dropped
)

// maxReply bounds the bytes of one CSI sequence held while it is parsed;
// a longer one is dropped whole.
const maxReply = 64

// Answerback removes what a terminal sends on its own from a stream of
// keystrokes: replies to device queries (cursor position, device status
// and attributes, DECRQM and DECRQSS reports, window reports, colour and
// other OSC replies, DCS, APC, PM and SOS strings, keyboard protocol
// flags) and mouse and focus reports. Keys — text, control characters,
// arrow and function keys, Alt-combinations, bracketed paste — pass
// unchanged. Use it on the input of someone who watches a session their
// terminal was not asked about: a host that queries the terminal would
// otherwise have a reviewer's terminal type the answer into the host.
//
// State carries across Filter calls so that a reply split over two reads
// is still removed; a lone ESC at the end of a call is passed on at once
// (it is the Esc key). The zero value is ready to use; an Answerback is
// not safe for concurrent use.
type Answerback struct {
	state uint8
	n     int
	seq   [maxReply]byte
	skip  int // bytes of the current mouse report still to drop
}

// Filter appends src without terminal replies to dst and returns the
// extended slice.
func (a *Answerback) Filter(dst, src []byte) []byte {
	for _, b := range src {
		dst = a.byte(dst, b)
	}
	if a.state == aEsc {
		dst = append(dst, 0x1b)
		a.state = aGround
	}
	return dst
}

func (a *Answerback) byte(dst []byte, b byte) []byte {
	switch a.state {
	case aGround:
		if b == 0x1b {
			a.state = aEsc
			return dst
		}
		return append(dst, b)
	case aEsc:
		switch b {
		case '[':
			a.state, a.n = aCSI, 0
		case ']', 'P', '_', '^', 'X':
			a.state = aString
		case 0x1b:
			dst = append(dst, 0x1b) // Esc pressed twice: the first one passes
		default:
			a.state = aGround
			dst = append(dst, 0x1b, b) // Alt-key, SS3 (ESC O …: the next byte is plain)
		}
	case aCSI:
		switch {
		case b < 0x20 || b == 0x7f:
			// A control interrupts the sequence: the prefix is dropped,
			// the control is a key.
			a.state = aGround
			return a.byte(dst, b)
		case b >= 0x40 && b <= 0x7e:
			a.state = aGround
			return a.csi(dst, b)
		case a.n < maxReply:
			a.seq[a.n] = b
			a.n++
		default:
			a.n = maxReply + 1 // marks an over-long sequence: dropped
		}
	case aString:
		switch b {
		case 0x07, 0x18, 0x1a:
			a.state = aGround
		case 0x1b:
			a.state = aStrEsc
		}
	case aStrEsc:
		if b == '\\' {
			a.state = aGround
		} else {
			a.state = aString
		}
	case aMouse:
		if a.skip--; a.skip == 0 {
			a.state = aGround
		}
	}
	return dst
}

// csi passes a complete CSI sequence that is a key and drops a reply.
func (a *Answerback) csi(dst []byte, final byte) []byte {
	if a.n > maxReply {
		return dst
	}
	seq := a.seq[:a.n]
	var prefix, inter byte
	if len(seq) > 0 && seq[0] >= '<' && seq[0] <= '?' {
		prefix = seq[0]
	}
	if len(seq) > 0 && seq[len(seq)-1] >= 0x20 && seq[len(seq)-1] <= 0x2f {
		inter = seq[len(seq)-1]
	}
	reply := false
	switch final {
	case 'R', 'n', 'c', 'x', 't': // CPR, DSR, DA/DA2/DA3, DECREQTPARM, window reports
		reply = true
	case 'y': // DECRPM
		reply = inter == '$'
	case 'I', 'O': // focus in/out
		reply = len(seq) == 0
	case 'M', 'm':
		if prefix == '<' { // SGR mouse
			reply = true
		} else if final == 'M' && len(seq) == 0 { // X10 mouse: three bytes follow
			a.state, a.skip = aMouse, 3
			return dst
		}
	case 'u': // keyboard protocol flags
		reply = prefix == '?'
	}
	if reply {
		return dst
	}
	dst = append(dst, 0x1b, '[')
	return append(append(dst, seq...), final)
}
