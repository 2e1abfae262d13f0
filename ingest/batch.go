package ingest

// batch accumulates the rows of consecutive records until they are
// inserted, and the offsets to commit afterwards.
type batch struct {
	events   eventCols
	sessions []sessionRow
	// latest maps a session id to its row in sessions: only the row with
	// the highest version per session is inserted.
	latest   map[string]int
	rejected []rejectedRow
	// commands and participants are the search rows derived from events
	// (derive.go), filled once before the first insert attempt.
	commands     []commandRow
	participants []participantRow
	// offsets maps a partition to the highest offset seen in it.
	offsets map[int]int64
	// n counts the records added; bytes their size (recordSize).
	n     int
	bytes int64
	// done is closed when the insert of a submitted batch ended, err
	// (set before) saying how (pipeline.go).
	done chan struct{}
	err  error
}

func newBatch(capacity int) *batch {
	return &batch{
		events:  newEventCols(capacity),
		latest:  map[string]int{},
		offsets: map[int]int64{},
	}
}

// add appends the rows of rec.
func (b *batch) add(rec *record) {
	b.n++
	b.bytes += rec.size
	if off, ok := b.offsets[rec.partition]; !ok || rec.offset > off {
		b.offsets[rec.partition] = rec.offset
	}
	if rec.rejected != nil {
		b.rejected = append(b.rejected, *rec.rejected)
		return
	}
	b.events.add(&rec.ev)
	if s := rec.session; s != nil {
		if i, ok := b.latest[s.session]; ok {
			if s.version >= b.sessions[i].version {
				b.sessions[i] = *s
			}
			return
		}
		b.latest[s.session] = len(b.sessions)
		b.sessions = append(b.sessions, *s)
	}
}

// reset empties b, keeping its allocations.
func (b *batch) reset() {
	b.events.reset()
	clear(b.sessions)
	b.sessions = b.sessions[:0]
	clear(b.latest)
	clear(b.rejected)
	b.rejected = b.rejected[:0]
	clear(b.offsets)
	clear(b.commands)
	b.commands = b.commands[:0]
	clear(b.participants)
	b.participants = b.participants[:0]
	b.n, b.bytes = 0, 0
	b.done, b.err = nil, nil
}

// eventCols holds the events rows column by column, in the order of
// eventColumns, for the column-wise batch append.
type eventCols struct {
	session   []string
	seq       []uint64
	ts        []int64
	tsNs      []int64
	typ       []string
	gateway   []string
	actor     []string
	data      [][]byte
	meta      []string
	class     []string
	retention []uint16
	version   []uint16
	prevHash  []string
	hash      []string
}

func newEventCols(n int) eventCols {
	return eventCols{
		session: make([]string, 0, n), seq: make([]uint64, 0, n), ts: make([]int64, 0, n), tsNs: make([]int64, 0, n),
		typ: make([]string, 0, n), gateway: make([]string, 0, n), actor: make([]string, 0, n), data: make([][]byte, 0, n),
		meta: make([]string, 0, n), class: make([]string, 0, n), retention: make([]uint16, 0, n), version: make([]uint16, 0, n),
		prevHash: make([]string, 0, n), hash: make([]string, 0, n),
	}
}

func (c *eventCols) add(r *eventRow) {
	c.session = append(c.session, r.session)
	c.seq = append(c.seq, r.seq)
	c.ts = append(c.ts, r.ts)
	c.tsNs = append(c.tsNs, r.tsNs)
	c.typ = append(c.typ, r.typ)
	c.gateway = append(c.gateway, r.gateway)
	c.actor = append(c.actor, r.actor)
	c.data = append(c.data, r.data)
	c.meta = append(c.meta, r.meta)
	c.class = append(c.class, r.class)
	c.retention = append(c.retention, r.retention)
	c.version = append(c.version, r.version)
	c.prevHash = append(c.prevHash, r.prevHash)
	c.hash = append(c.hash, r.hash)
}

// len returns the number of rows.
func (c *eventCols) len() int { return len(c.session) }

// columns returns the column slices in the order of eventColumns.
func (c *eventCols) columns() []any {
	return []any{c.session, c.seq, c.ts, c.tsNs, c.typ, c.gateway, c.actor, c.data,
		c.meta, c.class, c.retention, c.version, c.prevHash, c.hash}
}

// slice returns rows [lo, hi) of c, sharing its storage.
func (c *eventCols) slice(lo, hi int) eventCols {
	return eventCols{
		session: c.session[lo:hi], seq: c.seq[lo:hi], ts: c.ts[lo:hi], tsNs: c.tsNs[lo:hi],
		typ: c.typ[lo:hi], gateway: c.gateway[lo:hi], actor: c.actor[lo:hi], data: c.data[lo:hi],
		meta: c.meta[lo:hi], class: c.class[lo:hi], retention: c.retention[lo:hi], version: c.version[lo:hi],
		prevHash: c.prevHash[lo:hi], hash: c.hash[lo:hi],
	}
}

// reset empties c, keeping its allocations and dropping references to the
// row values so that they can be collected.
func (c *eventCols) reset() {
	clear(c.session)
	clear(c.typ)
	clear(c.gateway)
	clear(c.actor)
	clear(c.data)
	clear(c.meta)
	clear(c.class)
	clear(c.prevHash)
	clear(c.hash)
	c.session, c.seq, c.ts, c.tsNs = c.session[:0], c.seq[:0], c.ts[:0], c.tsNs[:0]
	c.typ, c.gateway, c.actor, c.data = c.typ[:0], c.gateway[:0], c.actor[:0], c.data[:0]
	c.meta, c.class, c.retention, c.version = c.meta[:0], c.class[:0], c.retention[:0], c.version[:0]
	c.prevHash, c.hash = c.prevHash[:0], c.hash[:0]
}
