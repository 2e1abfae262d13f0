package gateway

import (
	"strconv"
	"sync/atomic"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/recorder"
)

// recCounts count a session's bytes for recording.failed: all bytes
// forwarded, and those forwarded after the recording failed. Copiers add
// to them; reports read them.
type recCounts struct {
	inFwd, outFwd   atomic.Int64
	inLost, outLost atomic.Int64
}

// lossCounts returns the session's counts, including input that peers
// of a four-eyes session sent to the host.
func (sess *clientSession) lossCounts() lossCounts {
	c := lossCounts{
		inLost: sess.rc.inLost.Load(), outLost: sess.rc.outLost.Load(),
		inFwd: sess.rc.inFwd.Load(), outFwd: sess.rc.outFwd.Load(),
	}
	if sess.hub != nil {
		c.inFwd += sess.hub.fwdIn.Load()
	}
	return c
}

// unrecordedWarning is the line a best-effort session's user sees when
// its recording failed.
func unrecordedWarning(err error) string {
	return "recording failed (" + err.Error() + "); this session is no longer recorded"
}

// lose logs a failed recording loudly and returns its loss report, not
// yet queued.
func (sess *clientSession) lose(rec *recorder.Session, h *config.Host, command, policy string) *recordingLoss {
	cause := rec.Err()
	reason := "unknown"
	if cause != nil {
		reason = cause.Error()
	}
	sess.s.failures.Add(1)
	l := &recordingLoss{
		session: rec.ID(), host: h.Name, user: sess.user.Name, command: command, policy: policy,
		reason: reason, lostFrom: rec.NextSeq(), counts: sess.lossCounts,
	}
	what := "session terminated"
	if policy == config.OnFailureBestEffort {
		what = "session continues UNRECORDED (best_effort)"
	}
	sess.log.Error("RECORDING FAILED: "+what, "session", l.session, "host", l.host, "policy", policy, "lost_from_seq", l.lostFrom, "err", cause)
	return l
}

// reportStrict records the failure of a recording whose session was
// ended for it (strict), once its copiers stopped.
func (sess *clientSession) reportStrict(rec *recorder.Session, h *config.Host, command string) {
	l := sess.lose(rec, h, command, config.OnFailureStrict)
	l.end()
	sess.s.losses.add(l)
}

// bestEffortLoss starts the report of a best-effort session going on
// unrecorded and tells its user.
func (sess *clientSession) bestEffortLoss(rec *recorder.Session, h *config.Host, command string) *recordingLoss {
	sess.say(unrecordedWarning(rec.Err()))
	l := sess.lose(rec, h, command, config.OnFailureBestEffort)
	sess.s.unrecorded.Add(1)
	sess.s.losses.add(l)
	return l
}

// endBestEffort reports the final counts of a best-effort session that
// ran on unrecorded and adds them to its session.end meta.
func (sess *clientSession) endBestEffort(l *recordingLoss, meta map[string]string) {
	l.end()
	sess.s.unrecorded.Add(-1)
	sess.s.losses.add(l)
	c := l.counts()
	meta["on_failure"] = config.OnFailureBestEffort
	meta["bytes_in_lost"] = strconv.FormatInt(c.inLost, 10)
	meta["bytes_out_lost"] = strconv.FormatInt(c.outLost, 10)
}
