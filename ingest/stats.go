package ingest

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of an Ingester's counters since New. Counters count
// work done, including rows inserted again after a retry or a redelivery.
type Stats struct {
	// Fetched is the number of Kafka messages received.
	Fetched uint64
	// Events is the number of event rows ClickHouse acknowledged.
	Events uint64
	// Sessions is the number of sessions rows ClickHouse acknowledged.
	Sessions uint64
	// Commands and Participants are the numbers of search rows
	// (commands and participants tables) ClickHouse acknowledged.
	Commands, Participants uint64
	// Rejected is the number of messages that did not decode and went to
	// the rejected table.
	Rejected uint64
	// SearchUnusable is the number of sessions whose search rows ingest
	// stopped deriving because rebuilding them from their stored events
	// failed on what those events hold (not an outage); SearchSkipped the
	// number of events whose search rows were not derived (events of such
	// sessions, and events that do not follow their session's hash chain).
	// The events themselves are stored.
	SearchUnusable, SearchSkipped uint64
	// Batches is the number of batches fully inserted.
	Batches uint64
	// InsertErrors is the number of failed insert attempts (each retried).
	InsertErrors uint64
	// CommitErrors is the number of failed offset commits (the messages are
	// redelivered; the rows deduplicate).
	CommitErrors uint64
	// FetchErrors is the number of failed Kafka fetches (each retried).
	FetchErrors uint64
	// Pending is the number of fetched messages not yet committed; 0 when
	// not running.
	Pending int64
	// LastCommit is when offsets were last committed; zero before the first.
	LastCommit time.Time
	// PeakBytes is the most bytes of events held in memory at once
	// between fetch and an acknowledged insert: at most BatchBytes (or one
	// event, if a single event is larger).
	PeakBytes int64
	// Lag is the consumer lag the Kafka reader last observed (messages
	// between the fetch position and the high-water mark); 0 when not running.
	Lag int64
}

// counters are the live values behind Stats.
type counters struct {
	fetched, events, sessions, rejected, batches atomic.Uint64
	commands, participants                       atomic.Uint64
	searchUnusable, searchSkipped                atomic.Uint64
	insertErrors, commitErrors, fetchErrors      atomic.Uint64
	pending                                      atomic.Int64
	lastCommit                                   atomic.Int64 // unix ns
}

// Stats returns a snapshot of the counters.
func (in *Ingester) Stats() Stats {
	c := &in.counters
	s := Stats{
		Fetched:        c.fetched.Load(),
		Events:         c.events.Load(),
		Sessions:       c.sessions.Load(),
		Rejected:       c.rejected.Load(),
		Commands:       c.commands.Load(),
		Participants:   c.participants.Load(),
		Batches:        c.batches.Load(),
		SearchUnusable: c.searchUnusable.Load(),
		SearchSkipped:  c.searchSkipped.Load(),
		InsertErrors:   c.insertErrors.Load(),
		CommitErrors:   c.commitErrors.Load(),
		FetchErrors:    c.fetchErrors.Load(),
		Pending:        c.pending.Load(),
	}
	if ns := c.lastCommit.Load(); ns != 0 {
		s.LastCommit = time.Unix(0, ns)
	}
	if b := in.budget.Load(); b != nil {
		s.PeakBytes = b.peakBytes()
	}
	if r := in.reader.Load(); r != nil {
		s.Lag = r.Stats().Lag
	}
	return s
}
