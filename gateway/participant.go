package gateway

import (
	"io"
	"strconv"
)

// Reviewer modes, given with `join ID --mode MODE`.
const (
	// modeObserver watches only; typing is discarded (hotkeys still work).
	modeObserver = "observer"
	// modePeer may type into the session when the policy's
	// allow_peer_input is set.
	modePeer = "peer"
)

// queueChunks bounds a watcher's output queue. A watcher whose queue is
// full misses chunks (it skips ahead) instead of slowing the session: the
// requester, the host and the recording never wait for a reviewer.
const queueChunks = 64

// participant is one reviewer who approved or joined a four-eyes session.
// Its output queue is filled by the hub (under hub.mu, never blocking)
// and drained by the writer goroutine owned by the reviewer's join.
type participant struct {
	user   string
	key    string // fingerprint of the key the reviewer logged in with
	remote string
	mode   string

	out  chan []byte   // output to write; chunks are shared, never modified
	done chan struct{} // closed by the hub when the session ended

	// Guarded by hub.mu.
	cols, rows uint32 // the reviewer's window, for size notices
	dropped    int64  // bytes skipped in the current lag episode
	lagging    bool
	endMsg     string // set before done is closed: what the reviewer is told
	left       bool   // removed from the hub
}

// newParticipant returns a participant with an empty queue.
func newParticipant(user, key, remote, mode string) *participant {
	return &participant{
		user: user, key: key, remote: remote, mode: mode,
		out:  make(chan []byte, queueChunks),
		done: make(chan struct{}),
	}
}

// offer queues b for the participant without blocking. It reports false
// when the queue is full and b was dropped.
func (p *participant) offer(b []byte) bool {
	select {
	case p.out <- b:
		return true
	default:
		return false
	}
}

// writeOutput copies queued output to w until stop is closed or the
// session ended (then it writes what is still queued). A failed write
// stops copying; the reviewer's connection is going away and the join
// notices.
func (p *participant) writeOutput(w io.Writer, stop <-chan struct{}) {
	for {
		select {
		case b := <-p.out:
			if _, err := w.Write(b); err != nil {
				return
			}
		case <-p.done:
			for {
				select {
				case b := <-p.out:
					if _, err := w.Write(b); err != nil {
						return
					}
				default:
					return
				}
			}
		case <-stop:
			return
		}
	}
}

// skippedNotice is what a watcher sees where output was dropped for it.
func skippedNotice(n int64) []byte {
	return []byte(noticeStart + "you fell behind; " + strconv.FormatInt(n, 10) + " bytes of output skipped]\x1b[0m\r\n")
}
