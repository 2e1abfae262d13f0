package recorder

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/foureyes/foureyes/event"
)

// Sealing: with Config.Signer set, every stream's chain is signed at
// checkpoints and at its end (docs/event-schema.md, "Signatures").
//
//   - After Config.SealEvery events, or SealInterval after an unsigned
//     event, the session queues its current point (seq, hash) without
//     waiting; the sealer goroutine signs it (~50 µs) and appends a
//     chain.seal naming that point as a later event of the same chain.
//     The keystroke path only counts and, once per SealEvery events,
//     makes a non-blocking channel send.
//   - session.end is signed synchronously by End: it carries a signature
//     over itself (event.Signer.SignEnd), so a session ends sealed.
//   - The points sealed in the gateway's own stream (kind "gateway") are
//     written to Config.AnchorFile; the next gateway stream's session.start
//     names the last of them (anchor_stream, anchor_seq, anchor_hash), so
//     a deleted gateway stream is detected across restarts.
//
// Start and End of every other stream are reported to the observer set by
// ObserveStreams (the gateway records them in its own stream).

// sessionSeal is a Session's sealing state, guarded by Session.mu.
type sessionSeal struct {
	unsealed int  // events (not seals) appended since the last sealed point
	pending  bool // a request is queued or being signed
	gateway  bool // kind "gateway": sealed points go to the anchor file
}

// sealRequest asks the sealer to sign point seq (hash) of s.
type sealRequest struct {
	s    *Session
	seq  uint64
	hash event.Hash
}

// sealer owns the signing goroutine of a Recorder.
type sealer struct {
	signer   *event.Signer
	every    int
	interval time.Duration
	anchor   string // file, "" for none
	queue    chan sealRequest
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	anchorMu sync.Mutex // serializes writes of the anchor file
	// last is the newest sealed point of the gateway's own stream and
	// when it was sealed; guarded by anchorMu.
	last     anchor
	lastTime time.Time
}

// sealQueue bounds the requests waiting for the sealer; a session whose
// request does not fit retries at its next event or tick.
const sealQueue = 1024

func newSealer(cfg Config) *sealer {
	if cfg.Signer == nil {
		return nil
	}
	return &sealer{signer: cfg.Signer, every: cfg.SealEvery, interval: cfg.SealInterval, anchor: cfg.AnchorFile,
		queue: make(chan sealRequest, sealQueue), stop: make(chan struct{}), done: make(chan struct{})}
}

// startSealer runs the sealer goroutine; stopSealer ends it.
func (r *Recorder) startSealer() {
	if r.seal == nil {
		return
	}
	go r.runSealer()
}

func (r *Recorder) stopSealer() {
	if r.seal == nil {
		return
	}
	r.seal.stopOnce.Do(func() { close(r.seal.stop) })
	<-r.seal.done
}

func (r *Recorder) runSealer() {
	z := r.seal
	defer close(z.done)
	tick := time.NewTicker(z.interval)
	defer tick.Stop()
	for {
		select {
		case <-z.stop:
			return
		case req := <-z.queue:
			meta := z.signer.SealMeta(req.s.id, req.seq, req.hash)
			req.s.appendSeal(req, meta)
		case <-tick.C:
			r.sealIdle()
		}
	}
}

// sealIdle requests a seal for every live session with unsigned events.
func (r *Recorder) sealIdle() {
	r.mu.Lock()
	live := make([]*Session, 0, len(r.sessions))
	for _, s := range r.sessions {
		live = append(live, s)
	}
	r.mu.Unlock()
	for _, s := range live {
		s.mu.Lock()
		if s.usableLocked() {
			s.requestSealLocked()
		}
		s.mu.Unlock()
	}
}

// noteAppendedLocked counts an appended event and requests a seal every
// SealEvery events. It never blocks.
func (s *Session) noteAppendedLocked(ev *event.Event) {
	z := s.r.seal
	if z == nil {
		return
	}
	switch ev.Type {
	case event.ChainSeal:
		return
	case event.SessionEnd:
		if s.sealSt.gateway {
			z.writeAnchor(s.r, s.id, ev.Seq, ev.Hash)
		}
		return
	}
	s.sealSt.unsealed++
	if s.sealSt.unsealed >= z.every {
		s.requestSealLocked()
	}
}

// requestSealLocked queues the current point for signing unless one is
// pending or nothing is unsigned.
func (s *Session) requestSealLocked() {
	if s.sealSt.pending || s.sealSt.unsealed == 0 {
		return
	}
	select {
	case s.r.seal.queue <- sealRequest{s: s, seq: s.chain.Next() - 1, hash: s.chain.Last()}:
		s.sealSt.pending = true
	default:
	}
}

// appendSeal appends the chain.seal for req, unless the session can no
// longer record or moved more than event.MaxSealLag past the point (the
// next request seals a fresh one).
func (s *Session) appendSeal(req sealRequest, meta map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealSt.pending = false
	if !s.usableLocked() {
		return
	}
	since := s.chain.Next() - 1 - req.seq
	if since > event.MaxSealLag {
		return
	}
	ev := event.Event{Type: event.ChainSeal, Time: s.r.clock.Now().UnixNano(), Meta: meta}
	if _, err := s.appendLocked(&ev, false); err != nil {
		return
	}
	s.sealSt.unsealed = int(since)
	if s.sealSt.gateway {
		s.r.seal.writeAnchor(s.r, s.id, req.seq, req.hash)
	}
}

// signEnd signs a session.end that chain is about to seal.
func (r *Recorder) signEnd(ev *event.Event, chain *event.Chain) {
	if r.seal == nil || ev.Type != event.SessionEnd {
		return
	}
	if ev.Meta == nil {
		ev.Meta = map[string]string{}
	}
	ev.Seq, ev.Prev = chain.Next(), chain.Last()
	r.seal.signer.SignEnd(ev)
}

// anchor is the content of the anchor file: the last sealed point of the
// gateway's own stream.
type anchor struct {
	Stream string     `json:"stream"`
	Seq    uint64     `json:"seq"`
	Hash   event.Hash `json:"hash"`
}

// writeAnchor remembers the point (GatewayAnchor) and replaces the anchor
// file (write, fsync, rename).
func (z *sealer) writeAnchor(r *Recorder, id string, seq uint64, h event.Hash) {
	z.anchorMu.Lock()
	defer z.anchorMu.Unlock()
	z.last, z.lastTime = anchor{Stream: id, Seq: seq, Hash: h}, r.clock.Now()
	if z.anchor == "" {
		return
	}
	b, _ := json.Marshal(z.last) // fixed types cannot fail
	tmp := z.anchor + ".tmp"
	err := writeFileSync(tmp, b)
	if err == nil {
		err = os.Rename(tmp, z.anchor)
	}
	if err != nil {
		r.log.Error("could not write the gateway stream anchor; the next gateway stream cannot name this one", "file", z.anchor, "err", err)
	}
}

func writeFileSync(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// anchorMeta returns info.Meta with the anchor of the previous gateway
// stream added, for a new gateway stream (kind "gateway").
func (r *Recorder) anchorMeta(info *StartInfo) map[string]string {
	if r.seal == nil || r.seal.anchor == "" || info.Kind != "gateway" {
		return info.Meta
	}
	b, err := os.ReadFile(r.seal.anchor)
	if err != nil {
		if !os.IsNotExist(err) {
			r.log.Error("could not read the gateway stream anchor", "file", r.seal.anchor, "err", err)
		}
		return info.Meta
	}
	var a anchor
	if err := json.Unmarshal(b, &a); err != nil || a.Stream == "" {
		r.log.Error("the gateway stream anchor does not decode; the new stream names none", "file", r.seal.anchor, "err", err)
		return info.Meta
	}
	m := maps.Clone(info.Meta)
	if m == nil {
		m = map[string]string{}
	}
	m["anchor_stream"] = a.Stream
	m["anchor_seq"] = strconv.FormatUint(a.Seq, 10)
	m["anchor_hash"] = a.Hash.String()
	return m
}

// StreamObserver is told about the start and end of every stream other
// than the gateway's own: t is event.StreamStarted (meta: session, kind,
// user, host, class, retention_days) or event.StreamEnded (meta: session, last_seq, last_hash).
// It is called without the recorder's locks held.
type StreamObserver func(t event.Type, meta map[string]string)

// maxStreamNotes bounds the notes kept until an observer is set.
const maxStreamNotes = 100000

type streamNote struct {
	t    event.Type
	meta map[string]string
}

// ObserveStreams sets the observer of stream starts and ends, and hands
// it the notes of streams that started or ended before (the sessions
// recovery ended).
func (r *Recorder) ObserveStreams(f StreamObserver) {
	r.noteMu.Lock()
	r.observer = f
	notes := r.notes
	r.notes = nil
	r.noteMu.Unlock()
	for _, n := range notes {
		f(n.t, n.meta)
	}
}

func (r *Recorder) noteStream(t event.Type, meta map[string]string) {
	r.noteMu.Lock()
	f := r.observer
	if f == nil {
		if len(r.notes) < maxStreamNotes {
			r.notes = append(r.notes, streamNote{t: t, meta: meta})
		}
		r.noteMu.Unlock()
		return
	}
	r.noteMu.Unlock()
	f(t, meta)
}

// noteStarted and noteEnded report a stream (not the gateway's own).
func (r *Recorder) noteStarted(id string, info *StartInfo) {
	if info.Kind == "gateway" {
		return
	}
	r.noteStream(event.StreamStarted, map[string]string{"session": id, "kind": info.Kind, "user": info.User, "host": info.Host,
		"class": info.Class, "retention_days": strconv.Itoa(int(info.Retention))})
}

func (r *Recorder) noteEnded(id, kind string, seq uint64, h event.Hash) {
	if kind == "gateway" {
		return
	}
	r.noteStream(event.StreamEnded, map[string]string{"session": id, "last_seq": strconv.FormatUint(seq, 10), "last_hash": h.String()})
}

// validateSealing checks the sealing fields of a defaulted Config.
func (c Config) validateSealing() error {
	switch {
	case c.Signer == nil:
		return nil
	case c.SealEvery < 1:
		return fmt.Errorf("%w: SealEvery is %d; use at least 1", ErrConfig, c.SealEvery)
	case c.SealInterval <= 0:
		return fmt.Errorf("%w: SealInterval is %v; use a positive duration", ErrConfig, c.SealInterval)
	}
	return nil
}

// GatewayAnchor returns the newest point this recorder sealed in the
// gateway's own stream — stream id, seq, hash — and when, for a verifier
// in the same process to check that the database still holds it
// (query.WithLocalAnchor). ok is false before the first such seal or
// without signing.
func (r *Recorder) GatewayAnchor() (stream string, seq uint64, hash event.Hash, at time.Time, ok bool) {
	z := r.seal
	if z == nil {
		return "", 0, event.Hash{}, time.Time{}, false
	}
	z.anchorMu.Lock()
	defer z.anchorMu.Unlock()
	if z.last.Stream == "" {
		return "", 0, event.Hash{}, time.Time{}, false
	}
	return z.last.Stream, z.last.Seq, z.last.Hash, z.lastTime, true
}
