package query

import (
	"reflect"
	"testing"

	"github.com/foureyes/foureyes/event"
)

func TestDedupEvents(t *testing.T) {
	h := func(b byte) event.Hash { return event.Hash{b} }
	ev := func(seq uint64, hash byte) event.Event { return event.Event{Seq: seq, Hash: h(hash)} }
	tests := []struct {
		name      string
		in        []event.Event
		want      []event.Event
		conflicts []uint64
	}{
		{"empty", nil, nil, nil},
		{"sorted unique", []event.Event{ev(0, 1), ev(1, 2)}, []event.Event{ev(0, 1), ev(1, 2)}, nil},
		{"two parts", []event.Event{ev(0, 1), ev(1, 2), ev(2, 3), ev(1, 2), ev(2, 3)}, []event.Event{ev(0, 1), ev(1, 2), ev(2, 3)}, nil},
		{"conflict keeps smallest hash", []event.Event{ev(0, 1), ev(1, 9), ev(1, 4), ev(1, 9)}, []event.Event{ev(0, 1), ev(1, 4)}, []uint64{1}},
		{"several conflicts", []event.Event{ev(3, 1), ev(3, 2), ev(0, 5), ev(0, 6)}, []event.Event{ev(0, 5), ev(3, 1)}, []uint64{0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, conflicts := dedupEvents(tt.in)
			if len(got) == 0 && len(tt.want) == 0 {
				got = tt.want
			}
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(conflicts, tt.conflicts) {
				t.Fatalf("dedupEvents = %v, %v; want %v, %v", got, conflicts, tt.want, tt.conflicts)
			}
		})
	}
}
