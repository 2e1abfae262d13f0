package sftp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/termsafe"
)

// ErrUnparsable marks the record a Tap emits when it stopped parsing:
// the stream broke the protocol or the tap's bounds.
var ErrUnparsable = errors.New("sftp: stream could not be parsed")

// OpUnparsable is the file.op "op" of that record.
const OpUnparsable = "unparsable"

// Record is one event the tap asks its owner to record, in the order
// they happened.
type Record struct {
	Type event.Type // event.FileOp, event.Transfer or event.TransferData
	Meta map[string]string
	Data []byte // TransferData: the content kept (owned by the receiver)
	// Err is non-nil (wrapping ErrUnparsable) on the record that says
	// the tap stopped parsing; nothing follows it but the transfers of
	// handles it ended.
	Err error
}

// Options configure a Tap.
type Options struct {
	// Emit receives each record. It is called with the tap's lock held,
	// from the goroutine that called Up, Down or Close; it must not call
	// the tap.
	Emit func(Record)
	// KeepContent is how many bytes of each file handle's content are
	// kept, per direction, as event.TransferData records. 0 (the
	// default) keeps none: only sizes and hashes are recorded.
	KeepContent int64
}

// Tap parses both directions of one SFTP session. Its methods are safe
// for concurrent use: the two directions are usually fed from two
// goroutines.
type Tap struct {
	opts Options
	now  func() time.Time // tests set it

	mu          sync.Mutex
	up, down    framer
	broken      bool
	initSeen    bool
	versionSeen bool
	pending     map[uint32]*request
	handles     map[string]*handle
	mem         int // bytes of names held by pending and handles
}

// request is a client request waiting for its response.
type request struct {
	typ    byte
	op     string // the file.op recorded at the response; "" for none
	path   string
	target string
	handle string // the handle it acts on (READ, WRITE, CLOSE, …)
	other  string // copy-data: the destination handle
	offset uint64 // READ
	flags  uint32 // OPEN
	attrs  attrs  // OPEN, MKDIR, SETSTAT, FSETSTAT, lsetstat
	size   int    // against memBudget
}

// handle is a file or directory the host opened for the client.
type handle struct {
	id       string
	path     string
	dir      bool
	flags    uint32 // OPEN's pflags
	attrs    attrs  // OPEN's attributes
	started  time.Time
	up, down flow
	count    uint64 // entries listed (directories)
	closing  bool   // the client sent CLOSE; the host may hand the id out again
	err      string // the first error a READ, WRITE or READDIR got
}

// flow is the content of one direction of a file handle.
type flow struct {
	bytes int64
	hash  hash.Hash // nil until content passed
	kept  int64     // bytes kept as transfer.data
	// outOfOrder: a packet's offset was not the bytes before it, so the
	// hash is not the file's front-to-back content (a client can send a
	// known file's bytes in order to offsets that permute them).
	outOfOrder bool
}

// at notes that a packet of the flow starts at file offset off.
func (fl *flow) at(off uint64) {
	if off != uint64(fl.bytes) {
		fl.outOfOrder = true
	}
}

// New returns a Tap that emits through opts.Emit.
func New(opts Options) *Tap {
	if opts.Emit == nil {
		opts.Emit = func(Record) {}
	}
	return &Tap{
		opts: opts, now: time.Now,
		up: framer{up: true}, down: framer{},
		pending: map[uint32]*request{}, handles: map[string]*handle{},
	}
}

// Up parses bytes the client sent to the host.
func (t *Tap) Up(p []byte) { t.feedDir(&t.up, p) }

// Down parses bytes the host sent to the client.
func (t *Tap) Down(p []byte) { t.feedDir(&t.down, p) }

// feedDir parses p in direction f and stops the tap at the first error.
func (t *Tap) feedDir(f *framer, p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken {
		return
	}
	if err := t.feed(f, p); err != nil {
		t.breakLocked(f.name(), err)
	}
}

// Broken reports whether the tap stopped parsing.
func (t *Tap) Broken() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.broken
}

// Close ends the session's record: handles still open end as
// "incomplete" transfers (or listings), requests never answered as
// file.ops with status "unanswered". Later input is ignored.
func (t *Tap) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.broken {
		return
	}
	t.broken = true
	ids := make([]uint32, 0, len(t.pending))
	for id, r := range t.pending {
		if r.op != "" {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		t.fileOp(t.pending[id], "unanswered", "")
	}
	t.endHandles("incomplete")
}

// breakLocked stops parsing after err: one record says so, open handles
// end as incomplete.
func (t *Tap) breakLocked(dir string, err error) {
	t.broken = true
	t.opts.Emit(Record{
		Type: event.FileOp,
		Meta: map[string]string{"op": OpUnparsable, "status": "error", "direction": dir, "reason": err.Error()},
		Err:  fmt.Errorf("%w: %w", ErrUnparsable, err),
	})
	t.endHandles("incomplete")
	t.pending, t.handles = nil, nil
}

// endHandles ends every open handle, oldest first, with status.
func (t *Tap) endHandles(status string) {
	hs := make([]*handle, 0, len(t.handles))
	for _, h := range t.handles {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool {
		if !hs[i].started.Equal(hs[j].started) {
			return hs[i].started.Before(hs[j].started)
		}
		return hs[i].id < hs[j].id
	})
	for _, h := range hs {
		t.finish(h, status)
	}
	clear(t.handles)
}

// packet handles one whole packet (or its head, truncated) of a
// direction other than WRITE and DATA content.
func (t *Tap) packet(f *framer, body []byte, truncated bool) error {
	var err error
	if f.up {
		err = t.request(body)
	} else {
		err = t.response(body)
	}
	if errors.Is(err, errShort) && truncated {
		return fmt.Errorf("%s packet of type %d too long to parse", f.name(), body[0])
	}
	return err
}

// request parses a client packet and keeps it until its response.
func (t *Tap) request(body []byte) error {
	typ := body[0]
	r := reader{b: body[1:]}
	if !t.initSeen {
		if typ != typeInit {
			return fmt.Errorf("first client packet has type %d, not INIT", typ)
		}
		t.initSeen = true
		return nil
	}
	if typ == typeInit {
		return errors.New("client sent INIT twice")
	}
	id := r.u32()
	q := &request{typ: typ}
	switch typ {
	case typeOpen:
		q.op, q.path = "open", string(r.str())
		q.flags = r.u32()
		q.attrs = readAttrs(&r)
	case typeClose:
		q.handle = string(r.str())
		if h := t.handles[q.handle]; h != nil {
			h.closing = true
		}
	case typeFstat, typeReaddir:
		q.handle = string(r.str())
	case typeFsetstat:
		q.op, q.handle = "setstat", string(r.str())
		q.attrs = readAttrs(&r)
	case typeRead:
		q.handle = string(r.str())
		q.offset = r.u64()
	case typeLstat, typeStat, typeSetstat, typeOpendir, typeRemove, typeMkdir, typeRmdir, typeRealpath, typeReadlink:
		q.op, q.path = pathOps[typ], string(r.str())
		if typ == typeSetstat || typ == typeMkdir {
			q.attrs = readAttrs(&r)
		}
	case typeRename:
		q.op, q.path = "rename", string(r.str())
		q.target = string(r.str())
	case typeSymlink:
		// OpenSSH sends the link's target first, then the link.
		q.op, q.target = "symlink", string(r.str())
		q.path = string(r.str())
	case typeExtended:
		t.extended(q, &r)
	default:
		q.op = "type-" + strconv.Itoa(int(typ)) // the host will say it is unsupported
	}
	if r.err != nil {
		return fmt.Errorf("client request of type %d: %w", typ, r.err)
	}
	return t.addPending(id, q)
}

// pathOps names the requests that act on one path.
var pathOps = map[byte]string{
	typeLstat: "lstat", typeStat: "stat", typeSetstat: "setstat", typeOpendir: "opendir",
	typeRemove: "remove", typeMkdir: "mkdir", typeRmdir: "rmdir", typeRealpath: "realpath", typeReadlink: "readlink",
}

// maxExtName bounds the extension name recorded for an unknown one.
const maxExtName = 64

// extended parses the OpenSSH extensions that act on files; others are
// recorded by name.
func (t *Tap) extended(q *request, r *reader) {
	name := string(r.str())
	switch name {
	case "posix-rename@openssh.com":
		q.op, q.path = "rename", string(r.str())
		q.target = string(r.str())
	case "hardlink@openssh.com":
		q.op, q.target = "hardlink", string(r.str())
		q.path = string(r.str())
	case "lsetstat@openssh.com":
		q.op, q.path = "setstat", string(r.str())
		q.attrs = readAttrs(r)
	case "statvfs@openssh.com":
		q.op, q.path = "statvfs", string(r.str())
	case "expand-path@openssh.com":
		q.op, q.path = "realpath", string(r.str())
	case "copy-data":
		q.op, q.handle = "copy-data", string(r.str())
		r.u64()
		r.u64()
		q.other = string(r.str())
	case "home-directory":
		q.op, q.path = "home-directory", string(r.str())
	case "fsync@openssh.com", "fstatvfs@openssh.com", "limits@openssh.com", "users-groups-by-id@openssh.com":
		// Nothing an auditor needs; matched, not recorded.
	default:
		if len(name) > maxExtName {
			name = name[:maxExtName]
		}
		// The name is the client's: a reviewer's line and the audit
		// tools show op as it is, so what is not plain ASCII is quoted
		// ($'\x1b[2A…'), never passed on as terminal text.
		q.op = "extended:" + termsafe.Quote(name)
	}
}

// addPending keeps q until the response to id.
func (t *Tap) addPending(id uint32, q *request) error {
	if _, dup := t.pending[id]; dup {
		return fmt.Errorf("client reused request id %d while it was in flight", id)
	}
	if len(t.pending) >= maxPending {
		return fmt.Errorf("more than %d requests in flight", maxPending)
	}
	q.size = len(q.path) + len(q.target) + len(q.handle) + len(q.other) + 64
	if t.mem+q.size > memBudget {
		return fmt.Errorf("requests in flight hold more than %d bytes", memBudget)
	}
	t.mem += q.size
	t.pending[id] = q
	return nil
}

// takePending removes and returns the request answered by id.
func (t *Tap) takePending(id uint32) (*request, error) {
	q, ok := t.pending[id]
	if !ok {
		return nil, fmt.Errorf("host answered request id %d, which is not in flight", id)
	}
	delete(t.pending, id)
	t.mem -= q.size
	return q, nil
}

// response parses a host packet and records what it answers.
func (t *Tap) response(body []byte) error {
	typ := body[0]
	r := reader{b: body[1:]}
	if !t.versionSeen {
		if typ != typeVersion {
			return fmt.Errorf("first host packet has type %d, not VERSION", typ)
		}
		if v := r.u32(); r.err == nil && v != 3 {
			return fmt.Errorf("host speaks SFTP version %d; only 3 is parsed", v)
		}
		t.versionSeen = true
		return r.err
	}
	switch typ {
	case typeStatus, typeHandle, typeName, typeAttrs, typeExtReply:
	default:
		return fmt.Errorf("host sent a packet of type %d", typ)
	}
	id := r.u32()
	if r.err != nil {
		return fmt.Errorf("host response of type %d: %w", typ, r.err)
	}
	q, err := t.takePending(id)
	if err != nil {
		return err
	}
	switch typ {
	case typeStatus:
		code := r.u32()
		if r.err != nil {
			return fmt.Errorf("host STATUS: %w", r.err)
		}
		t.status(q, code)
	case typeHandle:
		hd := r.str()
		if r.err != nil {
			return fmt.Errorf("host HANDLE: %w", r.err)
		}
		return t.opened(q, string(hd))
	case typeName:
		count := r.u32()
		if r.err != nil {
			return fmt.Errorf("host NAME: %w", r.err)
		}
		if q.typ == typeReaddir {
			if h := t.handles[q.handle]; h != nil {
				h.count += uint64(count)
			}
			return nil
		}
		target := ""
		if count > 0 {
			if name := r.str(); r.err == nil {
				target = string(name)
			}
		}
		if q.op != "" {
			if q.typ == typeRealpath || q.typ == typeReadlink || q.op == "realpath" || q.op == "home-directory" {
				q.target = target
			}
			t.fileOp(q, "ok", "")
		}
	case typeAttrs, typeExtReply:
		if q.op != "" {
			t.fileOp(q, "ok", "")
		}
	}
	return nil
}

// opened makes a handle of an OPEN or OPENDIR the host granted.
func (t *Tap) opened(q *request, id string) error {
	if q.typ != typeOpen && q.typ != typeOpendir {
		return fmt.Errorf("host answered a request of type %d with a handle", q.typ)
	}
	if len(id) > maxHandle {
		return fmt.Errorf("host handle of %d bytes", len(id))
	}
	if _, dup := t.handles[id]; dup {
		return fmt.Errorf("host handle %x is already open", id)
	}
	if len(t.handles) >= maxHandles {
		return fmt.Errorf("more than %d handles open", maxHandles)
	}
	size := len(q.path) + len(id) + 128
	if t.mem+size > memBudget {
		return fmt.Errorf("open handles hold more than %d bytes", memBudget)
	}
	t.mem += size
	t.handles[id] = &handle{id: id, path: q.path, dir: q.typ == typeOpendir, flags: q.flags, attrs: q.attrs, started: t.now()}
	return nil
}

// status applies a STATUS answer to its request.
func (t *Tap) status(q *request, code uint32) {
	name := statusName(code)
	switch q.typ {
	case typeClose:
		if h := t.handles[q.handle]; h != nil {
			st := "ok"
			if code != 0 {
				st = "error"
				if h.err == "" {
					h.err = name
				}
			}
			t.finish(h, st)
			t.dropHandle(h)
		}
		return
	case typeRead, typeWrite, typeReaddir:
		if h := t.handles[q.handle]; h != nil && code > 1 && h.err == "" { // not ok, not eof
			h.err = name
		}
		return
	}
	if q.op != "" {
		t.fileOp(q, name, "")
	}
}

// dropHandle forgets a closed handle.
func (t *Tap) dropHandle(h *handle) {
	delete(t.handles, h.id)
	t.mem -= len(h.path) + len(h.id) + 128
}

// fileOp emits the file.op of q with the host's answer.
func (t *Tap) fileOp(q *request, status, count string) {
	meta := map[string]string{"op": q.op, "path": q.path, "status": status}
	switch {
	case q.typ == typeFsetstat:
		meta["path"] = t.pathOf(q.handle)
	case q.op == "copy-data":
		meta["path"], meta["target"] = t.pathOf(q.handle), t.pathOf(q.other)
	}
	if q.target != "" {
		meta["target"] = q.target
	}
	if count != "" {
		meta["count"] = count
	}
	if q.typ == typeOpen {
		meta["open_flags"] = openFlags(q.flags)
	}
	q.attrs.addMeta(meta)
	t.opts.Emit(Record{Type: event.FileOp, Meta: meta})
}

// pathOf returns the path a handle was opened with, or the handle in
// hex when it is not open.
func (t *Tap) pathOf(id string) string {
	if h := t.handles[id]; h != nil {
		return h.path
	}
	return "handle:" + hex.EncodeToString([]byte(id))
}

// finish emits the record of a handle that ends with status: a transfer
// for a file, an opendir file.op with the entry count for a directory.
func (t *Tap) finish(h *handle, status string) {
	if h.dir {
		if h.err != "" && status == "ok" {
			status = h.err
		}
		t.fileOp(&request{typ: typeOpendir, op: "opendir", path: h.path}, status, strconv.FormatUint(h.count, 10))
		return
	}
	if status == "ok" && h.err != "" {
		status = "error"
	}
	// The direction says what the handle did to the file: content
	// written, or an open that creates or truncates it (a truncation is
	// a write even when the handle then only reads), is a write.
	dir := "download"
	switch {
	case h.up.bytes > 0 && h.down.bytes > 0:
		dir = "both"
	case h.up.bytes > 0:
		dir = "upload"
	case h.down.bytes > 0 && h.flags&flagsChange != 0:
		dir = "both"
	case h.down.bytes == 0 && h.flags&flagsWrite != 0:
		dir = "upload"
	}
	meta := map[string]string{
		"via": "sftp", "path": h.path, "direction": dir, "handle": hex.EncodeToString([]byte(h.id)),
		"open_flags": openFlags(h.flags),
		"bytes_up":   strconv.FormatInt(h.up.bytes, 10), "bytes_down": strconv.FormatInt(h.down.bytes, 10),
		"started_ns":  strconv.FormatInt(h.started.UnixNano(), 10),
		"duration_ms": strconv.FormatInt(t.now().Sub(h.started).Milliseconds(), 10),
		"status":      status,
	}
	if h.up.hash != nil {
		meta["sha256_up"] = hex.EncodeToString(h.up.hash.Sum(nil))
	}
	if h.down.hash != nil {
		meta["sha256_down"] = hex.EncodeToString(h.down.hash.Sum(nil))
	}
	if h.err != "" {
		meta["error"] = h.err
	}
	h.attrs.addMeta(meta)
	switch {
	case h.up.outOfOrder && h.down.outOfOrder:
		meta["out_of_order"] = "up,down"
	case h.up.outOfOrder:
		meta["out_of_order"] = "up"
	case h.down.outOfOrder:
		meta["out_of_order"] = "down"
	}
	t.opts.Emit(Record{Type: event.Transfer, Meta: meta})
}

// beginContent starts a WRITE's or DATA's content: which handle, where.
func (t *Tap) beginContent(f *framer) error {
	f.cur, f.keep = nil, f.keep[:0]
	if f.up {
		if !t.initSeen {
			return errors.New("client sent WRITE before INIT")
		}
		r := reader{b: f.head[1:]}
		id := r.u32()
		hd := string(r.str())
		off := r.u64()
		if r.err != nil {
			return fmt.Errorf("client WRITE: %w", r.err)
		}
		// The content is counted against the file the handle names
		// now, as it streams; the host acts on it later, in order. A
		// handle the host has not granted yet (an OPEN in flight may
		// return it) or one being closed (the host hands a closed id
		// out again) could name another file by then: the record could
		// not say which file the bytes went to.
		h := t.handles[hd]
		switch {
		case h == nil:
			return fmt.Errorf("client WRITE to handle %x, which is not open", hd)
		case h.closing:
			return fmt.Errorf("client WRITE to handle %x, which is being closed", hd)
		case h.dir:
			return fmt.Errorf("client WRITE to directory handle %x", hd)
		}
		if err := t.addPending(id, &request{typ: typeWrite, handle: hd}); err != nil {
			return err
		}
		f.cur, f.curOff = h, off
		h.up.at(off)
		return nil
	}
	if !t.versionSeen {
		return errors.New("host sent DATA before VERSION")
	}
	id := binary.BigEndian.Uint32(f.head[1:5])
	q, err := t.takePending(id)
	if err != nil {
		return err
	}
	if q.typ != typeRead {
		return fmt.Errorf("host answered a request of type %d with DATA", q.typ)
	}
	f.cur, f.curOff = t.handles[q.handle], q.offset
	if f.cur != nil && f.cur.dir {
		f.cur = nil
	}
	if f.cur != nil {
		f.cur.down.at(q.offset)
	}
	return nil
}

// content hashes a piece of streaming content and keeps what the policy
// keeps.
func (t *Tap) content(f *framer, p []byte) {
	h := f.cur
	if h == nil || len(p) == 0 {
		return
	}
	fl := &h.down
	if f.up {
		fl = &h.up
	}
	if fl.hash == nil {
		fl.hash = sha256.New()
	}
	fl.hash.Write(p)
	fl.bytes += int64(len(p))
	if room := t.opts.KeepContent - fl.kept; room > 0 {
		k := p[:min(int64(len(p)), room)]
		f.keep = append(f.keep, k...)
		fl.kept += int64(len(k))
	}
}

// endContent emits the content kept of the packet that ended.
func (t *Tap) endContent(f *framer) {
	h := f.cur
	f.cur = nil
	if h == nil || len(f.keep) == 0 {
		return
	}
	dir := "download"
	if f.up {
		dir = "upload"
	}
	t.opts.Emit(Record{
		Type: event.TransferData,
		Data: append([]byte(nil), f.keep...),
		Meta: map[string]string{"path": h.path, "direction": dir, "offset": strconv.FormatUint(f.curOff, 10), "handle": hex.EncodeToString([]byte(h.id))},
	})
	if cap(f.keep) > 64<<10 {
		f.keep = nil
	} else {
		f.keep = f.keep[:0]
	}
}
