package recorder

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/foureyes/foureyes/event"
)

// A checkpoint is the state of every open session, written at the head of
// every segment as one or more frames of kind 'K':
//
//	'K' | u32 part | u32 parts | u32 n | n × entry
//	entry = str id | str gateway | str class | u16 retention_days |
//	        i64 started_ns | u32 m { str key | str value } (summary fields) |
//	        u64 next_seq | last_hash (32 bytes) | i64 last_ns |
//	        i64 bytes_in | i64 bytes_out
//
// (big-endian; str is a u32 length and raw bytes, so every byte of every
// field survives). Parts hold at most checkpointPartBytes each, so a
// checkpoint of any number of sessions fits in frames of bounded size;
// every field of an entry is bounded (summary fields by maxSummaryField),
// so no user input can make a checkpoint frame, or the segment that must
// start with it, impossible to write. Earlier builds wrote one JSON
// checkpoint frame of kind 'C'; recovery still reads it.
const (
	kindCheckpointPart byte = 'K'
	// checkpointPartBytes bounds the entries of one 'K' frame.
	checkpointPartBytes = 1 << 20
)

var errCheckpoint = errors.New("recorder: checkpoint")

// appendCheckpoint appends the checkpoint frames of the open sessions,
// sorted by id, to b.
func appendCheckpoint(b []byte, open map[string]*sessionState) []byte {
	list := make([]*sessionState, 0, len(open))
	for _, st := range open {
		list = append(list, st)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	var parts [][]*sessionState
	for len(list) > 0 || len(parts) == 0 {
		n, size := 0, 0
		for n < len(list) && (n == 0 || size+entrySize(list[n]) <= checkpointPartBytes) {
			size += entrySize(list[n])
			n++
		}
		parts = append(parts, list[:n])
		list = list[n:]
	}
	for i, part := range parts {
		start := len(b)
		b = append(b, make([]byte, frameHeaderSize)...)
		b = append(b, kindCheckpointPart)
		b = binary.BigEndian.AppendUint32(b, uint32(i))
		b = binary.BigEndian.AppendUint32(b, uint32(len(parts)))
		b = binary.BigEndian.AppendUint32(b, uint32(len(part)))
		for _, st := range part {
			b = appendEntry(b, st)
		}
		sealFrame(b[start:])
	}
	return b
}

// entrySize returns the encoded size of st.
func entrySize(st *sessionState) int {
	n := 4 + len(st.ID) + 4 + len(st.Gateway) + 4 + len(st.Class) + 2 + 8 + 4 + 8 + event.HashSize + 8 + 8 + 8
	for k, v := range st.Fields {
		n += 8 + len(k) + len(v)
	}
	return n
}

func appendEntry(b []byte, st *sessionState) []byte {
	b = appendStr(b, st.ID)
	b = appendStr(b, st.Gateway)
	b = appendStr(b, st.Class)
	b = binary.BigEndian.AppendUint16(b, st.Retention)
	b = binary.BigEndian.AppendUint64(b, uint64(st.StartedNS))
	keys := make([]string, 0, len(st.Fields))
	for k := range st.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		b = appendStr(b, k)
		b = appendStr(b, st.Fields[k])
	}
	b = binary.BigEndian.AppendUint64(b, st.NextSeq)
	b = append(b, st.LastHash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(st.LastTime))
	b = binary.BigEndian.AppendUint64(b, uint64(st.BytesIn))
	return binary.BigEndian.AppendUint64(b, uint64(st.BytesOut))
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// checkpointPart is one decoded 'K' frame.
type checkpointPart struct {
	part, parts uint32
	open        []*sessionState
}

// decodeCheckpointPart decodes the payload of a 'K' frame (after the kind).
func decodeCheckpointPart(b []byte) (checkpointPart, error) {
	r := binReader{b: b}
	cp := checkpointPart{part: r.u32(), parts: r.u32()}
	n := r.u32()
	if r.err == nil && (cp.part >= cp.parts || uint64(n)*64 > uint64(len(r.b))) {
		return cp, fmt.Errorf("%w: part %d of %d with %d entries in %d bytes", errCheckpoint, cp.part, cp.parts, n, len(r.b))
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		st := &sessionState{ID: r.str(), Gateway: r.str(), Class: r.str(), Retention: r.u16(), StartedNS: int64(r.u64())}
		m := r.u32()
		if r.err == nil && uint64(m)*8 > uint64(len(r.b)) {
			r.err = fmt.Errorf("%d fields in %d bytes", m, len(r.b))
		}
		if m > 0 && r.err == nil {
			st.Fields = make(map[string]string, m)
		}
		for j := uint32(0); j < m && r.err == nil; j++ {
			k := r.str()
			st.Fields[k] = r.str()
		}
		st.NextSeq = r.u64()
		copy(st.LastHash[:], r.take(event.HashSize))
		st.LastTime = int64(r.u64())
		st.BytesIn = int64(r.u64())
		st.BytesOut = int64(r.u64())
		if r.err == nil && (st.ID == "" || st.NextSeq == 0) {
			r.err = errors.New("invalid session entry")
		}
		cp.open = append(cp.open, st)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the last entry", len(r.b))
	}
	if r.err != nil {
		return cp, fmt.Errorf("%w: %v", errCheckpoint, r.err)
	}
	return cp, nil
}

// decodeLegacyCheckpoint decodes the JSON checkpoint of a 'C' frame.
func decodeLegacyCheckpoint(b []byte) (map[string]*sessionState, error) {
	var c struct {
		Open []*sessionState `json:"open"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", errCheckpoint, err)
	}
	open := make(map[string]*sessionState, len(c.Open))
	for _, st := range c.Open {
		if st == nil || st.ID == "" || st.NextSeq == 0 {
			return nil, fmt.Errorf("%w: invalid session entry", errCheckpoint)
		}
		st.Fields = summaryFields(st.Fields) // earlier builds kept them whole
		open[st.ID] = st
	}
	return open, nil
}

// binReader reads big-endian fields; the first error sticks and later
// reads return zero values.
type binReader struct {
	b   []byte
	err error
}

func (r *binReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.err = fmt.Errorf("field of %d bytes, %d left", n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *binReader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *binReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *binReader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *binReader) str() string {
	n := r.u32()
	if r.err == nil && uint64(n) > uint64(len(r.b)) {
		r.err = fmt.Errorf("field of %d bytes, %d left", n, len(r.b))
	}
	return string(r.take(int(n)))
}
