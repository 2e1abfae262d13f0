package termsafe

import (
	"strconv"
	"strings"
	"testing"
)

func TestSanitizeSGR(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// Conceal (8), however it is spelt, never passes.
		{"conceal", "a\x1b[8mhidden\x1b[0m", "ahidden\x1b[0m"},
		{"conceal leading zero", "a\x1b[08mhidden\x1b[0m", "ahidden\x1b[0m"},
		{"conceal two zeros", "a\x1b[008mhidden\x1b[0m", "ahidden\x1b[0m"},
		{"conceal many zeros", "a\x1b[00000000000000000008mhidden", "ahidden"},
		{"conceal after bold", "a\x1b[1;08mhidden\x1b[0m", "a\x1b[1mhidden\x1b[0m"},
		{"conceal before bold", "\x1b[08;1mx", "\x1b[1mx"},
		{"conceal after empty", "\x1b[;8mx", "\x1b[0mx"},
		{"conceal with sub-parameter", "\x1b[8:0mx\x1b[1;8:1mx", "x\x1b[1mx"},
		{"conceal past 2^32", "\x1b[4294967304mx\x1b[18446744073709551624mx", "xx"},
		{"conceal past 2^16", "\x1b[65544mx", "x"},
		{"conceal as colour 8 kept", "\x1b[38;5;8mx\x1b[38;5;08mx", "\x1b[38;5;8mx\x1b[38;5;8mx"},

		// Foreground equal to background: the background is not set.
		{"basic fg bg", "a\x1b[30;40mhidden\x1b[0m", "a\x1b[30mhidden\x1b[0m"},
		{"basic bg fg", "\x1b[47;37mx", "\x1b[37mx"},
		{"basic zeros", "\x1b[030;040mx", "\x1b[30mx"},
		{"bright", "\x1b[97;107mx\x1b[0;91;101mx", "\x1b[97mx\x1b[0;91mx"},
		{"256", "\x1b[38;5;1;48;5;1mx", "\x1b[38;5;1mx"},
		{"256 and basic", "\x1b[31;48;5;1mx\x1b[0;38;5;9;101mx", "\x1b[31mx\x1b[0;38;5;9mx"},
		{"256 cube", "\x1b[38;5;196;48;5;196mx", "\x1b[38;5;196mx"},
		{"256 grey and cube", "\x1b[38;5;16;48;5;232mx", "\x1b[38;5;16mx"},
		{"truecolour", "a\x1b[38;2;1;2;3;48;2;1;2;3mhidden\x1b[0m", "a\x1b[38;2;1;2;3mhidden\x1b[0m"},
		{"truecolour nearly equal", "\x1b[38;2;0;0;0;48;2;0;0;1mx", "\x1b[38;2;0;0;0mx"},
		{"truecolour and 256", "\x1b[38;2;255;0;0;48;5;196mx", "\x1b[38;2;255;0;0mx"},
		{"truecolour and basic", "\x1b[38;2;0;0;0;40mx", "\x1b[38;2;0;0;0mx"},
		{"colon truecolour with colour space", "\x1b[38:2::1:2:3;48:2::1:2:3mx", "\x1b[38;2;1;2;3mx"},
		{"colon truecolour without colour space", "\x1b[38:2:1:2:3;48:2:1:2:3mx", "\x1b[38;2;1;2;3mx"},
		{"colon 256", "\x1b[38:5:1;48:5:1mx", "\x1b[38;5;1mx"},
		{"colon mixed", "\x1b[38:5:16;48;2;0;0;0mx", "\x1b[38;5;16mx"},
		{"reverse does not help", "\x1b[7;30;40mx", "\x1b[7;30mx"},
		{"bold brightens 0-7", "\x1b[1;30;100mx", "\x1b[1;30mx"},
		{"dim narrows contrast", "\x1b[2;38;5;244;48;5;236mx", "\x1b[2;38;5;244mx"},
		{"dim later", "\x1b[38;5;244;48;5;236mx\x1b[2mx", "\x1b[38;5;244;48;5;236mx\x1b[2;49mx"},
		{"bg in a later sequence", "\x1b[30mx\x1b[40my", "\x1b[30mxy"},
		{"fg in a later sequence", "\x1b[40mx\x1b[30my", "\x1b[40mx\x1b[30;49my"},
		{"bg kept from before", "\x1b[44mx\x1b[30;40my", "\x1b[44mx\x1b[30my"},
		{"equal after reset", "\x1b[41m\x1b[0;31;41mx", "\x1b[41m\x1b[0;31mx"},
		{"bg before reset", "\x1b[41;0;42mx", "\x1b[0;42mx"},

		// Cursor restores take the pen from the terminal's saved state;
		// the pen is sent whole after them.
		{"restore re-sends the pen", "\x1b[31m\x1b7\x1b[0m\x1b8x", "\x1b[31m\x1b7\x1b[0m\x1b8\x1b[0;31mx"},
		{"restore then bg", "\x1b[30m\x1b7\x1b[0m\x1b8\x1b[40mx", "\x1b[30m\x1b7\x1b[0m\x1b8\x1b[0;30mx"},
		{"csi s u", "\x1b[30m\x1b[s\x1b[0m\x1b[u\x1b[40mx", "\x1b[30m\x1b[s\x1b[0m\x1b[u\x1b[0;30mx"},
		{"alt screen restores", "\x1b[30m\x1b[?1049h\x1b[0m\x1b[?1049l\x1b[40mx", "\x1b[30m\x1b[?1049h\x1b[0m\x1b[?1049l\x1b[0;30mx"},
		{"1048", "\x1b[1;30m\x1b[?1048h\x1b[0m\x1b[?1048;25l\x1b[40mx", "\x1b[1;30m\x1b[?1048h\x1b[0m\x1b[?1048;25l\x1b[0;1;30mx"},
		{"soft reset", "\x1b[31m\x1b[!p\x1b[41mx", "\x1b[31m\x1b[!p\x1b[0m\x1b[41mx"},
		{"pen read back after a restore dropped", "\x1b8\x1b[0m\x1b[0mx\x1b[0m", "\x1b8\x1b[0m\x1b[0mx\x1b[0m"},
		{"full reset", "\x1b[30m\x1bc\x1b[40mx", "\x1b[30m\x1b[0m\x1b[?25h\x1b[0 q\x1b[?1l\x1b>\x1b[?5l\x1b[?7h\x1b[4l\x1b[?2026l\x1b(B\x1b[H\x1b[2J\x1b[40mx"},

		// What is understood passes, in its plain form.
		{"default colours not compared", "\x1b[30mx\x1b[40;39mx\x1b[49mx", "\x1b[30mx\x1b[39;40mx\x1b[49mx"},
		{"legit colours", "\x1b[1;32mx\x1b[0;30;47mx\x1b[97;41mx\x1b[34;40mx", "\x1b[1;32mx\x1b[0;30;47mx\x1b[97;41mx\x1b[34;40mx"},
		{"legit 256 and truecolour", "\x1b[38;5;250;48;5;240mx\x1b[38;2;255;255;255;48;2;0;0;0mx", "\x1b[38;5;250;48;5;240mx\x1b[38;2;255;255;255;48;2;0;0;0mx"},
		{"attributes and their off codes", "\x1b[1;2;3;4;5;7;9mx\x1b[22;23;24;25;27;28;29mx", "\x1b[1;2;3;4;5;7;9mx\x1b[22;23;24;25;27;28;29mx"},
		{"empty is reset", "\x1b[mx\x1b[;1mx\x1b[1;mx", "\x1b[0mx\x1b[0;1mx\x1b[1;0mx"},
		{"leading zeros", "\x1b[01;034mx", "\x1b[1;34mx"},
		{"underline styles", "\x1b[4:3mx\x1b[4:0mx\x1b[4:9mx", "\x1b[4mx\x1b[24mxx"},

		// What is not understood is dropped.
		{"unknown attributes", "\x1b[6;10;11;20;21;26;51;53;60;73;108mx", "x"},
		{"underline colour", "\x1b[58;5;1mx\x1b[58:2::1:2:3;1mx\x1b[58;2;1;2;3;4mx", "x\x1b[1mx\x1b[4mx"},
		{"sub-parameters of other codes", "\x1b[1:2;3mx", "\x1b[3mx"},
		{"extended colour cut short", "\x1b[38;5mx\x1b[38;2;1;2mx\x1b[1;38mx", "xx\x1b[1mx"},
		{"extended colour out of range", "\x1b[38;5;256mx\x1b[48;2;1;256;3;1mx", "x\x1b[1mx"},
		{"extended colour of unknown type", "\x1b[1;38;3;1;2;3;8mx\x1b[38:3:1:2:3mx", "\x1b[1mxx"},
		{"colon inside semicolon colour", "\x1b[38;5;1:2;1mx", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkChunks(t, tt.in, tt.want)
			checkVisible(t, []byte(tt.in), []byte(tt.want))
		})
	}
}

// TestSanitizerPenAcrossAppends checks that the pen outlives a call:
// each sequence in its own chunk, as output events come.
func TestSanitizerPenAcrossAppends(t *testing.T) {
	var s Sanitizer
	var got []byte
	for _, chunk := range []string{"\x1b[38;5;", "16mprompt$ ", "\x1b[48;2", ";0;0;0m", "rm -rf /", "\x1b[0", "8m", "\x1b[0mdone"} {
		got = s.Append(got, []byte(chunk))
	}
	if want := "\x1b[38;5;16mprompt$ rm -rf /\x1b[0mdone"; string(got) != want {
		t.Fatalf("got %q; want %q", got, want)
	}
}

// TestPenHidden checks the contrast rule on its edges.
func TestPenHidden(t *testing.T) {
	tests := []struct {
		name string
		p    pen
		want bool
	}{
		{"defaults", pen{}, false},
		{"fg only", pen{fg: kindBasic}, false},
		{"bg only", pen{bg: kindBasic}, false},
		{"same basic", pen{fg: kindBasic | 3, bg: kindBasic | 3}, true},
		{"basic and indexed", pen{fg: kindBasic | 12, bg: kindIndexed | 12}, true},
		{"red on bright red", pen{fg: kindBasic | 1, bg: kindBasic | 9}, false},
		{"rgb 47 apart", pen{fg: kindRGB, bg: kindRGB | 0x2f2f2f}, true},
		{"rgb 48 apart", pen{fg: kindRGB, bg: kindRGB | 0x303030}, false},
		{"rgb apart in one channel", pen{fg: kindRGB, bg: kindRGB | 0x000030}, false},
		{"dim 119 apart", pen{fg: kindRGB, bg: kindRGB | 0x777777, attrs: attrDim}, true},
		{"dim 120 apart", pen{fg: kindRGB, bg: kindRGB | 0x787878, attrs: attrDim}, false},
		{"bold black on bright black", pen{fg: kindBasic, bg: kindBasic | 8, attrs: attrBold}, true},
		{"bold bright black on black", pen{fg: kindBasic | 8, bg: kindBasic, attrs: attrBold}, false},
		{"cube 16 and grey 232", pen{fg: kindIndexed | 16, bg: kindIndexed | 232}, true},
		{"cube 231 and white", pen{fg: kindIndexed | 231, bg: kindRGB | 0xffffff}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.hidden(); got != tt.want {
				t.Fatalf("%+v hidden() = %v; want %v", tt.p, got, tt.want)
			}
		})
	}
}

// checkChunks checks that in sanitizes to want whole, split into two
// chunks anywhere, and byte by byte.
func checkChunks(t *testing.T, in, want string) {
	t.Helper()
	if got := string(Sanitize(nil, []byte(in))); got != want {
		t.Fatalf("Sanitize(%q) = %q; want %q", in, got, want)
	}
	for i := 0; i <= len(in); i++ {
		var s Sanitizer
		got := s.Append(nil, []byte(in[:i]))
		got = s.Flush(s.Append(got, []byte(in[i:])))
		if string(got) != want {
			t.Fatalf("split at %d: %q; want %q", i, got, want)
		}
	}
	var s Sanitizer
	var got []byte
	for i := 0; i < len(in); i++ {
		got = s.Append(got, []byte{in[i]})
	}
	if got = s.Flush(got); string(got) != want {
		t.Fatalf("byte by byte: %q; want %q", got, want)
	}
}

// checkVisible fails when out, the sanitized in, could draw text a
// viewer cannot see: an SGR parameter not in its plain form (a leading
// zero, an empty parameter, a colon), one off the allow-list (conceal
// above all), or text drawn with foreground and background set to the
// same colour. After a cursor restore or soft reset the terminal's
// attributes are unknown, and text must not be drawn before an SGR that
// starts with a reset. It models the terminal on its own, apart from the
// sanitizer's code, and checks exact equality only (palette entries by
// index, with bold brightening 0-7, the 256-colour cube and greys and
// RGB by value).
func checkVisible(t *testing.T, in, out []byte) {
	t.Helper()
	fail := func(i int, why string) {
		t.Helper()
		t.Fatalf("Sanitize(%q) = %q: at %d: %s", in, out, i, why)
	}
	type col struct {
		kind byte // 0 default, 'p' palette index, 'r' RGB
		v    int
	}
	var fg, bg col
	bold, known := false, true
	for i := 0; i < len(out); i++ {
		if out[i] != 0x1b {
			if out[i] >= 0x20 && !known {
				fail(i, "text drawn with unknown attributes")
			}
			continue
		}
		if i+1 < len(out) && out[i+1] == '8' {
			known = false
			i++
			continue
		}
		if i+1 >= len(out) || out[i+1] != '[' {
			i += max(safeSeqLen(out[i:]), 1) - 1
			continue
		}
		j := i + 2
		for j < len(out) && out[j] >= 0x20 && out[j] <= 0x3f {
			j++
		}
		if j >= len(out) {
			fail(i, "cut CSI")
		}
		body, final := string(out[i+2:j]), out[j]
		switch {
		case final == 'u' && body == "", final == 'p' && body == "!",
			final == 'l' && strings.HasPrefix(body, "?") && (strings.Contains(";"+body[1:]+";", ";1048;") || strings.Contains(";"+body[1:]+";", ";1049;")):
			known = false
		case final == 'm':
			var ps []int
			for _, f := range strings.Split(body, ";") {
				n, err := strconv.Atoi(f)
				if err != nil || strconv.Itoa(n) != f {
					fail(i, "SGR parameter "+strconv.Quote(f)+" not in plain form")
				}
				ps = append(ps, n)
			}
			if !known && ps[0] != 0 {
				fail(i, "SGR after a restore does not start with a reset")
			}
			known = true
			for k := 0; k < len(ps); k++ {
				n := ps[k]
				var c col
				switch {
				case n == 0:
					fg, bg, bold = col{}, col{}, false
				case n == 1:
					bold = true
				case n == 22:
					bold = false
				case n == 2 || n == 3 || n == 4 || n == 5 || n == 7 || n == 9 || n >= 23 && n <= 29 && n != 26:
				case n >= 30 && n <= 37, n >= 40 && n <= 47:
					c = col{'p', n % 10}
				case n >= 90 && n <= 97, n >= 100 && n <= 107:
					c = col{'p', n%10 + 8}
				case n == 39, n == 49:
				case (n == 38 || n == 48) && k+2 < len(ps) && ps[k+1] == 5 && ps[k+2] <= 255:
					c = col{'p', ps[k+2]}
					k += 2
				case (n == 38 || n == 48) && k+4 < len(ps) && ps[k+1] == 2 && ps[k+2] <= 255 && ps[k+3] <= 255 && ps[k+4] <= 255:
					c = col{'r', ps[k+2]<<16 | ps[k+3]<<8 | ps[k+4]}
					k += 4
				default:
					fail(i, "SGR parameter "+strconv.Itoa(n)+" off the allow-list")
				}
				if c.kind == 'p' && c.v >= 16 { // the cube and the greys have fixed values
					if v := c.v - 16; v < 216 {
						lv := []int{0, 95, 135, 175, 215, 255}
						c = col{'r', lv[v/36]<<16 | lv[v/6%6]<<8 | lv[v%6]}
					} else {
						g := 8 + 10*(c.v-232)
						c = col{'r', g<<16 | g<<8 | g}
					}
				}
				switch {
				case n >= 30 && n <= 39 || n >= 90 && n <= 97:
					fg = c
				case n >= 40 && n <= 49 || n >= 100 && n <= 107:
					bg = c
				}
			}
			if fg.kind != 0 && (fg == bg || bold && fg.kind == 'p' && fg.v < 8 && (col{'p', fg.v + 8}) == bg) {
				fail(i, "foreground equal to background")
			}
		}
		i = j
	}
}
