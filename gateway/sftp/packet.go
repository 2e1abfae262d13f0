package sftp

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// Packet types of SFTP version 3.
const (
	typeInit     = 1
	typeVersion  = 2
	typeOpen     = 3
	typeClose    = 4
	typeRead     = 5
	typeWrite    = 6
	typeLstat    = 7
	typeFstat    = 8
	typeSetstat  = 9
	typeFsetstat = 10
	typeOpendir  = 11
	typeReaddir  = 12
	typeRemove   = 13
	typeMkdir    = 14
	typeRmdir    = 15
	typeRealpath = 16
	typeStat     = 17
	typeRename   = 18
	typeReadlink = 19
	typeSymlink  = 20
	typeStatus   = 101
	typeHandle   = 102
	typeData     = 103
	typeName     = 104
	typeAttrs    = 105
	typeExtended = 200
	typeExtReply = 201
)

// Open flags (pflags) of SSH_FXP_OPEN.
const (
	flagRead  = 0x01
	flagWrite = 0x02
)

// Bounds of what the tap reads and holds.
const (
	// MaxPacket is the longest packet the tap parses: OpenSSH's limit is
	// 256 KiB; a longer length is taken as a broken stream.
	MaxPacket = 256<<10 + 1024
	// maxHead is how much of a packet other than WRITE or DATA is kept
	// for parsing; the rest (long directory listings) is skipped.
	maxHead = 32 << 10
	// maxHandle is the longest handle: the protocol allows 256 bytes.
	maxHandle = 256
	// maxPending bounds requests in flight (OpenSSH pipelines 64).
	maxPending = 4096
	// maxHandles bounds handles open at once.
	maxHandles = 1024
	// memBudget bounds the bytes of names held by requests in flight
	// and open handles.
	memBudget = 1 << 20
)

// statusNames are the SSH_FX_* codes as recorded.
var statusNames = [...]string{
	"ok", "eof", "no_such_file", "permission_denied", "failure",
	"bad_message", "no_connection", "connection_lost", "op_unsupported",
}

// statusName returns the recorded name of an SSH_FX_* code.
func statusName(code uint32) string {
	if int(code) < len(statusNames) {
		return statusNames[code]
	}
	return "status_" + strconv.FormatUint(uint64(code), 10)
}

// errShort is a packet that ends inside one of its fields.
var errShort = errors.New("packet too short")

// reader decodes the fields of one packet.
type reader struct {
	b   []byte
	err error
}

// u32 reads a uint32.
func (r *reader) u32() uint32 {
	if r.err != nil || len(r.b) < 4 {
		r.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

// u64 reads a uint64.
func (r *reader) u64() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// str reads a string (uint32 length, bytes); the result aliases the
// packet.
func (r *reader) str() []byte {
	n := r.u32()
	if r.err != nil || uint64(n) > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}
