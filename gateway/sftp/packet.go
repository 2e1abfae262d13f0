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
	flagRead   = 0x01
	flagWrite  = 0x02
	flagAppend = 0x04
	flagCreat  = 0x08
	flagTrunc  = 0x10
	flagExcl   = 0x20
	// flagsChange are the flags that change the file when it is opened,
	// whatever is written to it: sftp-server passes them to open(2), and
	// O_TRUNC empties a file even opened only for reading.
	flagsChange = flagCreat | flagTrunc
	// flagsWrite are the flags of a handle recorded as a write when no
	// byte passed.
	flagsWrite = flagWrite | flagAppend | flagsChange
)

// flagNames name the open flags in meta "open_flags", in bit order.
var flagNames = [...]struct {
	bit  uint32
	name string
}{{flagRead, "read"}, {flagWrite, "write"}, {flagAppend, "append"}, {flagCreat, "creat"}, {flagTrunc, "trunc"}, {flagExcl, "excl"}}

// openFlags renders pflags as meta "open_flags": "write,creat,trunc";
// bits SFTP v3 does not define as one "0x…" word, no flag as "none".
func openFlags(pflags uint32) string {
	var b []byte
	for _, f := range flagNames {
		if pflags&f.bit != 0 {
			b = append(b, f.name...)
			b = append(b, ',')
			pflags &^= f.bit
		}
	}
	if pflags != 0 {
		b = append(b, "0x"...)
		b = strconv.AppendUint(b, uint64(pflags), 16)
		b = append(b, ',')
	}
	if len(b) == 0 {
		return "none"
	}
	return string(b[:len(b)-1])
}

// Attribute flags of an SFTP v3 ATTRS.
const (
	attrSize     = 0x00000001
	attrUIDGID   = 0x00000002
	attrPerms    = 0x00000004
	attrTimes    = 0x00000008
	attrExtended = 0x80000000
)

// attrs are the file attributes a client asks the host to set (OPEN,
// MKDIR, SETSTAT, FSETSTAT, lsetstat): recorded because a setstat of
// size 0 truncates and one of mode 04755 makes a setuid program.
type attrs struct {
	flags                 uint32
	size                  uint64
	uid, gid, perm        uint32
	atime, mtime, nExtend uint32
}

// readAttrs decodes an ATTRS; extended pairs are counted, not kept.
func readAttrs(r *reader) attrs {
	a := attrs{flags: r.u32()}
	if a.flags&attrSize != 0 {
		a.size = r.u64()
	}
	if a.flags&attrUIDGID != 0 {
		a.uid, a.gid = r.u32(), r.u32()
	}
	if a.flags&attrPerms != 0 {
		a.perm = r.u32()
	}
	if a.flags&attrTimes != 0 {
		a.atime, a.mtime = r.u32(), r.u32()
	}
	if a.flags&attrExtended != 0 {
		a.nExtend = r.u32()
		for i := uint32(0); i < a.nExtend && r.err == nil; i++ {
			r.str()
			r.str()
		}
	}
	return a
}

// addMeta adds the attributes set to m: attr_size, attr_uid, attr_gid,
// attr_mode (octal, file type bits included), attr_atime, attr_mtime
// (Unix seconds), attr_extended (how many extended pairs).
func (a attrs) addMeta(m map[string]string) {
	if a.flags&attrSize != 0 {
		m["attr_size"] = strconv.FormatUint(a.size, 10)
	}
	if a.flags&attrUIDGID != 0 {
		m["attr_uid"] = strconv.FormatUint(uint64(a.uid), 10)
		m["attr_gid"] = strconv.FormatUint(uint64(a.gid), 10)
	}
	if a.flags&attrPerms != 0 {
		m["attr_mode"] = "0" + strconv.FormatUint(uint64(a.perm), 8)
	}
	if a.flags&attrTimes != 0 {
		m["attr_atime"] = strconv.FormatUint(uint64(a.atime), 10)
		m["attr_mtime"] = strconv.FormatUint(uint64(a.mtime), 10)
	}
	if a.flags&attrExtended != 0 {
		m["attr_extended"] = strconv.FormatUint(uint64(a.nExtend), 10)
	}
}

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
