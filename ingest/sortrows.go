package ingest

import (
	"cmp"
	"slices"
)

// sortBySession reorders the rows of c by (session, seq), the ORDER BY
// key of the events table, keeping the arrival order of rows with equal
// keys (a redelivered event stays behind its first copy), and reports
// whether it moved anything. ClickHouse checks whether an inserted block
// is already sorted by the table's key before sorting it; a sorted block
// spares the server the sort and the permutation of every column, which
// costs more there than grouping the rows costs here (BENCHMARKS.md,
// "Ingest CPU per event"). The order of a session's rows is unchanged, so
// derive, which only needs each session's events in stream order, reads
// them as before. spare receives the old columns for reuse.
func (c *eventCols) sortBySession(spare *eventCols) bool {
	n := c.len()
	if n < 2 || c.sorted() {
		return false
	}
	// Group the rows by session: ids in first-seen order, then the
	// groups sorted by session id, then a counting placement. O(n) map
	// lookups instead of O(n log n) string comparisons.
	group := make(map[string]int32, 1024)
	ids := make([]int32, n) // row -> group
	var names []string
	var counts []int32
	for i, s := range c.session {
		if i > 0 && s == c.session[i-1] {
			ids[i] = ids[i-1] // a run of one session: no lookup
			counts[ids[i]]++
			continue
		}
		g, ok := group[s]
		if !ok {
			g = int32(len(names))
			group[s] = g
			names = append(names, s)
			counts = append(counts, 0)
		}
		ids[i] = g
		counts[g]++
	}
	order := make([]int32, len(names))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(names[a], names[b]) })
	start := make([]int32, len(names))
	var pos int32
	for _, g := range order {
		start[g] = pos
		pos += counts[g]
	}
	perm := make([]int32, n) // new position -> old row
	for i, g := range ids {
		perm[start[g]] = int32(i)
		start[g]++
	}
	// Within a session, rows arrive in seq order but for redeliveries;
	// sort a group by seq only when it is out of order (stable, so equal
	// seqs keep their arrival order).
	for lo := 0; lo < n; {
		hi := lo + 1
		for hi < n && c.session[perm[hi]] == c.session[perm[lo]] {
			hi++
		}
		g := perm[lo:hi]
		if !slices.IsSortedFunc(g, func(a, b int32) int { return cmp.Compare(c.seq[a], c.seq[b]) }) {
			slices.SortStableFunc(g, func(a, b int32) int { return cmp.Compare(c.seq[a], c.seq[b]) })
		}
		lo = hi
	}
	spare.reset()
	for _, i := range perm {
		spare.addFrom(c, int(i))
	}
	*c, *spare = *spare, *c
	return true
}

// sorted reports whether the rows of c are in (session, seq) order.
func (c *eventCols) sorted() bool {
	for i := 1; i < c.len(); i++ {
		if d := cmp.Compare(c.session[i-1], c.session[i]); d > 0 || (d == 0 && c.seq[i-1] > c.seq[i]) {
			return false
		}
	}
	return true
}

// addFrom appends row i of src.
func (c *eventCols) addFrom(src *eventCols, i int) {
	c.session = append(c.session, src.session[i])
	c.seq = append(c.seq, src.seq[i])
	c.ts = append(c.ts, src.ts[i])
	c.tsNs = append(c.tsNs, src.tsNs[i])
	c.typ = append(c.typ, src.typ[i])
	c.gateway = append(c.gateway, src.gateway[i])
	c.actor = append(c.actor, src.actor[i])
	c.data = append(c.data, src.data[i])
	c.meta = append(c.meta, src.meta[i])
	c.class = append(c.class, src.class[i])
	c.retention = append(c.retention, src.retention[i])
	c.version = append(c.version, src.version[i])
	c.prevHash = append(c.prevHash, src.prevHash[i])
	c.hash = append(c.hash, src.hash[i])
}
