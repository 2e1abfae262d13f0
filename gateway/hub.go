package gateway

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/sftp"
	"github.com/foureyes/foureyes/recorder"
	"github.com/foureyes/foureyes/termsafe"
	gossh "golang.org/x/crypto/ssh"
)

// hubState is where a four-eyes session is in its life.
type hubState int

const (
	stateAsking   hubState = iota // the requester is typing the reason; not listed yet
	statePending                  // waiting for approval; nothing reached the host
	stateStarting                 // approved; the host is asked to start it: no cancel, deny or withdrawal
	stateActive                   // approved, connected, watched
	statePaused                   // approved, nobody watching: the requester's input is frozen
	stateEnded
)

// String returns the state as `sessions` shows it.
func (s hubState) String() string {
	switch s {
	case stateAsking:
		return "asking"
	case statePending:
		return "pending"
	case stateStarting:
		return "starting"
	case stateActive:
		return "active"
	case statePaused:
		return "paused"
	}
	return "ended"
}

// ending says why a four-eyes session ends other than by its command
// exiting: a denial, the requester's cancellation, a termination.
type ending struct {
	kind event.Type // ApprovalDeny, ApprovalCancel, SessionTerminate
	by   string     // who decided; empty for policy
	msg  string     // told to everyone, after "foureyes: "
}

// hub is the shared state of one four-eyes session: the requester (its
// owner, whose goroutine drives the session: approval.go), the reviewers
// (participants, each driven by its join) and the host's channel once
// approved.
//
// Locks: mu guards the mutable fields and is taken before the recorder
// session's lock (events are recorded under mu so that the chain's order
// matches the order of state changes). inMu serializes input to the host
// and is never held together with mu. Nothing blocks on the network under
// mu: participants' queues are offered to without blocking.
type hub struct {
	s         *Server
	owner     string
	ownerKey  string
	host      *config.Host
	pol       *config.ApprovalPolicy
	command   string   // exec command; empty for a shell
	approvers []string // users who may approve, for display
	log       *slog.Logger

	// Set by the owner before the hub is registered; read-only after.
	// A session under an approval window (win) was approved with the
	// window: it runs at once, reviewers only watch, and stop ends it.
	win    *window
	stop   func(*endOrder)
	id     string
	reason string
	since  time.Time
	local  net.Addr // where the requester reached the bastion; may be nil
	rec    *recorder.Session
	sftp   *sftp.Tap // an SFTP session's parser; its input is the requester's alone
	tap    *execTap  // the requester's execTap (exectap.go)

	wake   chan struct{} // one slot: the owner should look at the state
	notes  chan string   // lines for the requester's terminal, written by the owner
	closed chan struct{} // closed by finish; endMsg is set before
	endMsg string

	inMu  sync.Mutex   // serializes writes to the host; never held with mu
	fwdIn atomic.Int64 // bytes of input that reached the host

	mu      sync.Mutex // guards the fields below
	state   hubState
	up      gossh.Channel // the host's channel, set at activation
	granted []string      // reviewers whose approval stands, in order
	every   []string      // everyone who ever approved, for session.end
	parts   []*participant
	out     ring // what reviewers were sent (rendered), for late joiners
	views   [numStreams]liveView
	// shown is the stream whose Sanitizer's attributes reviewers'
	// terminals have (streamOut at first); penDefault after the
	// requester's stdin, which ends in a reset. Another stream's output
	// is preceded by its own attributes: each Sanitizer judges colours
	// against what it has sent, and must not have its text drawn on
	// colours another stream set.
	shown int
	blind blindDetector // the requester's typing the host does not echo (pty)
	cols  uint32        // the requester's window
	rows  uint32
	end   *ending // set once
}

// newHub returns a hub in stateAsking.
func newHub(s *Server, owner, ownerKey string, h *config.Host, pol *config.ApprovalPolicy, command string) *hub {
	return &hub{
		s: s, owner: owner, ownerKey: ownerKey, host: h, pol: pol, command: command,
		approvers: s.cfg().Approvers(h, pol, owner),
		log:       s.log.With("host", h.Name, "user", owner),
		wake:      make(chan struct{}, 1),
		notes:     make(chan string, 16),
		closed:    make(chan struct{}),
	}
}

// signal wakes the owner.
func (h *hub) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// note queues a line for the requester's terminal; it never blocks (a
// requester who does not read misses notes, not output).
func (h *hub) note(msg string) {
	select {
	case h.notes <- msg:
	default:
	}
}

// recordLocked records an event in the session's chain; a failure is
// noticed by the owner through the recording's Done (fail-closed).
func (h *hub) recordLocked(t event.Type, actor string, meta map[string]string) {
	if err := h.rec.Record(t, actor, nil, meta); err != nil {
		h.log.Warn("record", "type", t, "err", err)
	}
}

// announceLocked queues a notice for every participant.
func (h *hub) announceLocked(msg string) {
	b := h.noticeLocked(msg)
	for _, p := range h.parts {
		p.offer(b)
	}
}

// penDefault is hub.shown when reviewers' terminals have the default
// attributes.
const penDefault = -1

// noticeLocked returns a bastion notice for reviewers' terminals: on its
// own line, in reverse video, then back to the attributes the host's
// output has set (penLocked), not to the default: text after it is drawn
// on the attributes the Sanitizer judged it against.
func (h *hub) noticeLocked(msg string) []byte {
	b := h.penLocked([]byte(noticeStart + msg + "]"))
	return append(b, "\r\n"...)
}

// offerNotice queues a notice for p alone. It is built and queued under
// hub.mu, as output is, so no chunk of another stream comes between the
// attributes it ends in and the output after it.
func (h *hub) offerNotice(p *participant, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p.offer(h.noticeLocked(msg))
}

// offerFramed queues b, a notice framed by its caller (it ends in a
// reset), for p alone, followed by the attributes the output has set;
// under hub.mu as offerNotice.
func (h *hub) offerFramed(p *participant, b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p.offer(h.penLocked(b))
}

// penLocked appends what sets a reviewer's terminal to the attributes
// the host's output has set so far.
func (h *hub) penLocked(dst []byte) []byte {
	if h.shown == penDefault {
		return append(dst, "\x1b[0m"...)
	}
	return h.views[h.shown].san.Repen(dst)
}

// readyLocked reports whether enough reviewers approved.
func (h *hub) readyLocked() bool { return len(h.granted) >= h.pol.Count }

// admitResult is the answer to a reviewer's approval or join.
type admitResult int

const (
	admitted     admitResult = iota // watching (or waiting for more approvals)
	admitNeedsOK                    // the session is pending: approve first
	admitEnded                      // the session is over
	admitSameKey                    // p's key already approved under another name
	admittedLate                    // p approved, but it had started meanwhile: p watches, no approval counted
)

// admit adds p to the session. With grant, p approves a pending session
// (an approval of a session that is already active just joins it).
// Without grant, p joins an active or paused session; a pending one
// answers admitNeedsOK. Joining a paused session resumes it.
func (h *hub) admit(p *participant, grant bool) admitResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.state {
	case stateEnded:
		return admitEnded
	case statePending:
		if h.end != nil {
			return admitEnded
		}
		if !grant {
			return admitNeedsOK
		}
		if h.keyApprovedLocked(p) {
			return admitSameKey
		}
		if !slices.Contains(h.granted, p.user) {
			h.granted = append(h.granted, p.user)
		}
		if !slices.Contains(h.every, p.user) {
			h.every = append(h.every, p.user)
		}
		h.recordLocked(event.ApprovalGrant, p.user, map[string]string{
			"key": p.key, "approvals": strconv.Itoa(len(h.granted)), "count": strconv.Itoa(h.pol.Count),
		})
		h.note(p.user + " approved (" + strconv.Itoa(len(h.granted)) + " of " + strconv.Itoa(h.pol.Count) + ")")
	}
	if h.state == stateActive || h.state == statePaused {
		if b := safeReplay(h.out.snapshot(), h.out.full); len(b) > 0 {
			p.offer(h.penLocked(b)) // the current screen, before any newer output
		}
	}
	h.parts = append(h.parts, p)
	h.recordLocked(event.ParticipantJoin, p.user, map[string]string{
		"mode": p.mode, "key": p.key, "remote": p.remote,
		"cols": strconv.Itoa(int(p.cols)), "rows": strconv.Itoa(int(p.rows)),
	})
	h.announceLocked(p.user + " joined as " + p.mode)
	switch h.state {
	case stateActive:
		h.note(p.user + " joined as " + p.mode)
	case statePaused:
		h.state = stateActive
		h.recordLocked(event.SessionResume, p.user, nil)
		h.note(p.user + " joined as " + p.mode + "; session resumed, your input reaches the host again")
	}
	h.signal()
	if grant && h.state != statePending {
		return admittedLate
	}
	return admitted
}

// keyApprovedLocked reports whether another user whose approval stands
// logged in with p's key: accounts sharing a key are one person, and
// their approvals must not count as two pairs of eyes.
func (h *hub) keyApprovedLocked(p *participant) bool {
	return p.key != "" && slices.ContainsFunc(h.parts, func(q *participant) bool {
		return q.user != p.user && q.key == p.key && slices.Contains(h.granted, q.user)
	})
}

// deny ends a pending session on a reviewer's decision. It reports false
// when the session is no longer pending.
func (h *hub) deny(user, key, note string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != statePending || h.end != nil {
		return false
	}
	msg := "session denied by " + user
	if note != "" {
		msg += ": " + termsafe.Text(note)
	}
	h.end = &ending{kind: event.ApprovalDeny, by: user, msg: msg}
	h.recordLocked(event.ApprovalDeny, user, map[string]string{"reason": note, "key": key})
	h.signal()
	return true
}

// cancel ends a pending session on the requester's wish (Ctrl-C at the
// waiting screen).
func (h *hub) cancel(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state != statePending || h.end != nil {
		return
	}
	h.end = &ending{kind: event.ApprovalCancel, by: h.owner, msg: "request cancelled: " + why}
	h.recordLocked(event.ApprovalCancel, h.owner, map[string]string{"reason": why})
	h.signal()
}

// terminate ends the session for everyone on a reviewer's order.
func (h *hub) terminate(by string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state == stateEnded || h.end != nil {
		return
	}
	if h.stop != nil { // under a window: its proxy records the termination
		h.end = &ending{kind: event.SessionTerminate, by: by, msg: "session terminated by " + by}
		h.stop(&endOrder{by: by, reason: "terminated by a reviewer", msg: "session terminated by " + by})
		return
	}
	h.end = &ending{kind: event.SessionTerminate, by: by, msg: "session terminated by " + by}
	h.recordLocked(event.SessionTerminate, by, map[string]string{"reason": "terminated by a reviewer"})
	h.signal()
}

// leave removes p (it left, or its connection dropped). A pending
// session keeps going, minus p's approval. When the last reviewer leaves
// an approved session, the requester's input freezes at once (no input
// reaches the host unwatched) and the owner applies on_leave.
func (h *hub) leave(p *participant, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.left {
		return
	}
	p.left = true
	h.parts = slices.DeleteFunc(h.parts, func(q *participant) bool { return q == p })
	meta := map[string]string{"mode": p.mode, "reason": why}
	if p.dropped > 0 {
		meta["dropped_bytes"] = strconv.FormatInt(p.dropped, 10)
	}
	if h.state == statePending && slices.Contains(h.granted, p.user) && !slices.ContainsFunc(h.parts, func(q *participant) bool { return q.user == p.user }) {
		h.granted = slices.DeleteFunc(h.granted, func(u string) bool { return u == p.user })
		meta["approval"] = "withdrawn"
	}
	h.recordLocked(event.ParticipantLeave, p.user, meta)
	if h.state == stateEnded {
		return
	}
	h.announceLocked(p.user + " left")
	if h.state == stateActive && len(h.parts) == 0 && h.win == nil {
		h.pauseLocked("the last reviewer left")
	} else {
		h.note(p.user + " left")
	}
	h.signal()
}

// pauseLocked freezes an active session nobody watches: the requester's
// input stops reaching the host, and on_leave applies (terminate now, or
// after the grace period the owner times).
func (h *hub) pauseLocked(why string) {
	h.state = statePaused
	h.recordLocked(event.SessionPause, "", map[string]string{"reason": why, "on_leave": h.pol.OnLeave, "grace": h.pol.LeaveGrace.String()})
	if h.pol.OnLeave == config.OnLeaveTerminate && h.end == nil {
		h.end = &ending{kind: event.SessionTerminate, msg: "session terminated: " + why}
		h.recordLocked(event.SessionTerminate, "", map[string]string{"reason": why})
	}
	h.signal()
}

// broadcast sends a chunk of a stream to every participant, rendered
// for their terminals (liveView: sanitized, CRLF without a pty), and
// keeps it for late joiners. A watcher whose queue is full skips the
// chunk; when it has room again it gets a notice of what it missed. Both
// ends of a lag are recorded (participant.lagged).
func (h *hub) broadcast(stream int, b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := &h.views[stream]
	var before []byte // the attributes before this chunk, for a watcher who skipped the last
	if h.shown == stream && slices.ContainsFunc(h.parts, func(p *participant) bool { return p.lagging }) {
		before = v.san.Repen(nil)
	}
	out := make([]byte, 0, len(b)+16)
	if h.shown != stream {
		out = v.san.Repen(out)
	}
	head := len(out)
	out = v.render(out, b)
	if len(out) == head {
		return
	}
	h.shown = stream
	if !v.crlf {
		// The detector sees what reviewers see: typed keys hidden in
		// output the sanitizer removes (a title or OSC string printed in
		// the background) do not count as echoed.
		h.typedBlindLocked(h.blind.output(out[head:]))
	}
	h.fanOutLocked(out, before)
}

// watchTyping feeds typing on a pty (the requester's or a peer's) to the
// blind detector.
func (h *hub) watchTyping(actor string, b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.views[streamStdin].crlf {
		h.typedBlindLocked(h.blind.input(actor, b))
	}
}

// typedBlindLocked tells everyone watching that by typed a line of n
// characters the host did not echo — its length, never its content (it
// may be a password) — and records input.blind. n == 0: nothing to say.
func (h *hub) typedBlindLocked(n int, by string) {
	if n == 0 {
		return
	}
	msg := fmt.Sprintf("%s typed %d characters the host did not echo; not shown (it may be a password)", by, n)
	h.announceLocked(msg)
	if by != h.owner {
		h.note(msg) // a peer typed it: the requester sees reviewers' notices too
	}
	h.recordLocked(event.InputBlind, by, map[string]string{"chars": strconv.Itoa(n)})
}

// fanOutLocked keeps c, rendered, for late joiners and offers it to
// every participant; c is shared by every queue and never modified.
//
// before sets the attributes the chunk was judged against, for a
// watcher that skipped what came before it (nil: nobody lags).
func (h *hub) fanOutLocked(c, before []byte) {
	if len(c) == 0 {
		return
	}
	h.out.write(c)
	if len(h.parts) == 0 {
		return
	}
	for _, p := range h.parts {
		if p.lagging {
			if len(p.out) > cap(p.out)/2 {
				p.dropped += int64(len(c))
				continue
			}
			p.offer(append(skippedNotice(p.dropped), before...))
			h.recordLocked(event.ParticipantLagged, p.user, map[string]string{"state": "caught_up", "dropped_bytes": strconv.FormatInt(p.dropped, 10)})
			p.lagging, p.dropped = false, 0
		}
		if !p.offer(c) {
			p.lagging, p.dropped = true, int64(len(c))
			h.recordLocked(event.ParticipantLagged, p.user, map[string]string{"state": "behind", "queue_chunks": strconv.Itoa(cap(p.out))})
		}
	}
}

// resized notes the requester's new window size and tells reviewers
// whose window is smaller.
func (h *hub) resized(cols, rows uint32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cols, h.rows = cols, rows
	h.noticeSmallerLocked()
}

// noticeSmallerLocked tells each reviewer whose window is smaller than the
// requester's. h.mu is held.
func (h *hub) noticeSmallerLocked() {
	if h.cols == 0 {
		return // exec: no terminal
	}
	for _, p := range h.parts {
		if p.cols != 0 && p.rows != 0 && (p.cols < h.cols || p.rows < h.rows) {
			p.offer(h.penLocked([]byte(sizeNotice(h.owner, h.cols, h.rows, p.cols, p.rows))))
		}
	}
}

// sizeMismatch is the notice for a reviewer joining a running session
// with a window of pc x pr (0: their terminal reported no size), or ""
// when the picture is exact. A terminal that reported no size is told
// the requester's size, not that theirs is "0x0".
func sizeMismatch(owner string, cols, rows, pc, pr uint32) string {
	switch {
	case cols == 0 || rows == 0: // the requester has no terminal
		return ""
	case pc == 0 || pr == 0:
		return noticeStart + owner + "'s terminal is " + strconv.Itoa(int(cols)) + "x" + strconv.Itoa(int(rows)) +
			"; yours did not report its size]\x1b[0m\r\n"
	case pc < cols || pr < rows:
		return sizeNotice(owner, cols, rows, pc, pr)
	}
	return ""
}

// sizeNotice tells a reviewer their window is smaller than the host's.
func sizeNotice(owner string, cols, rows, pc, pr uint32) string {
	return noticeStart + owner + "'s terminal is " + strconv.Itoa(int(cols)) + "x" + strconv.Itoa(int(rows)) +
		", yours is " + strconv.Itoa(int(pc)) + "x" + strconv.Itoa(int(pr)) + "; enlarge yours for an exact picture]\x1b[0m\r\n"
}

// writeInput sends bytes typed by actor to the host, recording them
// first. It reports false when they were not sent (session not active,
// or the host's channel is gone).
func (h *hub) writeInput(actor string, b []byte) bool {
	h.inMu.Lock()
	defer h.inMu.Unlock()
	h.mu.Lock()
	up, ok := h.up, h.state == stateActive
	h.mu.Unlock()
	if !ok || up == nil {
		return false
	}
	if h.sftp != nil {
		if actor != h.owner {
			return false // a peer's keys would corrupt the binary stream
		}
		h.sftp.Up(b)
		if h.sftp.Broken() {
			return false // four-eyes sessions are strict: what the record could not follow is not sent
		}
	} else {
		h.watchTyping(actor, b) // before the input: a verdict on the last line precedes the next
		h.tap.input(h.rec, actor, b)
	}
	select {
	case <-h.rec.Done():
		return false // fail-closed: unrecorded input never reaches the host
	default:
	}
	if actor == h.owner && h.sftp == nil {
		h.showInput(b)
	}
	n, err := up.Write(b)
	h.fwdIn.Add(int64(n))
	return err == nil
}

// current returns the current state.
func (h *hub) current() hubState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state
}

// finish marks the session ended, records the departure of the
// remaining participants and tells them msg. It returns everyone who
// approved.
func (h *hub) finish(msg string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state = stateEnded
	for _, p := range h.parts {
		p.left = true
		p.endMsg = msg
		h.recordLocked(event.ParticipantLeave, p.user, map[string]string{"mode": p.mode, "reason": "session ended"})
		close(p.done)
	}
	h.parts = nil
	if h.endMsg == "" {
		h.endMsg = msg
		close(h.closed)
	}
	return slices.Clone(h.every)
}

// hubInfo is a snapshot of a hub for listings and prompts.
type hubInfo struct {
	id, owner, host, login, reason, command string
	since                                   time.Time
	state                                   hubState
	granted, watching                       []string
	count                                   int
	cols, rows                              uint32 // the requester's window
	sftp                                    bool   // an SFTP session, not a command
}

// info returns a snapshot.
func (h *hub) info() hubInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	in := hubInfo{
		id: h.id, owner: h.owner, host: h.host.Name, login: h.host.Login, reason: h.reason, command: h.command,
		since: h.since, state: h.state, granted: slices.Clone(h.granted), count: h.pol.Count,
		cols: h.cols, rows: h.rows, sftp: h.sftp != nil,
	}
	for _, p := range h.parts {
		in.watching = append(in.watching, p.user+" ("+p.mode+")")
	}
	return in
}

// registry holds the four-eyes sessions that are pending or running, by
// id. Its lock is a leaf: never held while taking a hub's.
type registry struct {
	mu sync.Mutex
	m  map[string]*hub
}

// add registers h under its id.
func (r *registry) add(h *hub) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*hub{}
	}
	r.m[h.id] = h
}

// remove unregisters h.
func (r *registry) remove(h *hub) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, h.id)
}

// get returns the hub with the given id.
func (r *registry) get(id string) (*hub, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.m[id]
	return h, ok
}

// all returns every registered hub.
func (r *registry) all() []*hub {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*hub, 0, len(r.m))
	for _, h := range r.m {
		out = append(out, h)
	}
	return out
}

// joinList renders names for people: "bob, dave", or "nobody".
func joinList(names []string) string {
	if len(names) == 0 {
		return "nobody"
	}
	return strings.Join(names, ", ")
}

// showInput shows the requester's input to reviewers where the host
// would not: the stdin of a command without a pty (`ssh prod -- sh` fed
// by a pipe) streams to them, sanitized and dimmed.
func (h *hub) showInput(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := &h.views[streamStdin]
	if !v.crlf {
		return
	}
	c := append(v.san.Repen(make([]byte, 0, len(b)+64)), stdinStart...)
	head := len(c)
	c = v.render(c, b)
	if len(c) == head {
		return
	}
	h.shown = penDefault
	h.fanOutLocked(append(c, stdinEnd...), nil)
}
