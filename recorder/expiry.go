package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/foureyes/foureyes/event"
)

// Spool expiry: events that could not be delivered to Kafka for longer
// than their retention class are past their retention everywhere else, so
// the spool drops them instead of sending them late.
//
// A pass runs at New (after recovery) and then every expiryInterval of the
// recorder's clock. It reads the durable frames at the ack watermark and
// advances the watermark over the leading run of expired events (event
// time + Retention days before now), exactly as a Kafka ack would:
// segments the watermark passed are deleted and the publisher skips the
// events. The run stops at the first event that is not expired; the
// expired events behind it are removed by rewriting their segments
// (compact.go). Events without a retention (0 days) never expire here,
// nor do those of a session whose first event read by a pass does not
// decode (the class is read once per session and pass: every event of a
// session carries the session's class).
const (
	expiryInterval  = time.Minute
	expiryReadBlock = 256 << 10
	day             = int64(24 * time.Hour)

	// ExpiryReason is the reason given in every ExpiryReport.
	ExpiryReason = "undeliverable for longer than its retention class"

	// maxReportSessionIDs bounds ExpiryReport.Meta's session_ids.
	maxReportSessionIDs = 100
	// maxPendingReports bounds the reports kept while no handler is set.
	maxPendingReports = 100
)

// ExpiryReport describes one expiry pass that dropped events from the
// spool: what was dropped and why. The gateway records it as a
// spool.expired event in its own stream (see Recorder.OnExpire).
type ExpiryReport struct {
	// At is when the pass ran (the recorder's clock).
	At time.Time
	// Events and Bytes count the dropped event frames and their size in
	// the spool.
	Events int64
	Bytes  int64
	// SessionIDs are the sessions that lost events, sorted.
	SessionIDs []string
	// Oldest and Newest are the times of the oldest and newest dropped
	// events.
	Oldest, Newest time.Time
	// Classes are the retention classes of the dropped events, sorted.
	Classes []string
	// Reason is ExpiryReason.
	Reason string
}

// Meta returns the report as the Meta of a spool.expired event: sessions
// (count), events, bytes, oldest and newest (RFC 3339, UTC, nanoseconds),
// classes (comma-separated), reason, and session_ids (comma-separated,
// the first 100; session_ids_truncated=true when there were more).
func (r ExpiryReport) Meta() map[string]string {
	ids := r.SessionIDs
	m := map[string]string{
		"sessions": strconv.Itoa(len(r.SessionIDs)),
		"events":   strconv.FormatInt(r.Events, 10),
		"bytes":    strconv.FormatInt(r.Bytes, 10),
		"oldest":   r.Oldest.UTC().Format(time.RFC3339Nano),
		"newest":   r.Newest.UTC().Format(time.RFC3339Nano),
		"classes":  strings.Join(r.Classes, ","),
		"reason":   r.Reason,
	}
	if len(ids) > maxReportSessionIDs {
		ids = ids[:maxReportSessionIDs]
		m["session_ids_truncated"] = "true"
	}
	m["session_ids"] = strings.Join(ids, ",")
	return m
}

// expired reports whether an event of time t (unix ns) kept for days is
// past its retention at now.
func expired(t int64, days uint16, now int64) bool {
	if days == 0 || t > now {
		return false
	}
	age := now - t
	return age < 0 || age > int64(days)*day // age < 0: overflow, t is ancient
}

// expiry is the Recorder's expiry schedule and report delivery.
type expiry struct {
	mu      sync.Mutex // held for a whole pass, including the handler call
	timer   timer
	stopped bool
	handler func(ExpiryReport)
	pending []ExpiryReport // reports made while no handler was set
}

// OnExpire sets f to receive every ExpiryReport, starting with those made
// before the call (at New, recovery may already have expired events). f
// runs on the expiry goroutine, one report at a time, and should record
// the report as a spool.expired event in the gateway's own stream:
//
//	rec.OnExpire(func(rep recorder.ExpiryReport) { gw.Record(event.SpoolExpired, "", nil, rep.Meta()) })
//
// f must not call Close. Until a handler is set, up to 100 reports are
// kept; every report is also logged at ERROR.
func (r *Recorder) OnExpire(f func(ExpiryReport)) {
	r.exp.mu.Lock()
	defer r.exp.mu.Unlock()
	r.exp.handler = f
	pending := r.exp.pending
	r.exp.pending = nil
	if f == nil {
		return
	}
	for _, rep := range pending {
		f(rep)
	}
}

// startExpiry schedules the periodic expiry pass.
func (r *Recorder) startExpiry() {
	r.exp.mu.Lock()
	defer r.exp.mu.Unlock()
	r.exp.timer = r.clock.AfterFunc(expiryInterval, r.expiryTick)
}

// stopExpiry stops the schedule and waits for a running pass.
func (r *Recorder) stopExpiry() {
	r.exp.mu.Lock()
	defer r.exp.mu.Unlock()
	r.exp.stopped = true
	if r.exp.timer != nil {
		r.exp.timer.Stop()
	}
}

// expiryTick runs one scheduled pass and schedules the next.
func (r *Recorder) expiryTick() {
	r.exp.mu.Lock()
	defer r.exp.mu.Unlock()
	if r.exp.stopped {
		return
	}
	r.expireLocked()
	r.exp.timer.Reset(expiryInterval)
}

// expire runs one pass now.
func (r *Recorder) expire() {
	r.exp.mu.Lock()
	defer r.exp.mu.Unlock()
	r.expireLocked()
}

// expireLocked runs one pass, logs and delivers its report. exp.mu is held.
func (r *Recorder) expireLocked() {
	rep, err := r.spool.expire(r.clock.Now())
	if err != nil {
		r.log.Error("spool expiry", "err", err)
	}
	if rep == nil {
		return
	}
	r.log.Error("dropped spooled events that Kafka did not take within their retention class",
		"events", rep.Events, "bytes", rep.Bytes, "sessions", len(rep.SessionIDs),
		"oldest", rep.Oldest, "newest", rep.Newest, "classes", strings.Join(rep.Classes, ","), "reason", rep.Reason)
	if r.exp.handler != nil {
		r.exp.handler(*rep)
		return
	}
	if len(r.exp.pending) == maxPendingReports {
		r.log.Error("no handler takes spool expiry reports; forgetting the oldest", "kept", maxPendingReports)
		r.exp.pending = r.exp.pending[1:]
	}
	r.exp.pending = append(r.exp.pending, *rep)
}

// expire drops the leading run of expired durable events at the
// watermark, then the expired events behind it (compact). It returns a
// report when it dropped any; an error after a report means the watermark
// could not be stored or a segment not rewritten (a restart or the next
// pass expires those events again).
func (s *spool) expire(at time.Time) (*ExpiryReport, error) {
	s.moveMu.Lock()
	defer s.moveMu.Unlock()
	now := at.UnixNano()
	sc, err := s.scanExpired(now)
	if sc.events > 0 {
		next := sc.next
		if next == 0 {
			next = now // every durable event went; the rest is seconds old
		}
		s.expGen++
		err = errors.Join(err, s.advance(sc.seg, sc.off, sc.events, next))
	}
	// Then the expired events behind the first one kept (compact.go).
	err = errors.Join(err, s.compact(now, &sc))
	if sc.events == 0 {
		return nil, err
	}
	s.expired.Add(int64(sc.events))
	s.expiredBytes.Add(sc.bytes)
	rep := &ExpiryReport{
		At: at, Events: int64(sc.events), Bytes: sc.bytes,
		Oldest: time.Unix(0, sc.oldest), Newest: time.Unix(0, sc.newest),
		Reason: ExpiryReason,
	}
	for id := range sc.sessions {
		rep.SessionIDs = append(rep.SessionIDs, id)
	}
	sort.Strings(rep.SessionIDs)
	for c := range sc.classes {
		rep.Classes = append(rep.Classes, c)
	}
	sort.Strings(rep.Classes)
	return rep, err
}

// expiryScan is the result of scanExpired.
type expiryScan struct {
	seg            *segment // position after the expired run
	off            int64
	events         uint64
	bytes          int64
	oldest, newest int64
	next           int64 // time of the first kept event; 0 if none is durable
	sessions       map[string]struct{}
	classes        map[string]struct{}
}

// retentionFields are the fields of an event that expiry reads.
type retentionFields struct {
	Class     string
	Retention uint16
}

// retentionOf returns the retention fields of an encoded event; one that
// does not decode never expires.
func retentionOf(payload []byte) retentionFields {
	h, err := event.PeekHeader(payload)
	if err != nil {
		return retentionFields{}
	}
	return retentionFields{Class: h.Class, Retention: h.Retention}
}

// scanExpired reads durable frames from the watermark up to the first
// event that is not expired at now. moveMu is held, so no segment it
// reads is deleted meanwhile.
func (s *spool) scanExpired(now int64) (expiryScan, error) {
	seg, off := s.ackPosition()
	sc := expiryScan{seg: seg, off: off, sessions: map[string]struct{}{}, classes: map[string]struct{}{}}
	known := map[string]retentionFields{}
	var w window
	defer w.close()
	for {
		synced, complete, next := s.readable(seg)
		if off < segHeaderSize {
			if synced < segHeaderSize {
				return sc, nil
			}
			hdr, err := w.at(seg, 0, segHeaderSize, synced)
			if err != nil {
				return sc, err
			}
			if err := parseSegHeader(hdr, seg.no); err != nil {
				return sc, err
			}
			off = segHeaderSize
		}
		for off < synced {
			h, err := w.at(seg, off, frameHeaderSize, synced)
			if err != nil {
				return sc, err
			}
			total := frameHeaderSize + int64(binary.BigEndian.Uint32(h))
			b, err := w.at(seg, off, total, synced)
			if err != nil {
				return sc, err
			}
			f, _, err := decodeFrame(b)
			if err != nil {
				return sc, fmt.Errorf("recorder: spool expiry: %s offset %d: %w", seg.path, off, err)
			}
			if f.kind == kindEvent {
				// Every event of a session has the session's class, so
				// the JSON is decoded once per session.
				rf, ok := known[string(f.session)]
				if !ok {
					rf = retentionOf(f.payload)
					known[string(f.session)] = rf
				}
				if !expired(f.time, rf.Retention, now) {
					sc.next = f.time
					return sc, nil
				}
				if sc.events == 0 {
					sc.oldest = f.time
				}
				sc.oldest, sc.newest = min(sc.oldest, f.time), max(sc.newest, f.time)
				sc.events++
				sc.bytes += total
				sc.sessions[string(f.session)] = struct{}{}
				sc.classes[rf.Class] = struct{}{}
			}
			off += total
			sc.seg, sc.off = seg, off
		}
		if !complete || next == nil {
			return sc, nil
		}
		seg, off = next, 0
		sc.seg, sc.off = seg, off
	}
}

// window reads a segment in blocks for scanExpired.
type window struct {
	seg  *segment
	f    *os.File
	base int64
	buf  []byte
}

// at returns bytes [off, off+n) of seg, of which limit bytes are durable.
// The slice is valid until the next call.
func (w *window) at(seg *segment, off, n, limit int64) ([]byte, error) {
	if w.seg != seg {
		w.close()
		f, err := os.Open(seg.path)
		if err != nil {
			return nil, fmt.Errorf("recorder: spool expiry: %w", err)
		}
		w.seg, w.f, w.buf = seg, f, w.buf[:0]
	}
	if off >= w.base && off+n <= w.base+int64(len(w.buf)) {
		return w.buf[off-w.base : off-w.base+n], nil
	}
	if off+n > limit || n > maxFrameBody+frameHeaderSize {
		return nil, fmt.Errorf("recorder: spool expiry: %s offset %d: %w", seg.path, off, errFrameCorrupt)
	}
	size := min(max(n, expiryReadBlock), limit-off)
	if int64(cap(w.buf)) < size {
		w.buf = make([]byte, size)
	}
	w.buf = w.buf[:size]
	if _, err := w.f.ReadAt(w.buf, off); err != nil {
		w.buf = w.buf[:0]
		return nil, fmt.Errorf("recorder: spool expiry: read %s: %w", seg.path, err)
	}
	w.base = off
	return w.buf[:n], nil
}

// close releases the file.
func (w *window) close() {
	if w.f != nil {
		w.f.Close()
		w.f, w.seg = nil, nil
	}
}

// restartIfExpired moves the reader to the watermark when an expiry pass
// moved it since the reader was positioned. moveMu is held.
func (r *spoolReader) restartIfExpired() {
	if r.gen == r.s.expGen {
		return
	}
	r.closeFile()
	r.seg, r.off = r.s.ackPosition()
	r.gen = r.s.expGen
}
