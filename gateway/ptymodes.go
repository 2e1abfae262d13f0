package gateway

import "encoding/binary"

// Terminal mode opcodes (RFC 4254 8).
const (
	ttyOpEnd  = 0
	ttyOpEcho = 53 // ECHO: echo input characters
	// Opcodes 1 to 159 carry a uint32; 160 and above are undefined and
	// stop parsing (RFC 4254 8).
	ttyOpLastDefined = 159
)

// forceEcho returns encoded terminal modes (a pty-req's) with ECHO on,
// whatever the client asked: on a four-eyes host reviewers see what is
// typed only through the host's echo, and a client that asks for ECHO
// off would type unseen. The other modes are kept in order; ECHO comes
// first. Bytes the host would not parse (after an undefined opcode, a
// cut-off argument) are dropped.
func forceEcho(modes string) string {
	out := make([]byte, 0, len(modes)+5)
	out = append(out, ttyOpEcho)
	out = binary.BigEndian.AppendUint32(out, 1)
	for i := 0; i+5 <= len(modes); i += 5 {
		op := modes[i]
		if op == ttyOpEnd || op > ttyOpLastDefined {
			break
		}
		if op != ttyOpEcho {
			out = append(out, modes[i:i+5]...)
		}
	}
	return string(append(out, ttyOpEnd))
}
