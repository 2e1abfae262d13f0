package recorder

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/foureyes/foureyes/event"
	"github.com/google/uuid"
)

// StartInfo describes a session for its session.start event.
type StartInfo struct {
	// ID is the session id; empty selects a new random UUID. At most 255
	// bytes of UTF-8.
	ID string
	// Kind is "shell", "exec", "audit" or "gateway". Default: "shell".
	Kind string
	// User is the authenticated bastion user; also the Actor of
	// session.start. Host is the target host name, Login the account on
	// it, Remote the client's address, KeyFingerprint the key the user
	// authenticated with.
	User, Host, Login, Remote, KeyFingerprint string
	// Term, Cols and Rows describe the requested pty, if any.
	Term       string
	Cols, Rows int
	// Command is the exec command, if any.
	Command string
	// Class and Retention (days) are copied into every event.
	Class     string
	Retention uint16
	// Meta holds extra session.start fields; the fields above win over
	// keys of the same name.
	Meta map[string]string
}

// Session records one session. Its methods are safe for concurrent use;
// events are recorded in the order of the calls.
//
// Output, Input and Resize do not return errors: when the session can no
// longer be recorded, Done is closed and Err says why, and those calls
// record nothing.
type Session struct {
	r      *Recorder
	id     string
	st     *sessionState // guarded by r.spool.mu
	ctx    context.Context
	cancel context.CancelCauseFunc

	// Immutable after Start.
	gateway   string
	class     string
	retention uint16
	fields    map[string]string
	startedNS int64

	mu       sync.Mutex // guards the fields below; taken before Recorder.mu and spool.mu
	chain    event.Chain
	enc      encoder
	ev       event.Event // scratch
	ended    bool
	bytesIn  int64
	bytesOut int64
	out      []byte    // pending output chunk
	outLimit int       // its bound: ChunkBytes, more under bulk output (output.go)
	outStart time.Time // time of its first byte
	timer    timer     // cuts the chunk ChunkInterval after its first byte
	armed    bool
	sealSt   sessionSeal // seal.go

	holdMu  sync.Mutex     // guards holds and holding; taken alone
	holds   [numFlows]hold // throttle periods (backpressure.go)
	holding int            // flows in a period
}

// Start opens a session and writes its session.start event. It does not
// wait for the event to be durable.
func (r *Recorder) Start(info StartInfo) (*Session, error) {
	id := info.ID
	if id == "" {
		id = uuid.NewString()
	}
	if len(id) > 255 || !utf8.ValidString(id) {
		return nil, fmt.Errorf("recorder: session id %.40q: must be 1..255 bytes of UTF-8", id)
	}
	if info.Kind == "" {
		info.Kind = "shell"
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &Session{
		r: r, id: id, ctx: ctx, cancel: cancel,
		gateway: r.cfg.Gateway, class: info.Class, retention: info.Retention,
	}
	// s.mu is held from registration to session.start, so that Close
	// cannot end the session before it starts.
	s.mu.Lock()
	r.mu.Lock()
	switch {
	case r.closed:
		r.mu.Unlock()
		s.mu.Unlock()
		return nil, ErrClosed
	case r.sessions[id] != nil:
		r.mu.Unlock()
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrDuplicateSession, id)
	}
	r.sessions[id] = s
	r.mu.Unlock()
	info.Meta = r.anchorMeta(&info)
	s.sealSt.gateway = info.Kind == "gateway"

	ev := event.Event{Type: event.SessionStart, Actor: info.User, Time: r.clock.Now().UnixNano(), Meta: startMeta(&info, r.cfg.Gateway)}
	s.startedNS = ev.Time
	s.st = &sessionState{ID: id, Gateway: s.gateway, Class: s.class, Retention: s.retention, StartedNS: ev.Time, fail: cancel}
	s.st.Fields = summaryFields(ev.Meta)
	s.fields = s.st.Fields
	_, err := s.appendLocked(&ev, false)
	if err != nil {
		s.ended = true
		s.cancel(err)
	}
	s.mu.Unlock()
	if err != nil {
		r.forget(s)
		return nil, err
	}
	r.noteStarted(id, &info)
	return s, nil
}

// startMeta returns the Meta of session.start.
func startMeta(info *StartInfo, gateway string) map[string]string {
	m := make(map[string]string, len(info.Meta)+12)
	for k, v := range info.Meta {
		m[k] = v
	}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("user", info.User)
	set("host", info.Host)
	set("login", info.Login)
	set("remote", info.Remote)
	set("kind", info.Kind)
	set("key", info.KeyFingerprint)
	set("term", info.Term)
	set("command", info.Command)
	set("gateway", gateway)
	if info.Cols > 0 || info.Rows > 0 {
		m["cols"] = strconv.Itoa(info.Cols)
		m["rows"] = strconv.Itoa(info.Rows)
	}
	return m
}

// ID returns the session id.
func (s *Session) ID() string { return s.id }

// NextSeq returns the seq the session's next event gets. After a
// failure it is the first seq that was not recorded (a refused event does
// not consume its seq; the session.end written by End takes it).
func (s *Session) NextSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chain.Next()
}

// Done is closed when the session can no longer be recorded: the spool is
// full (ErrSpoolFull) or failed (a write or fsync error), the Recorder was
// closed (ErrClosed), or End wrote session.end (ErrEnded). The gateway's
// fail-closed policy watches it.
func (s *Session) Done() <-chan struct{} { return s.ctx.Done() }

// Err reports why Done is closed, or nil while it is not.
func (s *Session) Err() error { return context.Cause(s.ctx) }

// endedErr is the error of calls after the session ended: ErrClosed when
// Recorder.Close ended it, else ErrEnded.
func (s *Session) endedErr() error {
	if errors.Is(s.Err(), ErrClosed) {
		return ErrClosed
	}
	return ErrEnded
}

// fail ends the session's recording with err.
func (s *Session) fail(err error) { s.cancel(err) }

// usableLocked reports whether events may still be recorded.
func (s *Session) usableLocked() bool { return !s.ended && s.ctx.Err() == nil }

// Input records bytes typed by actor: one input event per call (split
// only above MaxEventData), after any pending output. It does not wait
// for the disk.
func (s *Session) Input(actor string, p []byte) {
	if len(p) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.usableLocked() {
		return
	}
	s.cutOutputLocked()
	for len(p) > 0 {
		n := min(len(p), MaxEventData)
		s.ev = event.Event{Type: event.Input, Actor: actor, Data: p[:n], Time: s.r.clock.Now().UnixNano()}
		if _, err := s.appendLocked(&s.ev, false); err != nil {
			return
		}
		s.bytesIn += int64(n)
		p = p[n:]
	}
	s.ev.Data = nil
}

// Resize records a window size change.
func (s *Session) Resize(cols, rows int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.usableLocked() {
		return
	}
	s.cutOutputLocked()
	s.ev = event.Event{Type: event.Resize, Time: s.r.clock.Now().UnixNano(),
		Meta: map[string]string{"cols": strconv.Itoa(cols), "rows": strconv.Itoa(rows)}}
	s.appendLocked(&s.ev, false) //nolint:errcheck // a failure is reported by Done/Err
}

// Record records any other event (exec, signal, audit.query,
// auth.failure, approvals, ...) after any pending output. data and meta
// are encoded before Record returns; it does not wait for the disk.
func (s *Session) Record(t event.Type, actor string, data []byte, meta map[string]string) error {
	switch {
	case t == event.SessionStart || t == event.SessionEnd:
		return fmt.Errorf("%w: %s", ErrReservedType, t)
	case t == "":
		return fmt.Errorf("%w: empty event type", event.ErrInvalid)
	case len(data) > MaxEventData:
		return fmt.Errorf("%w: %d bytes of data, at most %d", ErrTooLarge, len(data), MaxEventData)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return s.endedErr()
	}
	if err := s.Err(); err != nil {
		return err
	}
	s.cutOutputLocked()
	s.ev = event.Event{Type: t, Actor: actor, Data: data, Meta: meta, Time: s.r.clock.Now().UnixNano()}
	_, err := s.appendLocked(&s.ev, false)
	if err == nil {
		// An SFTP file, a summarised stream: counted as the recovered
		// state counts them (event.Traffic).
		in, out := event.Traffic(&s.ev)
		s.bytesIn += in
		s.bytesOut += out
	}
	s.ev.Data, s.ev.Meta = nil, nil
	return err
}

// End writes session.end after any pending output and waits until it is
// durable (fsync'd). meta adds fields (e.g. approvers); it cannot override
// the ones End computes. If the session could not be recorded to the end
// (Err was set), End still writes a session.end marked interrupted with
// the reason, bypassing the spool size limit, and returns the original
// error. After End, Done is closed and Err returns ErrEnded; End after
// Recorder.Close returns ErrClosed.
func (s *Session) End(exitStatus int, meta map[string]string) error {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return s.endedErr()
	}
	s.ended = true
	cause := s.Err()
	if cause == nil {
		s.flushOutputLocked()
		cause = s.Err()
	}
	s.stopTimerLocked()
	now := s.r.clock.Now().UnixNano()
	m := endMeta(s.fields, s.startedNS, now, exitStatus, s.bytesIn, s.bytesOut, meta)
	if cause != nil {
		m["interrupted"] = "true"
		m["interrupt_reason"] = cause.Error()
		m["last_durable_seq"] = strconv.FormatUint(s.chain.Next()-1, 10)
	} else {
		delete(m, "interrupted")
	}
	s.ev = event.Event{Type: event.SessionEnd, Time: now, Meta: m}
	rec, err := s.appendLocked(&s.ev, cause != nil)
	endSeq, endHash := s.chain.Next()-1, s.chain.Last()
	s.mu.Unlock()
	s.r.forget(s)
	if err == nil {
		err = s.r.spool.waitDurable(rec)
	}
	if err == nil {
		s.r.noteEnded(s.id, s.fields["kind"], endSeq, endHash)
	}
	s.cancel(ErrEnded)
	switch {
	case cause != nil:
		return fmt.Errorf("recorder: session %s was recorded only in part: %w", s.id, cause)
	case err != nil:
		return err
	}
	return nil
}

// interrupt closes a session the gateway did not end before Recorder.Close
// with a session.end marked interrupted.
func (s *Session) interrupt(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	if s.ctx.Err() == nil {
		s.flushOutputLocked()
	}
	s.stopTimerLocked()
	now := s.r.clock.Now().UnixNano()
	m := endMeta(s.fields, s.startedNS, now, -1, s.bytesIn, s.bytesOut, nil)
	m["interrupted"] = "true"
	m["interrupt_reason"] = reason
	m["last_durable_seq"] = strconv.FormatUint(s.chain.Next()-1, 10)
	s.ev = event.Event{Type: event.SessionEnd, Time: now, Meta: m}
	if _, err := s.appendLocked(&s.ev, true); err != nil {
		s.r.log.Warn("could not record the end of an open session at close", "session", s.id, "err", err)
	}
	s.cancel(ErrClosed)
}

// appendLocked seals ev into the session's chain and appends it to the
// spool. On failure the chain is rolled back (so a later session.end
// continues it); a spool failure also ends the session's recording.
func (s *Session) appendLocked(ev *event.Event, reserve bool) (uint64, error) {
	ev.V = event.Version
	ev.Session = s.id
	ev.Gateway = s.gateway
	ev.Class = s.class
	ev.Retention = s.retention
	saved := s.chain
	s.r.signEnd(ev, &s.chain)
	fr, err := s.enc.seal(&s.chain, ev)
	if err != nil {
		s.chain = saved // the event is refused; the session goes on
		return 0, err
	}
	rec, err := s.r.spool.append(fr, s.st, ev, reserve)
	if err != nil {
		s.chain = saved
		s.fail(err)
		return 0, err
	}
	s.noteAppendedLocked(ev)
	return rec, nil
}
