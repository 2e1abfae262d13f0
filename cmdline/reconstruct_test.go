package cmdline

import (
	"reflect"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func ev(seq uint64, typ event.Type, actor, data string, meta map[string]string) event.Event {
	return event.Event{Session: "s", Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second).UnixNano(), Type: typ, Actor: actor, Data: []byte(data), Meta: meta}
}

// TestFeedMatchesCommands checks that feeding events one by one yields
// what Commands returns for the slice, with a blind mark replacing the
// command it marks.
func TestFeedMatchesCommands(t *testing.T) {
	evs := []event.Event{
		ev(0, event.SessionStart, "alice", "", map[string]string{"user": "alice"}),
		ev(1, event.Input, "alice", "ls\rpwd\r", nil),
		ev(2, event.Output, "", "x", nil),
		ev(3, event.Input, "bob", "sudo -i\r", nil),
		ev(4, event.Input, "bob", "hunter2\r", nil),
		ev(5, event.InputBlind, "bob", "", map[string]string{"chars": "7"}),
		ev(6, event.Input, "alice", "rm -rf /tmp/x\x17\x17y\r", nil),
	}
	want := Commands(evs)
	wantLines := []string{"ls", "pwd", "sudo -i", "hunter2", "rm y"}
	if len(want) != len(wantLines) {
		t.Fatalf("Commands = %+v; want lines %q", want, wantLines)
	}
	for i, c := range want {
		if c.Line != wantLines[i] {
			t.Errorf("command %d = %q; want %q", i, c.Line, wantLines[i])
		}
	}
	if want[1].Seq != 1 || want[1].Idx != 1 || want[0].Idx != 0 {
		t.Errorf("ls/pwd = (%d,%d) (%d,%d); want (1,0) (1,1)", want[0].Seq, want[0].Idx, want[1].Seq, want[1].Idx)
	}
	if want[3].Blind != 7 || want[2].Blind != 0 {
		t.Errorf("blind marks = %d, %d; want 0, 7", want[2].Blind, want[3].Blind)
	}

	var (
		r    Reconstructor
		got  []Command
		byID = map[[2]uint64]int{}
	)
	for i := range evs {
		for _, c := range r.Feed(&evs[i], nil) {
			id := [2]uint64{c.Seq, uint64(c.Idx)}
			if j, ok := byID[id]; ok {
				got[j] = c
				continue
			}
			byID[id] = len(got)
			got = append(got, c)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Feed = %+v; want %+v", got, want)
	}
}

// TestBlindWithoutCommand checks that a blind mark with no earlier
// command of its typist yields nothing.
func TestBlindWithoutCommand(t *testing.T) {
	var r Reconstructor
	e := ev(1, event.InputBlind, "bob", "", map[string]string{"chars": "3"})
	if got := r.Feed(&e, nil); len(got) != 0 {
		t.Fatalf("Feed(blind) = %+v; want nothing", got)
	}
}

// TestMultiLineCommands checks that a command the shell read over several
// lines is also yielded whole, and that Ctrl-V keeps a control character
// in the line instead of acting on it.
func TestMultiLineCommands(t *testing.T) {
	tests := []struct {
		name, input string
		lines       []string
		joined      string // of the last command
	}{
		{"backslash", "DROP \\\rTABLE x\r", []string{"DROP \\", "TABLE x"}, "DROP TABLE x"},
		{"open quote", "psql -c 'DROP\rTABLE x'\r", []string{"psql -c 'DROP", "TABLE x'"}, "psql -c 'DROP\nTABLE x'"},
		{"escaped quote closes nothing", "echo it\\'s\r", []string{"echo it\\'s"}, ""},
		{"ctrl-c ends it", "echo 'a\r\x03ls\r", []string{"echo 'a", "ls"}, ""},
		{"ctrl-v enter", "DROP\x16\r TABLE x\r", []string{"DROP\r TABLE x"}, ""},
		{"ctrl-v ctrl-u", "rm x\x16\x15\r", []string{"rm x\x15"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Commands([]event.Event{ev(1, event.Input, "a", tt.input, nil)})
			var lines []string
			for _, c := range got {
				lines = append(lines, c.Line)
			}
			if !reflect.DeepEqual(lines, tt.lines) {
				t.Fatalf("lines = %q; want %q", lines, tt.lines)
			}
			if j := got[len(got)-1].Joined; j != tt.joined {
				t.Errorf("joined = %q; want %q", j, tt.joined)
			}
		})
	}
}
