package ingest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/foureyes/foureyes/event"
)

// TestSortBySession checks that a batch is put in the events table's key
// order, that every column moves with its row, that a redelivered event
// stays behind its first copy, and that a session's rows keep their
// stream order (derive reads them).
func TestSortBySession(t *testing.T) {
	type row struct {
		session string
		seq     uint64
		tag     string // data, gateway, hash: must stay with the row
	}
	tests := []struct {
		name   string
		in     []row
		want   []string // tags in the sorted order
		moved  bool
		sorted bool
	}{
		{name: "empty", sorted: true},
		{name: "sorted already", in: []row{{"a", 0, "a0"}, {"a", 1, "a1"}, {"b", 0, "b0"}}, want: []string{"a0", "a1", "b0"}, sorted: true},
		{
			name:  "interleaved sessions",
			in:    []row{{"c", 0, "c0"}, {"a", 0, "a0"}, {"c", 1, "c1"}, {"b", 0, "b0"}, {"a", 1, "a1"}, {"c", 2, "c2"}},
			want:  []string{"a0", "a1", "b0", "c0", "c1", "c2"},
			moved: true, sorted: true,
		},
		{
			name:  "redelivered and out of order",
			in:    []row{{"b", 5, "b5"}, {"a", 2, "a2"}, {"b", 3, "b3"}, {"b", 4, "b4"}, {"b", 5, "b5-again"}, {"a", 1, "a1"}},
			want:  []string{"a1", "a2", "b3", "b4", "b5", "b5-again"},
			moved: true, sorted: true,
		},
		{
			// Byte order, as ClickHouse compares Strings: upper case and
			// shorter prefixes first, whatever the UTF-8.
			name:  "byte order",
			in:    []row{{"ab", 0, "ab"}, {"a", 0, "a"}, {"\xffz", 0, "ff"}, {"B", 0, "B"}},
			want:  []string{"B", "a", "ab", "ff"},
			moved: true, sorted: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBatch(len(tt.in))
			for i, r := range tt.in {
				rec := record{ev: eventRow{session: r.session, seq: r.seq, ts: int64(i), tsNs: int64(i), typ: "output", gateway: r.tag,
					actor: r.tag, data: []byte(r.tag), meta: r.tag, class: r.tag, retention: uint16(i), version: uint16(i),
					prevHash: r.tag, hash: r.tag}}
				b.add(&rec)
			}
			var spare eventCols
			if moved := b.events.sortBySession(&spare); moved != tt.moved {
				t.Errorf("sortBySession = %v; want %v", moved, tt.moved)
			}
			c := &b.events
			if c.sorted() != tt.sorted {
				t.Errorf("sorted() = %v; want %v", c.sorted(), tt.sorted)
			}
			var got []string
			for i := 0; i < c.len(); i++ {
				tag := string(c.data[i])
				got = append(got, tag)
				orig := slices.IndexFunc(tt.in, func(r row) bool { return r.tag == tag })
				in := tt.in[orig]
				if c.session[i] != in.session || c.seq[i] != in.seq || c.gateway[i] != tag || c.actor[i] != tag || c.meta[i] != tag ||
					c.class[i] != tag || c.prevHash[i] != tag || c.hash[i] != tag || c.ts[i] != int64(orig) || c.tsNs[i] != int64(orig) ||
					c.retention[i] != uint16(orig) || c.version[i] != uint16(orig) || c.typ[i] != "output" {
					t.Errorf("row %d (%s) did not move whole: %+v", i, tag, c.slice(i, i+1))
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("order = %v; want %v", got, tt.want)
			}
			b.reset()
			if b.events.len() != 0 {
				t.Error("reset left rows behind")
			}
		})
	}
}

// TestDeriverKeepsNothingOfTheMessages checks that the search state kept
// across batches holds copies: the decoder's rows share the Kafka
// messages' memory, and a state that kept a view would change when a
// message buffer is reused. The messages of the first batch are
// overwritten before the second; the command typed across both must come
// out whole, for the same session and typist, with no rebuild.
func TestDeriverKeepsNothingOfTheMessages(t *testing.T) {
	s := &searchStream{id: "0b0f6a8e-1c1e-4a57-9d53-000000000001"}
	s.add(event.SessionStart, "alice", "", map[string]string{"user": "alice", "host": "db1", "kind": "shell"})
	s.add(event.Input, "alice", "echo hel", nil)
	s.add(event.Input, "alice", "lo\r", nil)
	d := newDeriver(16)
	d.rebuild = func(context.Context, map[string]uint64, func(*event.Event)) error {
		t.Error("the session was rebuilt: its state was lost")
		return nil
	}
	var msgs [][]byte
	batchOf := func(evs []event.Event) *batch {
		b := newBatch(len(evs))
		var dec decoder
		for i := range evs {
			m := mustMarshal(t, &evs[i])
			msgs = append(msgs, m)
			rec := dec.decode(kafka.Message{Value: m}, time.Time{})
			b.add(&rec)
		}
		return b
	}
	ctx := context.Background()
	if err := d.derive(ctx, batchOf(s.evs[:2])); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		copy(m, strings.Repeat("X", len(m))) // the buffers of the first batch, reused
	}
	b := batchOf(s.evs[2:])
	if err := d.derive(ctx, b); err != nil {
		t.Fatal(err)
	}
	if len(b.commands) != 1 {
		t.Fatalf("commands = %+v; want one", b.commands)
	}
	got := b.commands[0]
	if got.line != "echo hello" || got.actor != "alice" || got.host != "db1" || got.session != s.id {
		t.Fatalf("command = %+v; want echo hello by alice on db1 in %s", got, s.id)
	}
	for id := range d.sessions {
		if id != s.id {
			t.Errorf("deriver holds session %q; want %q", id, s.id)
		}
	}
}

// BenchmarkSortBySession measures grouping 100k rows of 1000 interleaved
// sessions (the order Kafka delivers them in) into the table's order.
func BenchmarkSortBySession(b *testing.B) {
	const rows, sessions = 100000, 1000
	src := newEventCols(rows)
	for i := 0; i < rows; i++ {
		src.add(&eventRow{session: fmt.Sprintf("0b0f6a8e-1c1e-4a57-9d53-%012d", (i*7919)%sessions), seq: uint64(i / sessions)})
	}
	c, spare := newEventCols(rows), newEventCols(rows)
	for b.Loop() {
		c.reset()
		for i := 0; i < rows; i++ {
			c.addFrom(&src, i)
		}
		c.sortBySession(&spare)
	}
}
