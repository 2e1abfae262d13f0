package recorder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/foureyes/foureyes/event"
)

// Spool compaction removes expired events that the leading-run expiry
// (expiry.go) cannot reach: those behind an event that is not expired,
// typically a longer class recorded earlier. Without it, a 3-day event
// queued behind a 90-day one would stay on the bastion's disk for as long
// as Kafka is unreachable.
//
// Each segment knows the earliest time one of its events expires
// (segment.expiresAt, kept on append, computed by a scan for segments
// found at startup). An expiry pass rewrites every segment holding an
// expired event: it writes the segment again without the expired event
// frames to "seg-N.log.compact", fsyncs it and renames it over the
// segment, so a crash leaves either the old or the new file. Bytes before
// the ack watermark (in its segment) are copied unchanged, so the stored
// watermark stays a frame boundary; checkpoint frames are always kept.
// Only sealed, fully written segments are rewritten (the syncer no longer
// writes to them); when the segment that takes appends holds an expired
// event, it is sealed and the next pass rewrites it.
//
// Removing events from the middle of a session cannot happen: a session's
// events share one class and their times increase, so its expired events
// are the oldest of the session. Recovery handles a session whose
// session.start went this way like one whose start was acknowledged.
//
// The pass holds moveMu, so the publisher neither reads nor acks
// meanwhile; it bumps expGen, so the publisher drops a batch it read
// before the rewrite and reads again from the watermark.

// compactSuffix names a segment being rewritten.
const compactSuffix = ".compact"

// compactGrace is how long an expired event may wait for its segment's
// rewrite: events expiring within it are removed by one rewrite, so a
// segment is rewritten at most about once per compactGrace. (ClickHouse
// keeps a day up to a day longer than its class; an hour is well within.)
const compactGrace = time.Hour

// noExpiry is segment.expiresAt of a segment none of whose events expire.
const noExpiry = math.MaxInt64

// compactTarget is a segment to rewrite; bytes before keep are copied.
type compactTarget struct {
	seg  *segment
	keep int64
	size int64
}

// compact rewrites the segments that hold events expired at now, adding
// what it removed to sc. moveMu is held.
func (s *spool) compact(now int64, sc *expiryScan) error {
	s.mu.Lock()
	due := now - int64(compactGrace) // segments whose events expired before due are rewritten
	if last := s.segs[len(s.segs)-1]; last.expiresAt < due && last.events > 0 && s.err == nil && !s.closed {
		// It takes appends: seal it, and let the syncer finish it.
		if _, err := s.rotateLocked(); err != nil {
			s.mu.Unlock()
			return err
		}
		s.mu.Unlock()
		s.waitWritten(last)
		s.mu.Lock()
	}
	var targets []compactTarget
	for i, seg := range s.segs {
		if seg.expKnown && seg.expiresAt >= due || i == len(s.segs)-1 {
			continue
		}
		// Checked in this order: synced == size means the syncer no
		// longer opens the file, so f may be read.
		if !seg.sealed || seg.synced != seg.size || seg.f != nil {
			continue // the syncer still writes it; the next pass will do
		}
		keep := int64(segHeaderSize)
		if seg == s.ackSeg {
			keep = max(keep, s.ackOff)
		}
		targets = append(targets, compactTarget{seg: seg, keep: keep, size: seg.size})
	}
	s.mu.Unlock()

	known := map[string]retentionFields{}
	var errs []error
	for _, t := range targets {
		if err := s.rewrite(t, now, known, sc); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitWritten waits, for a few sync rounds at most, until the syncer
// wrote and closed the sealed segment seg.
func (s *spool) waitWritten(seg *segment) {
	for range 3 {
		s.mu.Lock()
		done := seg.synced == seg.size && seg.f == nil
		ch := s.syncedCh
		dead := s.err != nil || s.stopped
		s.mu.Unlock()
		if done || dead {
			return
		}
		s.kickSync()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			return
		}
	}
}

// rewrite removes the event frames of t.seg after t.keep that are expired
// at now, replacing the file when there are any, and records the
// segment's next expiry time.
func (s *spool) rewrite(t compactTarget, now int64, known map[string]retentionFields, sc *expiryScan) error {
	seg := t.seg
	b, err := os.ReadFile(seg.path)
	if err != nil {
		return fmt.Errorf("recorder: spool compaction: %w", err)
	}
	if int64(len(b)) < t.size || t.keep > t.size || t.size < segHeaderSize {
		return fmt.Errorf("recorder: spool compaction: %s holds %d bytes; want %d", seg.path, len(b), t.size)
	}
	if err := parseSegHeader(b, seg.no); err != nil {
		return fmt.Errorf("recorder: spool compaction: %s: %w", seg.path, err)
	}
	out := make([]byte, 0, t.size)
	out = append(out, b[:segHeaderSize]...)
	binary.BigEndian.PutUint32(out[8:], segVersion2)
	next := int64(noExpiry)
	var dropped, padded int64
	for off := int64(segHeaderSize); off < t.size; {
		f, n, err := decodeFrame(b[off:t.size])
		if err != nil {
			return fmt.Errorf("recorder: spool compaction: %s offset %d: %w", seg.path, off, err)
		}
		raw := b[off : off+int64(n)]
		acked := off < t.keep
		off += int64(n)
		if f.kind != kindEvent {
			out = append(out, raw...)
			continue
		}
		rf, ok := known[string(f.session)]
		if !ok {
			rf = retentionOf(f.payload)
			known[string(f.session)] = rf
		}
		switch {
		case !expired(f.time, rf.Retention, now):
			out = append(out, raw...)
			if rf.Retention > 0 {
				next = min(next, f.time+int64(rf.Retention)*day)
			}
		case acked:
			// Behind the watermark (delivered, or expired and reported
			// before): overwritten in place, so the stored watermark
			// keeps pointing at a frame boundary. A session.end leaves a
			// tombstone: recovery must still know the session ended.
			if isSessionEnd(f.payload) {
				out = appendTombFrame(out, f.session, n)
			} else {
				out = appendPadFrame(out, n)
			}
			padded++
		default:
			if isSessionEnd(f.payload) {
				out = appendTombFrame(out, f.session, 0)
			}
			if sc.events == 0 {
				sc.oldest = f.time
			}
			sc.oldest, sc.newest = min(sc.oldest, f.time), max(sc.newest, f.time)
			sc.events++
			sc.bytes += int64(n)
			sc.sessions[string(f.session)] = struct{}{}
			sc.classes[rf.Class] = struct{}{}
			dropped++
		}
	}
	if dropped > 0 || padded > 0 {
		if err := replaceFile(seg.path, out); err != nil {
			return err
		}
		s.expGen++
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seg.expiresAt, seg.expKnown = next, true
	seg.events -= dropped + padded
	if dropped == 0 {
		return nil
	}
	s.bytes -= seg.size - int64(len(out)) // tombstones take a little back
	seg.size, seg.synced = int64(len(out)), int64(len(out))
	// The removed events are settled like acknowledged ones: nothing will
	// publish them, and Drain must not wait for them.
	s.acked += uint64(dropped)
	if s.acked >= s.appended {
		s.oldest = 0
	}
	close(s.ackedCh)
	s.ackedCh = make(chan struct{})
	return nil
}

// isSessionEnd reports whether the encoded event is a session.end.
func isSessionEnd(payload []byte) bool {
	if !bytes.Contains(payload, []byte(event.SessionEnd)) {
		return false // most events: no need to decode
	}
	h, err := event.PeekHeader(payload)
	return err == nil && h.Type == event.SessionEnd
}

// replaceFile atomically replaces path with b: it writes b to
// path+compactSuffix, fsyncs it, renames it over path and fsyncs the
// directory.
func replaceFile(path string, b []byte) error {
	tmp := path + compactSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("recorder: spool compaction: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("recorder: spool compaction: replace %s: %w", path, err)
	}
	return nil
}

// removeCompactLeftovers deletes the temporary files of rewrites that a
// crash interrupted; the segments they were to replace are intact.
func removeCompactLeftovers(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("recorder: spool: %w", err)
	}
	for _, e := range ents {
		if name := e.Name(); strings.HasPrefix(name, segPrefix) && strings.HasSuffix(name, segSuffix+compactSuffix) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("recorder: spool: %w", err)
			}
		}
	}
	return nil
}
