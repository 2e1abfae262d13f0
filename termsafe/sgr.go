package termsafe

// colour is a text colour as the sanitizer tracks it: the terminal's
// default, an entry of the 16-colour palette (SGR 30–37, 90–97 and their
// backgrounds), an entry of the 256-colour palette (38;5;N) or 24-bit RGB
// (38;2;R;G;B). The kind is in the top byte, the index or RGB below it.
type colour uint32

const (
	colourDefault colour = 0
	kindBasic     colour = 1 << 24
	kindIndexed   colour = 2 << 24
	kindRGB       colour = 3 << 24
	kindMask      colour = 0xff << 24
)

// Attributes of the pen, one bit each, in the order of attrCodes.
const (
	attrBold uint8 = 1 << iota
	attrDim
	attrItalic
	attrUnderline
	attrBlink
	attrReverse
	attrStrike
)

// attrCodes are the SGR codes that set each attribute bit; attrOf is
// the bit each code 0–9 sets.
var (
	attrCodes = [...]byte{'1', '2', '3', '4', '5', '7', '9'}
	attrOf    = [10]uint8{1: attrBold, 2: attrDim, 3: attrItalic, 4: attrUnderline, 5: attrBlink, 7: attrReverse, 9: attrStrike}
)

// pen is the SGR state text is drawn with: what the sanitizer has sent to
// the viewer's terminal, so it is the terminal's state too.
type pen struct {
	fg, bg colour
	attrs  uint8
}

// Contrast limits: text is hidden when its colour is within this much of
// its background in every channel (of 255). Dim text is drawn at 40–66%
// of its contrast depending on the terminal, so its limit is wider.
const (
	nearLimit    = 48
	nearLimitDim = 120
)

// hidden reports whether text drawn with p could not be read: foreground
// and background both set explicitly to the same or nearly the same
// colour. Default colours are the viewer's own and never compared. The
// 16-colour palette is taken as xterm's default, and bold may brighten
// palette entries 0–7 to 8–15, as many terminals do.
func (p pen) hidden() bool {
	if p.fg == colourDefault || p.bg == colourDefault {
		return false
	}
	limit := nearLimit
	if p.attrs&attrDim != 0 {
		limit = nearLimitDim
	}
	bg := rgbOf(p.bg)
	if near(rgbOf(p.fg), bg, limit) {
		return true
	}
	return p.attrs&attrBold != 0 && p.fg&kindMask != kindRGB && p.fg&0xff < 8 &&
		near(rgbOf(p.fg+8), bg, limit)
}

// near reports whether RGB colours a and b differ by less than limit in
// every channel.
func near(a, b colour, limit int) bool {
	for shift := 0; shift < 24; shift += 8 {
		d := int(a>>shift&0xff) - int(b>>shift&0xff)
		if d >= limit || -d >= limit {
			return false
		}
	}
	return true
}

// palette16 is xterm's default 16-colour palette.
var palette16 = [16]colour{
	0x000000, 0xcd0000, 0x00cd00, 0xcdcd00, 0x0000ee, 0xcd00cd, 0x00cdcd, 0xe5e5e5,
	0x7f7f7f, 0xff0000, 0x00ff00, 0xffff00, 0x5c5cff, 0xff00ff, 0x00ffff, 0xffffff,
}

// rgbOf returns the RGB value (0xRRGGBB) of a colour that is not the
// default: the 6×6×6 cube and the grey ramp of the 256-colour palette
// are the same in every terminal that has them.
func rgbOf(c colour) colour {
	if c&kindMask == kindRGB {
		return c &^ kindMask
	}
	i := int(c & 0xff)
	switch {
	case i < 16:
		return palette16[i]
	case i < 232:
		i -= 16
		return cubeLevel(i/36)<<16 | cubeLevel(i/6%6)<<8 | cubeLevel(i%6)
	default:
		g := colour(8 + 10*(i-232))
		return g<<16 | g<<8 | g
	}
}

func cubeLevel(i int) colour {
	if i == 0 {
		return 0
	}
	return colour(55 + 40*i)
}

// sgrReset is the parameter string of SGR 0.
var sgrReset = []byte{'0'}

// sgr writes a Select Graphic Rendition sequence rebuilt from what the
// terminal would read in params: each parameter is read as a number
// (leading zeros and all; empty is 0), with colon sub-parameters, and
// written back in its plain form if it is on the allow-list — reset,
// bold, dim, italic, underline, blink, reverse, strikethrough, their
// "off" codes, and foreground and background colours in every form.
// Everything else is dropped, conceal (8) first: a watcher or auditor
// must see what was on the screen. For the same reason a background
// that would make the text hidden (pen.hidden) is not set: the
// background stays as it was, or becomes the default. After a cursor
// restore (forced), a sequence that changes nothing is dropped, which
// keeps the sanitizer idempotent.
func (s *Sanitizer) sgr(dst, params []byte) []byte {
	if p, ok := s.plainSGR(params); ok {
		s.pen = p
		dst = append(dst, 0x1b, '[')
		return append(append(dst, params...), 'm')
	}
	forced := s.forced
	s.forced = false
	start := len(dst)
	dst = append(dst, 0x1b, '[')
	head := len(dst)
	p := s.pen
	shownBg := p.bg // the background with the parameters written so far
	for rest := params; ; {
		var v int
		var sep byte
		v, sep, rest = sgrNum(rest)
		code, c := -1, colourDefault
		switch {
		case sep == ':': // sub-parameters: 4:N underline style, 38:5:N, 38:2:[CS]:R:G:B
			var sub [6]int
			n := 0
			for sep == ':' {
				var x int
				x, sep, rest = sgrNum(rest)
				if n < len(sub) {
					sub[n] = x
				}
				n++
			}
			switch {
			case v == 4 && n == 1 && sub[0] == 0:
				code = 24
			case v == 4 && n == 1 && sub[0] <= 5:
				code = 4
			case v == 38 || v == 48:
				if c = subColour(sub[:min(n, len(sub))]); c != colourDefault {
					code = v
				}
			}
		case v == 38 || v == 48 || v == 58:
			// The semicolon form takes the parameters after it; one the
			// sanitizer cannot read ends the sequence, as it cannot know
			// how many a terminal would take.
			if sep != ';' {
				return s.endSGR(dst, start, head, p, shownBg, forced)
			}
			var typ int
			typ, sep, rest = sgrNum(rest)
			var arg [3]int
			want := 0
			switch typ {
			case 5:
				want = 1
			case 2:
				want = 3
			}
			for i := 0; i < want; i++ {
				if sep != ';' {
					return s.endSGR(dst, start, head, p, shownBg, forced)
				}
				arg[i], sep, rest = sgrNum(rest)
			}
			if want == 0 || sep == ':' {
				return s.endSGR(dst, start, head, p, shownBg, forced)
			}
			if typ == 5 {
				c = indexed(arg[0])
			} else {
				c = rgb(arg[0], arg[1], arg[2])
			}
			if v != 58 && c != colourDefault {
				code = v
			}
		default:
			code = v
		}
		switch {
		case code == 0:
			p = pen{}
			shownBg = colourDefault
		case code >= 1 && code <= 9:
			p.attrs |= attrOf[code]
		case code == 22:
			p.attrs &^= attrBold | attrDim
		case code == 23:
			p.attrs &^= attrItalic
		case code == 24:
			p.attrs &^= attrUnderline
		case code == 25:
			p.attrs &^= attrBlink
		case code == 27:
			p.attrs &^= attrReverse
		case code == 28: // reveal: nothing is concealed, but harmless
		case code == 29:
			p.attrs &^= attrStrike
		case code >= 30 && code <= 37:
			p.fg = kindBasic | colour(code-30)
		case code >= 90 && code <= 97:
			p.fg = kindBasic | colour(code-90+8)
		case code == 38:
			p.fg = c
		case code == 39:
			p.fg = colourDefault
		case code >= 40 && code <= 47:
			p.bg = kindBasic | colour(code-40)
		case code >= 100 && code <= 107:
			p.bg = kindBasic | colour(code-100+8)
		case code == 48:
			p.bg = c
		case code == 49:
			p.bg = colourDefault
		default:
			code = -1
		}
		switch {
		case code < 0 || code == 6 || code == 8: // 6 rapid blink is not on the list, 8 conceal never
		case code >= 40 && code <= 49 || code >= 100: // backgrounds are written last, once
		case code == 38:
			dst = appendColour(sep1(dst, head), p.fg, false)
		default:
			dst = appendNum(sep1(dst, head), code)
		}
		if sep == 0 {
			return s.endSGR(dst, start, head, p, shownBg, forced)
		}
	}
}

// Operations of plainSGR, by code.
const (
	opNone uint8 = iota // anything else: the general path
	opReset
	opSet   // set the attribute bits in plainArg
	opClear // clear them
	opFg    // foreground palette entry plainArg
	opFgDefault
)

// plainOp and plainArg give each SGR code below 100 that plainSGR
// handles its operation and argument.
var plainOp, plainArg = func() (op, arg [100]uint8) {
	op[0] = opReset
	for i, c := range attrCodes {
		op[c-'0'], arg[c-'0'] = opSet, 1<<i
	}
	for code, bits := range map[int]uint8{22: attrBold | attrDim, 23: attrItalic, 24: attrUnderline, 25: attrBlink, 27: attrReverse, 29: attrStrike} {
		op[code], arg[code] = opClear, bits
	}
	for i := range 8 {
		op[30+i], arg[30+i] = opFg, uint8(i)
		op[90+i], arg[90+i] = opFg, uint8(8+i)
	}
	op[39] = opFgDefault
	return op, arg
}()

// plainSGR is sgr's fast path for the common sequence: codes already in
// their plain form (one or two digits, no leading zero) that change only
// attributes and the foreground, leaving the text visible and no
// restore pending, which sgr writes back unchanged. It returns the new
// pen, or false when the sequence needs the general path.
func (s *Sanitizer) plainSGR(params []byte) (pen, bool) {
	p := s.pen
	if s.forced || len(params) == 0 {
		return p, false
	}
	v, digits := 0, 0
	for i := 0; i <= len(params); i++ {
		if i < len(params) && params[i] != ';' {
			c := params[i]
			if c < '0' || c > '9' || digits == 1 && v == 0 || digits == 2 {
				return p, false
			}
			v = v*10 + int(c-'0')
			digits++
			continue
		}
		if digits == 0 {
			return p, false
		}
		switch plainOp[v] {
		case opReset:
			p = pen{}
		case opSet:
			p.attrs |= plainArg[v]
		case opClear:
			p.attrs &^= plainArg[v]
		case opFg:
			p.fg = kindBasic | colour(plainArg[v])
		case opFgDefault:
			p.fg = colourDefault
		default:
			return p, false
		}
		v, digits = 0, 0
	}
	return p, !p.hidden()
}

// endSGR finishes the sequence sgr is writing: it settles the background
// so that the text stays visible, writes it if it changed, and drops the
// sequence if there is nothing left to send.
func (s *Sanitizer) endSGR(dst []byte, start, head int, p pen, shownBg colour, forced bool) []byte {
	if p.hidden() {
		if p.bg = shownBg; p.hidden() {
			p.bg = colourDefault
		}
	}
	if p.bg != shownBg {
		dst = appendColour(sep1(dst, head), p.bg, true)
	}
	if len(dst) == head || forced && p == s.pen {
		return dst[:start]
	}
	s.pen = p
	return append(dst, 'm')
}

// repen writes an SGR that sets the whole pen, after a sequence that
// gives the terminal attributes the sanitizer cannot be sure of (a cursor
// restore takes them from the terminal's own saved state, a soft reset
// clears them, and terminals differ in both). It then marks the sanitizer
// forced, so that the same SGR read back is dropped.
func (s *Sanitizer) repen(dst []byte) []byte {
	dst = append(dst, 0x1b, '[', '0')
	for i, a := range attrCodes {
		if s.pen.attrs&(1<<i) != 0 {
			dst = append(dst, ';', a)
		}
	}
	if s.pen.fg != colourDefault {
		dst = appendColour(append(dst, ';'), s.pen.fg, false)
	}
	if s.pen.bg != colourDefault {
		dst = appendColour(append(dst, ';'), s.pen.bg, true)
	}
	s.forced = true
	return append(dst, 'm')
}

// sep1 appends the parameter separator unless dst is at the first
// parameter.
func sep1(dst []byte, head int) []byte {
	if len(dst) > head {
		return append(dst, ';')
	}
	return dst
}

// appendColour writes the SGR parameters that set c as the foreground,
// or the background if bg.
func appendColour(dst []byte, c colour, bg bool) []byte {
	base := 30
	if bg {
		base = 40
	}
	switch c & kindMask {
	case kindBasic:
		i := int(c & 0xff)
		if i >= 8 {
			base += 60 - 8 // 90–97, 100–107
		}
		return appendNum(dst, base+i)
	case kindIndexed:
		dst = append(appendNum(dst, base+8), ";5;"...)
		return appendNum(dst, int(c&0xff))
	case kindRGB:
		dst = append(appendNum(dst, base+8), ";2;"...)
		dst = append(appendNum(dst, int(c>>16&0xff)), ';')
		dst = append(appendNum(dst, int(c>>8&0xff)), ';')
		return appendNum(dst, int(c&0xff))
	}
	return appendNum(dst, base+9)
}

// subColour reads the sub-parameters of 38: or 48:: 5:N, or 2:R:G:B and
// 2:CS:R:G:B (ITU T.416 puts a colour space before the components; the
// form without it is common). It returns colourDefault when they are not
// a colour.
func subColour(sub []int) colour {
	switch {
	case len(sub) == 2 && sub[0] == 5:
		return indexed(sub[1])
	case len(sub) == 4 && sub[0] == 2:
		return rgb(sub[1], sub[2], sub[3])
	case len(sub) >= 5 && sub[0] == 2:
		return rgb(sub[2], sub[3], sub[4])
	}
	return colourDefault
}

// indexed returns 256-colour palette entry i, or colourDefault when i is
// out of range.
func indexed(i int) colour {
	if i > 255 {
		return colourDefault
	}
	return kindIndexed | colour(i)
}

// rgb returns the 24-bit colour, or colourDefault when a component is out
// of range.
func rgb(r, g, b int) colour {
	if r > 255 || g > 255 || b > 255 {
		return colourDefault
	}
	return kindRGB | colour(r)<<16 | colour(g)<<8 | colour(b)
}

// appendNum writes v, 0–999, in decimal.
func appendNum(dst []byte, v int) []byte {
	switch {
	case v < 10:
		return append(dst, byte('0'+v))
	case v < 100:
		return append(dst, byte('0'+v/10), byte('0'+v%10))
	}
	return append(dst, byte('0'+v/100), byte('0'+v/10%10), byte('0'+v%10))
}

// sgrNum reads one SGR parameter or sub-parameter from p, digits only (an
// empty one is 0; a huge one saturates, never wraps), and returns it with
// the separator that ended it (';', ':', or 0 at the end) and the rest.
func sgrNum(p []byte) (v int, sep byte, rest []byte) {
	for i, c := range p {
		if c == ';' || c == ':' {
			return v, c, p[i+1:]
		}
		if v < 1<<16 {
			v = v*10 + int(c-'0')
		}
	}
	return v, 0, nil
}

// Repen appends an SGR sequence that resets the terminal's colours and
// attributes and sets those s has sent so far: for a viewer whose
// terminal something else wrote to (another stream's Sanitizer, a notice
// that resets attributes), so that what s lets through next is drawn on
// the attributes s judged it against.
func (s *Sanitizer) Repen(dst []byte) []byte {
	forced := s.forced // what s sends next does not change
	dst = s.repen(dst)
	s.forced = forced
	return dst
}
