package gateway

import (
	"sync"
	"sync/atomic"
	"time"
)

// A host may keep an ended session's channel open: OpenSSH's sshd ignores
// the hangup signal for a root login, and a command without a terminal
// that ignores SIGHUP (`trap '' HUP`, `nohup`) runs on after its pipes
// closed. closeUpstream waits channelCloseWait for the host's close; when
// it does not come (the fallback):
//
//   - the session's session.end says so (meta hostChannelOpenKey, and
//     hostChannelActionKey: the login was closed, or retired because
//     sibling channels still use it), so that `audit show` can tell the
//     auditor that a process may still run on the host;
//   - the login serves no new channel (retired) and closes with its last
//     sibling; with no sibling it is closed at once;
//   - the output copiers turn to discarding: what the host still sends
//     is neither recorded (the session's chain ends with its session.end)
//     nor forwarded to anyone, only counted (Stats.AfterEndOutputBytes)
//     and logged with its byte count when the channel finally closes.

// session.end meta of a session whose channel the host kept open.
const (
	// hostChannelOpenKey is "true" when the host had not closed the
	// session's channel channelCloseWait after the bastion closed it.
	hostChannelOpenKey = "host_channel_open"
	// hostChannelActionKey says what the bastion did then:
	// hostChannelLoginClosed or hostChannelLoginRetired.
	hostChannelActionKey = "host_channel_action"
	// hostChannelLoginClosed: no other channel used the login; it was
	// closed, which ends the channel on the host side too.
	hostChannelLoginClosed = "login_closed"
	// hostChannelLoginRetired: other channels of the client connection
	// still used the login; it serves no new channel and closes with the
	// last of them, the channel staying open on the host until then.
	hostChannelLoginRetired = "login_retired"
)

// hostChannel is the state of a session's channel on the host as seen by
// the output copiers and closeUpstream. The zero value is a channel whose
// output is recorded and forwarded.
type hostChannel struct {
	// mu is read-held by an output copier while it records and shows one
	// chunk, write-held by closeUpstream to turn the copiers to
	// discarding: once leave returns, no copier records again, so
	// session.end (and the summaries before it) race no copier.
	mu       sync.RWMutex
	leftOpen bool
	bytes    atomic.Int64 // output read and discarded after leave
}

// handle reports whether a chunk just read is to be recorded and shown;
// when it is, the caller calls done after it did so. A chunk read after
// leave is counted and dropped here.
func (hc *hostChannel) handle(s *Server, n int) bool {
	hc.mu.RLock()
	if !hc.leftOpen {
		return true
	}
	hc.mu.RUnlock()
	hc.bytes.Add(int64(n))
	s.afterEndOut.Add(int64(n))
	return false
}

// done ends the handling of a chunk handle let through.
func (hc *hostChannel) done() { hc.mu.RUnlock() }

// leave turns the copiers to discarding, after waiting for a chunk being
// recorded (handle ... done holds no lock across a network write).
func (hc *hostChannel) leave() {
	hc.mu.Lock()
	hc.leftOpen = true
	hc.mu.Unlock()
}

// closeWaitOf returns how long closeUpstream waits for the host's close.
func (s *Server) closeWaitOf() time.Duration {
	if d := time.Duration(s.closeWait.Load()); d > 0 {
		return d
	}
	return channelCloseWait
}

// noteLeftOpen adds the fallback's action (closeUpstream's result; ""
// when the host closed the channel) to a session.end meta.
func noteLeftOpen(meta map[string]string, action string) {
	if action == "" {
		return
	}
	meta[hostChannelOpenKey] = "true"
	meta[hostChannelActionKey] = action
}

// watchLeftOpen counts a channel left open on the host until it closes
// (outDone: its copiers ended), then logs how much output it still sent.
func (sess *clientSession) watchLeftOpen(host string, outDone <-chan struct{}) {
	s := sess.s
	s.keptOpenNow.Add(1)
	left := time.Now()
	s.goTracked(func() {
		<-outDone
		s.keptOpenNow.Add(-1)
		sess.log.Warn("host closed the channel it had kept open after the session ended",
			"host", host, "after", time.Since(left).Round(time.Millisecond), "discarded_output_bytes", sess.hostCh.bytes.Load())
	})
}
