package gateway

import (
	"strconv"
	"sync/atomic"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/gateway/transfer"
	"github.com/foureyes/foureyes/recorder"
)

// execTap decides what of a command without a terminal is stored. For a
// file transfer (transfer.Classify: legacy scp, rsync, git) the client's
// input and the host's stdout are summarised into one event.Transfer,
// not stored; for any other command each output stream is stored up to
// the host's exec_output_cap and the rest summarised into an
// event.OutputSummary. Input of an ordinary command is always stored:
// it is what the host runs. stderr is output in both cases.
//
// A nil *execTap (shells, sessions with a terminal) stores everything.
// Set by connect before the session starts; the copiers call output and
// input concurrently, finish runs once after they ended.
type execTap struct {
	owner string             // the session's user: their input of a transfer is summarised
	xfer  *transfer.Transfer // non-nil: a file transfer
	// proto checks the transfer's protocol (transfer_protocols.go); nil
	// when its program has no checks. scp's names the files: one more
	// event.Transfer each (scope "file"), up to maxFileEvents.
	proto transferProtocol
	files atomic.Int64 // file events recorded
	// stored is set when the transfer stopped looking like one (scp
	// left its protocol, or someone other than the owner typed into
	// it): from then on its bytes are stored like any command's.
	stored   atomic.Bool
	storedBy atomic.Value                    // string: why
	out      [streamErr + 1]*transfer.Capped // by stream (streamOut, streamErr)
}

// newExecTap returns the tap of command remote on h, or nil when
// everything is stored (a shell, or a terminal).
func (sess *clientSession) newExecTap(h *config.Host, remote string) *execTap {
	if remote == "" || sess.pty != nil {
		return nil
	}
	t := &execTap{owner: sess.user.Name}
	if c, ok := transfer.Classify(remote); ok && sess.s.cfg().ExecTransfers(h) == config.TransfersSummarise {
		t.xfer = transfer.NewTransfer(c)
		t.proto = newTransferProtocol(c)
	}
	limit := sess.s.cfg().ExecOutputCap(h)
	for i := range t.out {
		t.out[i] = &transfer.Capped{Cap: limit}
	}
	return t
}

// output records (or summarises) one chunk of the host's stream.
func (t *execTap) output(rec *recorder.Session, stream int, p []byte) {
	if t == nil {
		rec.Output(p)
		return
	}
	if t.xfer != nil && stream == streamOut {
		t.xfer.AddDown(p)
		if t.follow(rec, transfer.Download, p) {
			return
		}
	}
	rec.Output(t.out[stream].Take(p))
}

// input records (or summarises) one chunk typed by actor. Only the
// owner's input to a transfer is summarised: anyone else typing into it
// (a peer reviewer) makes it an ordinary command from then on.
func (t *execTap) input(rec *recorder.Session, actor string, p []byte) {
	if t == nil || t.xfer == nil {
		rec.Input(actor, p)
		return
	}
	t.xfer.AddUp(p)
	if actor != t.owner {
		t.store("input by " + actor)
	}
	if !t.follow(rec, transfer.Upload, p) {
		rec.Input(actor, p)
	}
}

// follow checks a chunk of a transfer flowing in dir against its
// protocol (t.proto) and reports whether it stays summarised; a chunk
// that breaks the protocol makes the rest of the transfer stored.
func (t *execTap) follow(rec *recorder.Session, dir string, p []byte) bool {
	if t.stored.Load() {
		return false
	}
	if t.proto == nil {
		return true
	}
	keep, broken := t.proto.follow(t, rec, dir, p)
	if broken != "" {
		t.store(broken)
		return false
	}
	return keep
}

// store makes the rest of the transfer an ordinary command's bytes.
func (t *execTap) store(why string) {
	if t.stored.CompareAndSwap(false, true) {
		t.storedBy.Store(why)
	}
}

// finish records the summaries, before session.end: the transfer's, and
// one per output stream that went past the cap.
func (t *execTap) finish(sess *clientSession, res exitResult) {
	if t == nil || sess.rec == nil {
		return
	}
	rec := sess.rec
	if t.xfer != nil {
		status := transfer.StatusOK
		switch {
		case res.signal != nil:
			status = transfer.StatusError
		case res.status == statusLost:
			// No exit status (client gone, terminated, host closed), or
			// the program's own 255: ssh cannot tell them apart either.
			status = transfer.StatusIncomplete
		case res.status != 0:
			status = transfer.StatusError
		}
		meta := t.xfer.Meta(status, strconv.Itoa(res.status))
		if t.proto != nil {
			t.proto.finish(t, rec, meta)
		}
		if why, ok := t.storedBy.Load().(string); ok {
			meta["stored"] = why
		}
		if err := rec.Record(event.Transfer, t.owner, nil, meta); err != nil {
			sess.log.Warn("record transfer", "session", rec.ID(), "err", err)
		}
	}
	for i, c := range t.out {
		if !c.Over() {
			continue
		}
		name := "stdout"
		if i == streamErr {
			name = "stderr"
		}
		if err := rec.Record(event.OutputSummary, "", c.Tail(), c.SummaryMeta(name)); err != nil {
			sess.log.Warn("record output summary", "session", rec.ID(), "err", err)
		}
	}
}

// maxFileEvents bounds the file events of one scp transfer: a copy of a
// million small files is counted on its stream event ("files"), not
// recorded a million times.
const maxFileEvents = 10000

// recordFiles records one event.Transfer per file scp named.
func (t *execTap) recordFiles(rec *recorder.Session, files []transfer.SCPFile) {
	for _, f := range files {
		if t.files.Add(1) > maxFileEvents {
			return
		}
		m := f.Meta(t.xfer.Direction)
		m["target"] = t.xfer.Path
		rec.Record(event.Transfer, t.owner, nil, m) //nolint:errcheck // a failure is reported by rec.Done
	}
}
