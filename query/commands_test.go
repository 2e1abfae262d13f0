package query

import (
	"reflect"
	"testing"
	"time"

	"github.com/foureyes/foureyes/cmdline"
	"github.com/foureyes/foureyes/event"
)

// in is one input chunk of a Commands test.
type in struct {
	actor, data string
}

func inputEvents(chunks ...in) []event.Event {
	evs := make([]event.Event, len(chunks))
	for i, c := range chunks {
		evs[i] = event.Event{Seq: uint64(i), Time: t0.Add(time.Duration(i) * time.Second).UnixNano(), Type: event.Input, Actor: c.actor, Data: []byte(c.data)}
	}
	return evs
}

func TestCommands(t *testing.T) {
	type cmd struct {
		Actor, Line string
		Approx      bool
		Typists     []string
	}
	tests := []struct {
		name   string
		chunks []in
		want   []cmd
	}{
		{"plain", []in{{"a", "ls -la\r"}}, []cmd{{"a", "ls -la", false, nil}}},
		{"newline enter", []in{{"a", "ls\n"}}, []cmd{{"a", "ls", false, nil}}},
		{"crlf is one enter", []in{{"a", "ls\r\npwd\r\n"}}, []cmd{{"a", "ls", false, nil}, {"a", "pwd", false, nil}}},
		{"empty lines skipped", []in{{"a", "\r\r\n\r"}}, nil},
		{"split over chunks", []in{{"a", "ech"}, {"a", "o hi"}, {"a", "\r"}}, []cmd{{"a", "echo hi", false, nil}}},
		{"backspace DEL", []in{{"a", "lss\x7f -l\r"}}, []cmd{{"a", "ls -l", false, nil}}},
		{"backspace BS", []in{{"a", "lx\bs\r"}}, []cmd{{"a", "ls", false, nil}}},
		{"backspace on empty", []in{{"a", "\x7f\x7fls\r"}}, []cmd{{"a", "ls", false, nil}}},
		{"ctrl-u", []in{{"a", "rm -rf /\x15echo safe\r"}}, []cmd{{"a", "echo safe", false, nil}}},
		{"ctrl-u mid line", []in{{"a", "abcdef\x1b[D\x1b[D\x15\r"}}, []cmd{{"a", "ef", false, nil}}},
		{"ctrl-w", []in{{"a", "git push --force\x17origin\r"}}, []cmd{{"a", "git push origin", false, nil}}},
		{"ctrl-w trailing spaces", []in{{"a", "echo one two  \x17\r"}}, []cmd{{"a", "echo one ", false, nil}}},
		{"ctrl-c discards", []in{{"a", "shutdown now\x03uptime\r"}}, []cmd{{"a", "uptime", false, nil}}},
		{"left arrow insert", []in{{"a", "ech hi\x1b[D\x1b[D\x1b[Do\r"}}, []cmd{{"a", "echo hi", false, nil}}},
		{"ss3 arrows", []in{{"a", "ac\x1bODb\x1bOCd\r"}}, []cmd{{"a", "abcd", false, nil}}},
		{"right arrow past end", []in{{"a", "ab\x1b[C\x1b[Cc\r"}}, []cmd{{"a", "abc", false, nil}}},
		{"home end", []in{{"a", "bc\x1b[Ha\x1b[Fd\r"}}, []cmd{{"a", "abcd", false, nil}}},
		{"home end tilde", []in{{"a", "bc\x1b[1~a\x1b[4~d\r"}}, []cmd{{"a", "abcd", false, nil}}},
		{"ctrl-a ctrl-e", []in{{"a", "bc\x01a\x05d\r"}}, []cmd{{"a", "abcd", false, nil}}},
		{"delete key", []in{{"a", "abxc\x1b[D\x1b[D\x1b[3~\r"}}, []cmd{{"a", "abc", false, nil}}},
		{"ctrl-k", []in{{"a", "echo hi there\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x0b\r"}}, []cmd{{"a", "echo hi", false, nil}}},
		{"alt-b alt-d", []in{{"a", "cp src dst\x1bb\x1bdout\r"}}, []cmd{{"a", "cp src out", false, nil}}},
		{"ctrl-left word", []in{{"a", "echo world\x1b[1;5Dhello \r"}}, []cmd{{"a", "echo hello world", false, nil}}},
		{"up arrow approximate", []in{{"a", "\x1b[A\r"}}, []cmd{{"a", "", true, nil}}},
		{"history then edit", []in{{"a", "\x1b[A | wc -l\r"}}, []cmd{{"a", " | wc -l", true, nil}}},
		{"tab approximate", []in{{"a", "cat /etc/pas\t\r"}}, []cmd{{"a", "cat /etc/pas", true, nil}}},
		{"ctrl-r approximate", []in{{"a", "\x12ssh\r"}}, []cmd{{"a", "ssh", true, nil}}},
		{"approx resets after enter", []in{{"a", "x\t\rls\r"}}, []cmd{{"a", "x", true, nil}, {"a", "ls", false, nil}}},
		{"unknown escape skipped", []in{{"a", "l\x1b[15~s\x1b[?25h\r"}}, []cmd{{"a", "ls", false, nil}}},
		{"escape split over chunks", []in{{"a", "ab\x1b"}, {"a", "["}, {"a", "Dx\r"}}, []cmd{{"a", "axb", false, nil}}},
		{"paste markers", []in{{"a", "\x1b[200~echo pasted\x1b[201~\r"}}, []cmd{{"a", "echo pasted", false, nil}}},
		{"paste keeps tab", []in{{"a", "\x1b[200~a\tb\x1b[201~\r"}}, []cmd{{"a", "a\tb", false, nil}}},
		{"utf8 and backspace", []in{{"a", "echo héé\x7f\r"}}, []cmd{{"a", "echo hé", false, nil}}},
		{"utf8 split", []in{{"a", "echo \xc3"}, {"a", "\xa9\r"}}, []cmd{{"a", "echo é", false, nil}}},
		{"invalid utf8", []in{{"a", "a\xffb\xc3c\r"}}, []cmd{{"a", "a\uFFFDb\uFFFDc", false, nil}}},
		{"two actors separate lines", []in{{"alice", "ls\r"}, {"bob", "pwd\r"}}, []cmd{{"alice", "ls", false, nil}, {"bob", "pwd", false, nil}}},
		{"two actors edit separately", []in{{"alice", "echo ab"}, {"bob", "\x7f"}, {"alice", "\x7fc"}, {"bob", "\x15"}, {"alice", "\r"}},
			[]cmd{{"alice", "echo ac", false, nil}}},
		{"interleaved merge attributed to enter", []in{{"alice", "sudo "}, {"bob", "reboot"}, {"bob", "\r"}},
			[]cmd{{"bob", "sudo reboot", true, []string{"alice", "bob"}}}},
		{"other typist pending only", []in{{"alice", "rm -rf /tmp/x"}, {"bob", "\r"}},
			[]cmd{{"bob", "rm -rf /tmp/x", true, []string{"alice", "bob"}}}},
		{"ctrl-c by anyone clears all", []in{{"alice", "rm -rf /"}, {"bob", "\x03"}, {"alice", "\r"}}, nil},
		{"cr then newline of other actor", []in{{"alice", "ls\r"}, {"bob", "\npwd\r"}}, []cmd{{"alice", "ls", false, nil}, {"bob", "pwd", false, nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []cmd
			for _, c := range Commands(inputEvents(tt.chunks...)) {
				got = append(got, cmd{c.Actor, c.Line, c.Approximate, c.Typists})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Commands = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestCommandsTimeSeqAndExec(t *testing.T) {
	r := newRec("s", "alice", "h", "exec", t0)
	r.at(time.Second, event.Exec, "alice", "uname -a", nil)
	r.end(2*time.Second, "0")
	got := Commands(r.events())
	want := []Command{{Seq: 1, Time: t0.Add(time.Second), Actor: "alice", Line: "uname -a", Exec: true}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Commands = %+v; want %+v", got, want)
	}

	got = Commands(shellSession("s", t0).events())
	if len(got) != 2 || got[0].Line != "ls -la" || got[0].Seq != 3 || !got[0].Time.Equal(t0.Add(1100*time.Millisecond)) || got[1].Line != "exit" {
		t.Fatalf("Commands(shell) = %+v", got)
	}
}

func TestCommandsBoundedLine(t *testing.T) {
	big := make([]byte, cmdline.MaxLineRunes+100)
	for i := range big {
		big[i] = 'x'
	}
	got := Commands(inputEvents(in{"a", string(big) + "\r"}))
	if len(got) != 1 || len([]rune(got[0].Line)) != cmdline.MaxLineRunes || !got[0].Approximate {
		t.Fatalf("long line: %d commands, approx %v", len(got), len(got) > 0 && got[0].Approximate)
	}
}

func FuzzCommands(f *testing.F) {
	f.Add([]byte("ls\x1b[D\x7f\r"), []byte("\x1b[200~x\r"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		evs := []event.Event{{Type: event.Input, Actor: "a", Data: a}, {Seq: 1, Type: event.Input, Actor: "b", Data: b}}
		for _, c := range Commands(evs) {
			if c.Line == "" && !c.Approximate {
				t.Fatalf("empty exact command: %+v", c)
			}
		}
	})
}
