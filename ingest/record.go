package ingest

import (
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/event"
)

// record is one Kafka message turned into the rows it produces: an event
// row (and, for session.start and session.end, a sessions row), or a
// rejected row when the message does not decode.
type record struct {
	partition int
	offset    int64
	size      int64 // bytes of the message; what the record holds in memory, about
	ev        eventRow
	session   *sessionRow // nil for other event types and for rejects
	rejected  *rejectedRow
}

// eventRow holds the values of one events row (see eventColumns).
type eventRow struct {
	session   string
	seq       uint64
	ts        int64 // unix seconds
	tsNs      int64
	typ       string
	gateway   string
	actor     string
	data      []byte
	meta      string
	class     string
	retention uint16
	version   uint16
	prevHash  string
	hash      string
}

// rejectedRow holds the values of one rejected row (see rejectedColumns).
type rejectedRow struct {
	topic     string
	partition int32
	offset    int64
	err       string
	raw       string
	at        time.Time
}

// maxDateTime is the last second a ClickHouse DateTime holds (2106-02-07).
const maxDateTime = math.MaxUint32

// decoder turns messages into records. Its records' strings share the
// messages' memory (kafka-go gives each message a buffer of its own, which
// ingest never writes to) and one arena for the hashes: one
// allocation per event for the message, where copying every field cost
// seven more and the garbage collector's time for them. Nothing kept past
// a batch may hold these strings; the deriver copies what it keeps. One
// goroutine uses a decoder.
type decoder struct {
	hashes []byte  // arena of stored hashes; a new one when full, the old one lives while its strings do
	limits *limits // nil: class, retention_days and time unchecked
}

// limits is what a decoder checks of an event's retention: its class and
// retention_days a configured pair, its time within the window the
// classes keep, give or take the clocks' skew. The window is computed
// from the clock every limitsEvery events, and again before an event is
// refused for its time (a window gone stale while ingest sat idle must not
// refuse genuine events).
type limits struct {
	classes map[string]uint16
	longest time.Duration // the longest class, plus a day of slack
	now     func() time.Time
	lo, hi  int64 // the window, unix nanoseconds
	n       int   // events since the window was computed
}

// Retention checks' bounds.
const (
	maxClockSkew = 24 * time.Hour // how far ahead of ingest's clock an event may be
	limitsEvery  = 256
)

// newLimits returns the limits of classes (nil for none).
func newLimits(classes map[string]uint16, now func() time.Time) *limits {
	if len(classes) == 0 {
		return nil
	}
	var longest uint16
	for _, days := range classes {
		longest = max(longest, days)
	}
	l := &limits{classes: classes, longest: time.Duration(longest)*24*time.Hour + 24*time.Hour, now: now}
	l.refresh()
	return l
}

func (l *limits) refresh() {
	now := l.now()
	l.lo, l.hi, l.n = now.Add(-l.longest).UnixNano(), now.Add(maxClockSkew).UnixNano(), 0
}

// check reports why e's retention is not one ingest stores.
func (l *limits) check(e *event.Event) error {
	if days, ok := l.classes[e.Class]; !ok || days != e.Retention {
		return fmt.Errorf("%w: class %.64q with retention_days %d is not a configured class", event.ErrInvalid, e.Class, e.Retention)
	}
	if l.n++; l.n >= limitsEvery {
		l.refresh()
	}
	if e.Time < l.lo || e.Time > l.hi {
		l.refresh()
		if e.Time < l.lo || e.Time > l.hi {
			return fmt.Errorf("%w: time %s is outside what the classes keep (%s to %s)", event.ErrInvalid,
				time.Unix(0, e.Time).UTC().Format(time.RFC3339), time.Unix(0, l.lo).UTC().Format(time.RFC3339),
				time.Unix(0, l.hi).UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// hashArenaSize is the size of one arena of hashes: 2048 hashes.
const hashArenaSize = 64 << 10

// hashString returns the stored form of h from the arena: its HashSize
// bytes as they are. Half the size of the hex digits stored before, this
// cut ClickHouse's CPU per event by a fifth (BENCHMARKS.md); readers
// accept both forms (event.ParseStoredHash).
func (d *decoder) hashString(h event.Hash) string {
	if cap(d.hashes)-len(d.hashes) < event.HashSize {
		d.hashes = make([]byte, 0, hashArenaSize)
	}
	start := len(d.hashes)
	d.hashes = append(d.hashes, h[:]...)
	return unsafe.String(&d.hashes[start], event.HashSize)
}

// decode turns a message into a record with a decoder of its own, whose
// arena holds just the record's two hashes (a whole arena per record
// would be retained by each).
func decode(m kafka.Message, now time.Time) record {
	d := decoder{hashes: make([]byte, 0, 2*event.HashSize)}
	return d.decode(m, now)
}

// decode turns the value of a message into a record. It never fails: a
// value that is not a valid event becomes a rejected record.
func (d *decoder) decode(m kafka.Message, now time.Time) record {
	rec := record{partition: m.Partition, offset: m.Offset, size: int64(len(m.Value) + len(m.Key))}
	var e event.Event
	err := event.UnmarshalShared(m.Value, &e) // the wire form, or JSON of an earlier build
	if err == nil {
		err = checkFields(&e)
	}
	if err == nil && d.limits != nil {
		err = d.limits.check(&e)
	}
	if err != nil {
		rec.rejected = &rejectedRow{
			topic:     m.Topic,
			partition: int32(m.Partition),
			offset:    m.Offset,
			err:       err.Error(),
			raw:       string(m.Value),
			at:        now,
		}
		return rec
	}
	rec.ev = eventRow{
		session:   e.Session,
		seq:       e.Seq,
		ts:        e.Time / 1e9,
		tsNs:      e.Time,
		typ:       string(e.Type),
		gateway:   e.Gateway,
		actor:     e.Actor,
		data:      e.Data,
		meta:      e.MetaText(),
		class:     e.Class,
		retention: e.Retention,
		version:   e.V,
		prevHash:  d.hashString(e.Prev),
		hash:      d.hashString(e.Hash),
	}
	if row, ok := sessionRowOf(&e); ok {
		rec.session = new(sessionRow) // on the heap only for the session rows
		*rec.session = row
	}
	return rec
}

// Bounds of the fields a Kafka writer chooses freely (the events are not
// signed one by one). Anything past them could not have come from a
// gateway; such a record goes to the rejected table like one that does
// not decode, so that no later step (the search rebuild's query, the line
// editors keyed by actor) ever sees it.
const (
	maxNameBytes = 255  // gateway, type, class: names from the configuration or the code
	maxActorLen  = 1024 // actor: a user or reviewer name, "gateway", a host's key line at most
)

// checkFields reports why e's fields are not what a gateway produces.
func checkFields(e *event.Event) error {
	switch {
	case !isSessionID(e.Session):
		return fmt.Errorf("%w: session id %.40q is not a UUID", event.ErrInvalid, e.Session)
	case e.Time/1e9 > maxDateTime:
		return fmt.Errorf("%w: time %d is after 2106", event.ErrInvalid, e.Time)
	case len(e.Gateway) > maxNameBytes:
		return fmt.Errorf("%w: gateway of %d bytes (at most %d)", event.ErrInvalid, len(e.Gateway), maxNameBytes)
	case len(e.Type) > maxNameBytes:
		return fmt.Errorf("%w: type of %d bytes (at most %d)", event.ErrInvalid, len(e.Type), maxNameBytes)
	case len(e.Class) > maxNameBytes:
		return fmt.Errorf("%w: class of %d bytes (at most %d)", event.ErrInvalid, len(e.Class), maxNameBytes)
	case len(e.Actor) > maxActorLen:
		return fmt.Errorf("%w: actor of %d bytes (at most %d)", event.ErrInvalid, len(e.Actor), maxActorLen)
	}
	return nil
}

// isSessionID reports whether id has the form of the session ids the
// recorder makes (uuid.NewString): 36 bytes, lower-case hexadecimal
// digits in groups of 8-4-4-4-12. Every recording the product writes,
// gateway streams and approval windows included, has such an id.
func isSessionID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}
