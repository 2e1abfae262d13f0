package sftp

import (
	"encoding/binary"
	"fmt"
	"time"
)

// pkt encodes an SFTP packet: uint32 and uint64 fields as such, strings
// and byte slices as SSH strings, a single byte as raw.
func pkt(typ byte, fields ...any) []byte {
	b := []byte{typ}
	for _, f := range fields {
		switch v := f.(type) {
		case uint32:
			b = binary.BigEndian.AppendUint32(b, v)
		case int:
			b = binary.BigEndian.AppendUint32(b, uint32(v))
		case uint64:
			b = binary.BigEndian.AppendUint64(b, v)
		case string:
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case []byte:
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case byte:
			b = append(b, v)
		default:
			panic(fmt.Sprintf("pkt: %T", f))
		}
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// cat joins packets.
func cat(ps ...[]byte) []byte {
	var b []byte
	for _, p := range ps {
		b = append(b, p...)
	}
	return b
}

// collector is a tap with its records.
type collector struct {
	tap  *Tap
	recs []Record
}

// newCollector returns a tap whose clock is fixed and records collected.
func newCollector(keep int64) *collector {
	c := &collector{}
	c.tap = New(Options{KeepContent: keep, Emit: func(r Record) { c.recs = append(c.recs, r) }})
	t0 := time.Unix(1700000000, 0)
	c.tap.now = func() time.Time { return t0 }
	return c
}

// feed gives b to the tap in chunks of n bytes (n <= 0: at once).
func feed(fn func([]byte), b []byte, n int) {
	if n <= 0 {
		fn(b)
		return
	}
	for len(b) > 0 {
		k := min(n, len(b))
		fn(b[:k])
		b = b[k:]
	}
}

// hello is the version exchange.
var (
	helloUp   = pkt(typeInit, 3)
	helloDown = pkt(typeVersion, 3, "limits@openssh.com", "1")
)
