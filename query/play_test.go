package query

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

func outputs(gaps ...time.Duration) []event.Event {
	var evs []event.Event
	at := t0
	for i, g := range gaps {
		at = at.Add(g)
		evs = append(evs, event.Event{Seq: uint64(i), Time: at.UnixNano(), Type: event.Output, Data: []byte{byte('a' + i)}})
		// Non-output events are skipped and do not count as pauses.
		evs = append(evs, event.Event{Time: at.Add(time.Millisecond).UnixNano(), Type: event.Input, Data: []byte("x")})
	}
	return evs
}

func TestPlay(t *testing.T) {
	s := time.Second
	tests := []struct {
		name   string
		gaps   []time.Duration
		opt    PlayOptions
		sleeps []time.Duration
		before int // bytes written before the first pause
	}{
		{"real time", []time.Duration{0, s, 500 * time.Millisecond}, PlayOptions{}, []time.Duration{s, 500 * time.Millisecond}, 1},
		{"speed 2", []time.Duration{0, s, 4 * s}, PlayOptions{Speed: 2}, []time.Duration{500 * time.Millisecond, s}, 1},
		{"max idle default 2s", []time.Duration{0, time.Hour, s}, PlayOptions{}, []time.Duration{2 * s, s}, 1},
		{"max idle then speed", []time.Duration{0, time.Hour}, PlayOptions{MaxIdle: 4 * s, Speed: 4}, []time.Duration{s}, 1},
		{"no cap", []time.Duration{0, time.Hour}, PlayOptions{MaxIdle: -1}, []time.Duration{time.Hour}, 1},
		{"bad speed is 1", []time.Duration{0, s}, PlayOptions{Speed: -3}, []time.Duration{s}, 1},
		{"small gaps summed", []time.Duration{0, 4 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond}, PlayOptions{}, []time.Duration{12 * time.Millisecond}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				slept []time.Duration
				out   bytes.Buffer
				at    []int // output length at each sleep
			)
			tt.opt.sleep = func(_ context.Context, d time.Duration) error {
				slept = append(slept, d)
				at = append(at, out.Len())
				return nil
			}
			if err := Play(context.Background(), &out, outputs(tt.gaps...), tt.opt); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(slept, tt.sleeps) {
				t.Fatalf("slept %v; want %v", slept, tt.sleeps)
			}
			want := "abcdefgh"[:len(tt.gaps)]
			if !strings.HasPrefix(out.String(), want+"\x1b[0m") {
				t.Fatalf("output %q; want %q then the restore sequences", out.String(), want)
			}
			if at[0] != tt.before {
				t.Fatalf("output before first pause = %d bytes; want %d (flushed before sleeping)", at[0], tt.before)
			}
		})
	}
}

func TestPlaySanitizesAndRestores(t *testing.T) {
	evs := []event.Event{
		{Time: t0.UnixNano(), Type: event.Output, Data: []byte("\x1b[?1049h\x1b]0;ti")},
		{Time: t0.UnixNano(), Type: event.Output, Data: []byte("tle\x07vim\x1b[6n")},
	}
	var out bytes.Buffer
	if err := Play(context.Background(), &out, evs, PlayOptions{}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.HasPrefix(got, "\x1b[?1049hvim\x1b[?1049l") || strings.Contains(got, "title") || strings.Contains(got, "6n") {
		t.Fatalf("Play output %q", got)
	}
}

func TestPlayCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	opt := PlayOptions{sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}}
	err := Play(ctx, &out, outputs(0, time.Second, time.Second), opt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Play = %v; want context.Canceled", err)
	}
	if got := out.String(); !strings.HasPrefix(got, "a\x1b[0m") {
		t.Fatalf("output after cancel %q; want first chunk then restore", got)
	}
}

func TestSleepCtx(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("sleepCtx = %v", err)
	}
	if err := sleepCtx(context.Background(), time.Microsecond); err != nil {
		t.Fatalf("sleepCtx = %v", err)
	}
}

// TestPlayNothing checks that a stream without output writes nothing, not
// even the sequences restoring the terminal.
func TestPlayNothing(t *testing.T) {
	evs := []event.Event{
		{Time: t0.UnixNano(), Type: event.SessionStart},
		{Time: t0.UnixNano(), Type: event.Input, Data: []byte("ls\r")},
		{Time: t0.UnixNano(), Type: event.Output},
	}
	var out bytes.Buffer
	if err := Play(context.Background(), &out, evs, PlayOptions{}); err != nil || out.Len() != 0 {
		t.Fatalf("Play = %v, wrote %q; want nothing", err, out.String())
	}
	if hasOutput(evs) {
		t.Fatal("hasOutput = true for a stream of empty output")
	}
}

func TestNoOutputReason(t *testing.T) {
	start := func(kind string) event.Event {
		return event.Event{Type: event.SessionStart, Meta: map[string]string{"kind": kind}}
	}
	end := func(meta map[string]string) event.Event { return event.Event{Type: event.SessionEnd, Meta: meta} }
	request := event.Event{Type: event.ApprovalRequest, Actor: "alice"}
	tests := []struct {
		name string
		evs  []event.Event
		want string
	}{
		{"denied", []event.Event{start("shell"), request, {Type: event.ApprovalDeny, Actor: "bob"}, end(nil)}, "denied by bob"},
		{"denied with reason", []event.Event{start("shell"), request,
			{Type: event.ApprovalDeny, Actor: "bob", Meta: map[string]string{"reason": "not during\x1b[2J the freeze"}}, end(nil)},
			`denied by bob: $'not during\E[2J the freeze'`},
		{"expired", []event.Event{start("exec"), request, {Type: event.ApprovalExpire, Meta: map[string]string{"pending_timeout": "5m0s"}}, end(nil)},
			"request expired unapproved after 5m0s"},
		{"cancelled", []event.Event{start("shell"), request, {Type: event.ApprovalCancel, Actor: "alice"}, end(nil)}, "request cancelled by alice"},
		{"pending", []event.Event{start("shell"), request}, "waiting for approval"},
		{"terminated", []event.Event{start("shell"), request, {Type: event.ApprovalGrant, Actor: "bob"},
			{Type: event.SessionTerminate, Actor: "bob"}, end(nil)}, "terminated by bob"},
		{"gateway", []event.Event{start("gateway"), {Type: event.AuthFailure}}, "kind gateway"},
		{"open", []event.Event{start("shell")}, "still open"},
		{"interrupted", []event.Event{start("shell"), end(map[string]string{"interrupted": "true"})}, "interrupted: closed by the recorder after a crash"},
		{"quiet exec", []event.Event{start("exec"), {Type: event.Exec, Data: []byte("true")}, end(map[string]string{"exit_status": "0"})},
			`exec "true" printed nothing, exit status 0`},
		{"unknown", []event.Event{start("shell"), end(map[string]string{"exit_status": "0"})}, ""},
	}
	for _, tt := range tests {
		if got := noOutputReason(tt.evs); got != tt.want {
			t.Errorf("%s: noOutputReason = %q; want %q", tt.name, got, tt.want)
		}
	}
}
