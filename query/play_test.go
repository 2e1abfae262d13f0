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
