package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
	"sync"
	"time"
)

// Meter counts and hashes one byte stream. It is safe for concurrent
// use: the copier writes while the session's end reads it.
type Meter struct {
	mu sync.Mutex
	n  int64
	h  hash.Hash
}

// Write counts and hashes p; it never fails.
func (m *Meter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writeLocked(p)
	return len(p), nil
}

// writeLocked adds p.
func (m *Meter) writeLocked(p []byte) {
	if len(p) == 0 {
		return
	}
	if m.h == nil {
		m.h = sha256.New()
	}
	m.h.Write(p)
	m.n += int64(len(p))
}

// Bytes returns the number of bytes written.
func (m *Meter) Bytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n
}

// Sum returns the SHA-256 of the bytes written, in hex; "" when none
// were.
func (m *Meter) Sum() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sumLocked()
}

func (m *Meter) sumLocked() string {
	if m.h == nil {
		return ""
	}
	return hex.EncodeToString(m.h.Sum(nil))
}

// Transfer summarises a file transfer's two streams: Up (client → host)
// and Down (host → client).
type Transfer struct {
	Command
	Up, Down Meter
	started  time.Time // of the first byte either way
	mu       sync.Mutex
	now      func() time.Time
}

// NewTransfer returns the summary of c's streams.
func NewTransfer(c Command) *Transfer { return &Transfer{Command: c, now: time.Now} }

// AddUp counts bytes the client sent.
func (t *Transfer) AddUp(p []byte) { t.add(&t.Up, p) }

// AddDown counts bytes the host sent.
func (t *Transfer) AddDown(p []byte) { t.add(&t.Down, p) }

func (t *Transfer) add(m *Meter, p []byte) {
	if len(p) == 0 {
		return
	}
	t.mu.Lock()
	if t.started.IsZero() {
		t.started = t.now()
	}
	t.mu.Unlock()
	m.Write(p)
}

// Scopes of an event.Transfer of an exec transfer (meta "scope").
const (
	ScopeStream = "stream" // the whole byte stream of the command
	ScopeFile   = "file"   // one file in it (scp's headers)
	ScopeDir    = "dir"    // a directory in it the receiving end refused (scp -r)
)

// Transfer statuses (event.Transfer meta "status").
const (
	StatusOK         = "ok"         // the program exited 0
	StatusError      = "error"      // it exited otherwise
	StatusIncomplete = "incomplete" // the session ended without its exit status
	StatusRefused    = "refused"    // scp: the receiving end refused the file's header
)

// Meta returns the event.Transfer meta at the end of the transfer:
// status is one of the Status constants, exit the program's exit status
// (when known, else "").
func (t *Transfer) Meta(status, exit string) map[string]string {
	end := t.now()
	t.mu.Lock()
	start := t.started
	t.mu.Unlock()
	if start.IsZero() {
		start = end
	}
	dir := t.Direction
	m := map[string]string{
		"via":         t.Via,
		"scope":       ScopeStream,
		"program":     t.Program,
		"direction":   dir,
		"path":        t.Path,
		"bytes_up":    strconv.FormatInt(t.Up.Bytes(), 10),
		"bytes_down":  strconv.FormatInt(t.Down.Bytes(), 10),
		"sha256_up":   t.Up.Sum(),
		"sha256_down": t.Down.Sum(),
		"started_ns":  strconv.FormatInt(start.UnixNano(), 10),
		"duration_ms": strconv.FormatInt(end.Sub(start).Milliseconds(), 10),
		"status":      status,
	}
	if exit != "" {
		m["exit_status"] = exit
	}
	return m
}
