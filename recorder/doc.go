// Package recorder turns live SSH sessions into events, makes them durable
// in a local spool, and publishes the spool to Kafka.
//
// # Usage
//
//	rec, err := recorder.New(recorder.Config{Gateway: id, SpoolDir: dir, Logger: log})
//	go rec.Publish(ctx, recorder.PublisherConfig{Brokers: brokers, Topic: topic})
//	rec.OnExpire(func(r recorder.ExpiryReport) { /* record r.Meta() as spool.expired */ })
//
//	s, err := rec.Start(recorder.StartInfo{Kind: "shell", User: "alice", Host: "db1"})
//	s.Output(fromHost)          // batched into chunks
//	s.Input("alice", fromAlice) // one event per call
//	s.Resize(120, 40)
//	s.WaitOutput(stop)          // after each read: blocks while the recording is behind
//	<-s.Done()                  // fail-closed: recording failed (s.Err() says why)
//	err = s.End(exitStatus, map[string]string{"approvers": "bob"})
//
//	rec.Drain(shutdownCtx) // optional: wait until Kafka has everything
//	rec.Close()
//
// # Data flow
//
//	gateway ──Output/Input/Resize/Record/End──> Session ──append──> spool (memory)
//	                                                                   │ syncer: write + fsync (group commit)
//	                                                                   v
//	                                                        segment files (durable)
//	                                                                   │ Publish: read durable frames
//	                                                                   v
//	                                                 Kafka (key = session id, acks=all)
//	                                                                   │ ack → watermark file, delete segments
//
// A Recorder owns one spool directory. Start opens a Session and writes
// session.start; the gateway then reports what happens and finally calls
// End. Each Session seals its events with an event.Chain (seq from 0,
// gapless, prev/hash) under its own mutex, so the order of events is the
// order of the calls, and appends the encoded frame to the spool in memory:
// nothing on the keystroke or output path waits for the disk or the
// network. (Appends wait only when more than 32 MiB are waiting for the
// disk, which then is far behind.) The gateway's copiers wait for Kafka
// only through WaitOutput and WaitInput, when the session's recording
// fell behind (backpressure.go).
//
// Output is batched: bytes collect into a chunk that becomes one output
// event at ChunkBytes, or ChunkInterval after the chunk's first byte (a
// timer), or before any other event of the session, whichever comes first.
// Under bulk output (chunks that fill before their timer) the bound
// doubles per chunk up to BulkChunkBytes, and returns to ChunkBytes when
// a chunk is cut by its timer or by another event (output.go).
// The event time is the time of the first byte. Input, Resize and Record
// write one event per call.
//
// # Spool format
//
// The spool directory holds segment files seg-NNNNNNNN.log (numbers
// increase, never reused), the ack watermark file "acked", and a LOCK file
// (flock: one process per spool, else ErrSpoolLocked).
//
// A segment is a 16-byte header ("4EYSPOOL", u32 version 1, or 2 once
// compaction rewrote it, u32 segment number) followed by frames:
//
//	u32 length | u32 CRC-32C | body            (big-endian; length and CRC cover the body)
//	body = 'E' | i64 time | u8 len(session) | session | event   (event.Marshal: the wire form)
//	     | 'K' | checkpoint part                          (checkpoint.go)
//	     | 'C' | checkpoint JSON                          (earlier builds; read only)
//	     | 'P' | zeros                                    (padding, from compaction)
//	     | 'T' | u8 len(session) | session | zeros        (tombstone of an expired session.end)
//
// The event's wire form (event/wire.go: the canonical encoding plus the
// hash, every field raw bytes) is exactly what goes to Kafka as the
// message value; the session id and time in front of it give the message
// key and timestamp without decoding it. Every segment starts with a
// checkpoint — one or more 'K' frames of at most 1 MiB each: the state of
// every session open at that point (id, start fields, next seq, last
// hash, last time, byte counts). Every field of that state is bounded
// (summary fields at 1 KiB; a longer exec command is summarised by its
// length and SHA-256, the whole of it stays in session.start), so what a
// user sends cannot make a checkpoint, and so a new segment, impossible
// to write. A segment rotates at 16 MiB (at most SpoolMaxBytes/8, so
// acknowledged data can always free space).
//
// The watermark file holds the position (segment, offset) of the first
// frame Kafka has not acknowledged, with a CRC; it is rewritten after every
// acknowledged batch and not fsync'd.
//
// # Durability
//
//   - The syncer goroutine writes appended frames and fsyncs the segment
//     (and the directory after creating one) at least every SyncInterval,
//     and earlier when 1 MiB is waiting or someone waits: one fsync covers
//     every frame appended before it (group commit). No fsync per event.
//   - Session.End returns once the fsync covering session.end is done.
//     Other events are durable within SyncInterval (at most 100ms).
//   - Publish reads only fsync'd frames, in spool order, sends up to 4096
//     events (about 900 KiB) per WriteMessages call and advances the
//     watermark when Kafka acknowledged all of them (acks=all). Failed
//     calls are retried forever with backoff 100ms..5s, resending only the
//     failed partitions' messages: each partition gets one record batch per
//     call, so a session's events are never reordered.
//   - A segment is deleted when the watermark has moved past it, i.e. every
//     frame in it was acknowledged. A lost or torn watermark only causes
//     resending; ingest deduplicates by (session, seq).
//   - A session whose backlog (events Kafka has not acknowledged) fills
//     its fair share of the spool is held back, not failed: WaitOutput
//     and WaitInput block the gateway's copiers until it drained
//     (backpressure.go). Only when Kafka takes nothing for StallTimeout
//     does a held-back session fail with ErrSpoolFull.
//   - At SpoolMaxBytes an append fails with ErrSpoolFull and the session's
//     Done closes with it; the gateway chooses strict or best effort. A
//     write or fsync error is sticky: every open session's Done closes with
//     it. End on such a session still writes a session.end marked
//     interrupted (the size limit does not apply to it), continuing the
//     chain: a refused event's seq is not consumed.
//
// # Expiry
//
// Events Kafka did not take within their retention class (event time +
// Retention days before now) are dropped instead of being sent late: at
// New and every minute of the recorder's clock, a pass advances the
// watermark over the leading run of such events, as an ack would
// (segments passed are deleted, Publish skips them and gives up a batch
// it is retrying). It stops at the first event that is not expired; the
// expired events behind it are removed by rewriting their segments (see
// compact.go: padding keeps offsets before the watermark, a tombstone
// replaces an expired session.end). Each pass that drops events logs at ERROR, counts them in Stats and
// hands an ExpiryReport to the handler set with OnExpire, which the
// gateway records as a spool.expired event. Drain counts expired events
// as done. The publisher and the pass take turns through one mutex, so
// the watermark only moves forward.
//
// # Recovery
//
// New reads every segment: frames are checked by length and CRC, and a
// torn tail of the newest segment (a write the crash cut short, never
// fsync'd) is truncated at the last good frame. Any other unreadable tail
// — in an older segment, or a complete frame that fails its CRC — is
// copied to seg-N.log.tail-OFFSET and logged at ERROR before the
// truncation: recovery never silently discards bytes that may have been
// fsync'd. A frame larger than this build writes is accepted when its
// bytes are all there and its CRC matches (an earlier build's oversized
// checkpoint). A segment torn before its header is complete is removed;
// one with a bad header is renamed *.corrupt. Frames at or after the
// watermark are queued for Publish again.
//
// Open sessions are rebuilt from the checkpoint at the head of the oldest
// segment plus every event after it (from the newest run of consecutive
// segment numbers, should an old segment reappear after a crash). This is
// why a session's state survives the deletion of the segments holding its
// start and earlier events: every later segment repeats it in its
// checkpoint, and only the oldest segments are ever deleted.
//
// For every session without a session.end, New writes one with Meta
// interrupted=true, last_durable_seq=N (the last event that reached the
// disk), exit_status=-1, the start fields and counters, and the hash chain
// continued from event N (event.Resume), so event.Verify passes over
// start..end. New returns when those ends are durable. Close does the same
// for sessions the gateway did not end, after flushing their output.
package recorder
