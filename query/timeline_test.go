package query

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

func TestTimelineCollapse(t *testing.T) {
	resize := func(n int) timelineItem {
		s := fmt.Sprintf("%dx24", n)
		return timelineItem{at: t0.Add(time.Duration(n) * time.Second), what: "resize", detail: s, first: s, resizes: 1}
	}
	other := timelineItem{what: "signal"}
	tests := []struct {
		name string
		in   []timelineItem
		want []string
	}{
		{"two kept", []timelineItem{resize(1), resize(2), other}, []string{"1x24", "2x24", ""}},
		{"three collapsed", []timelineItem{other, resize(1), resize(2), resize(3), other}, []string{"", "1x24 → 3x24 (3 changes over 2s)", ""}},
		{"runs split by events", []timelineItem{resize(1), resize(2), resize(3), other, resize(4), resize(5), resize(6), resize(7)},
			[]string{"1x24 → 3x24 (3 changes over 2s)", "", "4x24 → 7x24 (4 changes over 3s)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, it := range collapseResizes(tt.in) {
				got = append(got, it.detail)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("collapseResizes = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestTimelineApproximateAndTypists(t *testing.T) {
	r := newRec("s", "alice", "h", "shell", t0)
	r.at(time.Second, event.Input, "alice", "sudo ", nil)
	r.at(2*time.Second, event.Input, "bob", "reboot\r", nil)
	r.at(3*time.Second, event.Input, "alice", "\x1b[A\r", nil)
	var got []string
	for _, it := range timeline(r.events()) {
		got = append(got, it.actor+" "+it.what+" "+it.detail)
	}
	want := []string{" session.start cols=80 gateway=gw1 host=h kind=shell login=root remote=192.0.2.7:50000 rows=24 term=xterm-256color user=alice",
		"bob command~ sudo reboot   [typed by alice, bob]",
		"alice command~ (recalled from history or completed; not known from input)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTimelineBlindCommand: a line the host did not echo (input.blind
// after it) is marked in show — its text still shown, so that a forged
// input.blind cannot hide a command from an auditor; show --json
// carries the mark.
func TestTimelineBlindCommand(t *testing.T) {
	r := newRec("s", "alice", "h", "shell", t0)
	r.at(time.Second, event.Input, "alice", "sudo -i\r", nil)
	r.at(2*time.Second, event.Input, "alice", "hunter2\r", nil)
	r.at(3*time.Second, event.InputBlind, "alice", "", map[string]string{"chars": "7"})
	r.at(4*time.Second, event.Input, "alice", "whoami\r", nil)
	evs := r.events()
	var got []string
	for _, it := range timeline(evs) {
		if it.what != "session.start" {
			got = append(got, it.actor+" "+it.what+" "+it.detail)
		}
	}
	want := []string{"alice command sudo -i",
		"alice command! hunter2   [typed without echo: reviewers saw only 7 characters]",
		"alice input.blind chars=7",
		"alice command whoami"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	cmds := Commands(evs)
	if len(cmds) != 3 || cmds[0].Blind != 0 || cmds[1].Blind != 7 || cmds[2].Blind != 0 {
		t.Errorf("Commands = %+v; want only the second blind", cmds)
	}
	if j := toCommandJSON(&cmds[1]); j.Blind != 7 {
		t.Errorf("show --json blind = %d; want 7", j.Blind)
	}
}

// TestShowHostChannelOpen: a session.end that records the host keeping
// the ended session's channel open makes show (text and --json) say so
// plainly, whatever the gateway did about it, an unknown action escaped;
// a session.end without it (the host closed the channel) says nothing.
func TestShowHostChannelOpen(t *testing.T) {
	tests := []struct {
		name string
		meta map[string]string
		want string // in the warning; "" for none
	}{
		{"retired", map[string]string{"host_channel_open": "true", "host_channel_action": "login_retired"}, "login stayed open for the client's other channels"},
		{"closed", map[string]string{"host_channel_open": "true", "host_channel_action": "login_closed"}, "closed its login to the host"},
		{"hostile action", map[string]string{"host_channel_open": "true", "host_channel_action": "x\x1b]0;pwned\x07"}, `($'x\E]0;pwned\x07')`},
		{"closed in time", map[string]string{"exit_status": "255"}, ""},
		{"not true", map[string]string{"host_channel_open": "false"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRec("s", "alice", "h", "exec", t0)
			r.at(time.Second, event.Exec, "alice", "trap '' HUP; sleep 60", nil)
			r.at(2*time.Second, event.SessionEnd, "", "", tt.meta)
			evs := r.events()
			sess := r.summary()
			var text, js strings.Builder
			if err := writeTimeline(&text, &sess, evs); err != nil {
				t.Fatal(err)
			}
			if err := writeTimelineJSON(&js, &sess, nil, evs, nil); err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(js.String(), "\n")
			if tt.want == "" {
				if strings.Contains(text.String(), "warning") || strings.Contains(first, "warnings") || strings.Contains(first, "host_channel_open") {
					t.Errorf("a warning for a channel the host closed:\n%s\n%s", text.String(), first)
				}
				return
			}
			const plain = "the host kept the session's channel open after the session ended: a process may still run on the host"
			for _, want := range []string{"warning", plain, tt.want} {
				if !strings.Contains(text.String(), want) {
					t.Errorf("show lacks %q:\n%s", want, text.String())
				}
			}
			if strings.ContainsAny(text.String(), "\x1b\x07") {
				t.Errorf("show printed a raw control character:\n%q", text.String())
			}
			if !strings.Contains(first, `"host_channel_open":true`) || !strings.Contains(first, plain) {
				t.Errorf("show --json session record lacks the warning: %s", first)
			}
		})
	}
}
