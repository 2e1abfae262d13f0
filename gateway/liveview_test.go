package gateway

import (
	"bytes"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/config"
)

// TestFourEyesLiveViewSanitized: host output reaches reviewers by the
// rules of `audit play` — no clipboard writes, title changes or device
// queries, live or in the replay a late joiner gets — and what a
// reviewer's terminal answers on its own never reaches the host as their
// typing. The old hub forwarded both raw.
func TestFourEyesLiveViewSanitized(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	f.reconfigure(t, func(c *config.Config) { f.addUser(t, c, "frank", "", "reviewer") })
	alice, id := f.request(t, "live view")
	dave := f.approve(t, "dave", id, "--mode", "peer")
	alice.Expect("demo$ ", timeout)
	alice.Send(`printf '\033]52;c;cm0gLXJm\007\033]0;pwn-title\007\033[6n\033[c\033P$q m\033\\[%s]\n' live-$((6*7))` + "\r")
	alice.Expect("[live-42]", timeout)
	dave.Expect("[live-42]", timeout)
	frank := f.review(t, "frank", id)
	frank.Expect("watching as observer", timeout)
	frank.Expect("[live-42]", timeout) // the replay of the current screen

	// dave's terminal "answers" a query: a cursor position report and a
	// colour reply, then he types a command.
	dave.Send("\x1b[24;80R\x1b]11;rgb:0000/0000/0000\x07echo peer-$((2+3))\r")
	alice.Expect("peer-5", timeout)
	frank.Expect("peer-5", timeout)
	for name, out := range map[string]string{"dave": dave.Output(), "frank": frank.Output()} {
		for _, bad := range []string{"\x1b]52", "\x1b]0;", "\x1b[6n", "\x1b[c", "\x1bP"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s's terminal got %q:\n%q", name, bad, out)
			}
		}
	}
	alice.Send("exit\r")
	alice.Wait()
	dave.Wait()
	frank.Wait()
	typed := inputBy(f.sessionEvents(id), "dave")
	if !strings.Contains(typed, "echo peer-") || strings.Contains(typed, "\x1b[24;80R") || strings.Contains(typed, "rgb:") {
		t.Errorf("dave's recorded input = %q; want the command without the terminal's replies", typed)
	}
}

// TestFourEyesExecStdinShownWithCRLF: reviewers of a command without a
// pty see its stdin as it streams (the old hub never showed it: `ssh
// prod -- sh` fed by a pipe ran unseen) and its output with CRLF line
// ends, as the requester sees it (the old view staircased).
func TestFourEyesExecStdinShownWithCRLF(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	alice, id := f.execRequest(t, "sh")
	dave := f.approve(t, "dave", id)
	alice.Send("echo stdin-$((3*3)); printf 'a\\nb\\n'\n")
	dave.Expect("stdin-9\r\na\r\nb\r\n", timeout)
	alice.Send("\x04")
	if got := alice.Wait(); got != 0 {
		t.Errorf("alice exit = %d; want 0", got)
	}
	dave.Wait()
	if out := dave.Output(); !strings.Contains(out, stdinStart+"echo stdin-$((3*3)); printf 'a\\nb\\n'\r\n") {
		t.Errorf("dave did not see alice's stdin:\n%q", out)
	}
	if !strings.Contains(inputBy(f.sessionEvents(id), "alice"), "echo stdin-") {
		t.Error("alice's stdin not recorded")
	}
}

func TestLiveViewRender(t *testing.T) {
	tests := []struct {
		name string
		crlf bool
		in   []string
		want string
	}{
		{"pty passes LF", false, []string{"a\nb\r\n"}, "a\nb\r\n"},
		{"no pty adds CR", true, []string{"a\nb\r\n\n"}, "a\r\nb\r\n\r\n"},
		{"CR at a chunk end", true, []string{"a\r", "\nb"}, "a\r\nb"},
		{"sanitized", false, []string{"x\x1b]52;c;eA==\x07y\x1b[6n"}, "xy"},
		{"split sequence", false, []string{"x\x1b]0;ti", "tle\x07y"}, "xy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := liveView{crlf: tt.crlf}
			var got []byte
			for _, c := range tt.in {
				got = v.render(got, []byte(c))
			}
			if string(got) != tt.want {
				t.Errorf("render = %q; want %q", got, tt.want)
			}
		})
	}
}

// TestSafeReplay: a wrapped ring is replayed from a line boundary, and a
// sequence or character cut at its front is dropped.
func TestSafeReplay(t *testing.T) {
	if got := safeReplay([]byte("52;c;eA==\x07tail\nline\n"), true); string(got) != "line\n" {
		t.Errorf("wrapped replay = %q", got)
	}
	if got := safeReplay([]byte("\xa9abc"), true); string(got) != "abc" {
		t.Errorf("replay from a character's tail = %q", got)
	}
	if got := safeReplay([]byte("whole\x1b]0;x\x07"), false); string(got) != "whole" {
		t.Errorf("unwrapped replay = %q", got)
	}
	var r ring
	r.write(bytes.Repeat([]byte("0123456789\x1b[31m\n"), ringSize/8))
	if got := safeReplay(r.snapshot(), r.full); !bytes.HasPrefix(got, []byte("0123456789\x1b[31m\n")) {
		t.Errorf("ring replay starts with %q", got[:20])
	}
}

// TestSizeMismatch: a reviewer whose terminal reported no size (stdin
// not a terminal) is not told that theirs is 0x0.
func TestSizeMismatch(t *testing.T) {
	tests := []struct {
		name               string
		cols, rows, pc, pr uint32
		want               string
	}{
		{"smaller", 120, 40, 80, 24, "yours is 80x24"},
		{"larger", 80, 24, 120, 40, ""},
		{"unknown", 120, 40, 0, 0, "alice's terminal is 120x40; yours did not report its size"},
		{"requester without pty", 0, 0, 80, 24, ""},
	}
	for _, tt := range tests {
		got := sizeMismatch("alice", tt.cols, tt.rows, tt.pc, tt.pr)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) || strings.Contains(got, "0x0") {
			t.Errorf("%s: %q; want %q", tt.name, got, tt.want)
		}
	}
	// A window change of the requester does not warn a reviewer of
	// unknown size either.
	h := &hub{owner: "alice", cols: 80, rows: 24, rec: nil}
	p := newParticipant("dave", "", "", modeObserver)
	h.parts = []*participant{p}
	h.resized(200, 60)
	if len(p.out) != 0 {
		t.Errorf("reviewer of unknown size got %q", <-p.out)
	}
}

// TestFourEyesReviewerTerminalRestored: a reviewer who leaves while the
// host's program holds the alternate screen gets their terminal back, as
// after `audit play`; the old join left it on the alternate screen.
func TestFourEyesReviewerTerminalRestored(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	alice, id := f.request(t, "alt screen")
	dave := f.approve(t, "dave", id)
	alice.Expect("demo$ ", timeout)
	alice.Send(`printf '\033[?1049h\033[5;20r[%s]' alt-$((2*3))` + "\r")
	dave.Expect("[alt-6]", timeout)
	dave.Send("\x1dq")
	dave.Expect("you left session", timeout)
	dave.Wait()
	out := dave.Output()
	i := strings.LastIndex(out, "[alt-6]")
	if tail := out[i:]; !strings.Contains(tail, "\x1b[?1049l") || !strings.Contains(tail, "\x1b[r") {
		t.Errorf("dave's terminal was not restored after leaving:\n%q", tail)
	}
	alice.Send("\x03")
	alice.Close()
}
