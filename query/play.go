package query

import (
	"context"
	"fmt"
	"io"
	"iter"
	"math"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/termsafe"
)

// DefaultMaxIdle is the longest pause Play makes when PlayOptions.MaxIdle
// is zero.
const DefaultMaxIdle = 2 * time.Second

// minSleep is the smallest pause Play sleeps for; shorter gaps are owed and
// slept together, so a burst of small chunks costs no timer per chunk.
const minSleep = 10 * time.Millisecond

// PlayOptions tune Play.
type PlayOptions struct {
	// Speed multiplies playback speed: 2 plays twice as fast. Zero,
	// negative or non-finite means 1.
	Speed float64
	// MaxIdle caps each recorded pause before Speed applies (asciinema's
	// idle time limit). Zero means DefaultMaxIdle; negative means no cap.
	MaxIdle time.Duration

	// sleep waits for d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// Play writes the output events to w through a termsafe.Sanitizer, pausing between
// them as recorded (scaled by Speed, capped by MaxIdle). Input, resize and
// other events are not replayed. At the end — or when ctx is cancelled —
// it writes the sequences that restore the viewer's terminal
// (Sanitizer.Restore), unless it wrote no output at all: a stream without
// output (see hasOutput) leaves w untouched.
func Play(ctx context.Context, w io.Writer, events []event.Event, opt PlayOptions) error {
	return playSeq(ctx, w, func(yield func(*event.Event) bool) {
		for i := range events {
			if !yield(&events[i]) {
				return
			}
		}
	}, opt)
}

// playSeq is Play over a sequence of events, holding none of them after
// they are written.
func playSeq(ctx context.Context, w io.Writer, events iter.Seq[*event.Event], opt PlayOptions) error {
	speed := opt.Speed
	if speed <= 0 || math.IsNaN(speed) || math.IsInf(speed, 0) {
		speed = 1
	}
	maxIdle := opt.MaxIdle
	if maxIdle == 0 {
		maxIdle = DefaultMaxIdle
	}
	sleep := opt.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	var (
		san  termsafe.Sanitizer
		buf  []byte
		prev int64
		owed time.Duration
		err  error
		seen bool
	)
	for e := range events {
		if m := transferMarker(e); m != "" && seen {
			// Where output was summarised: one line, after what was shown.
			buf = append(san.Flush(buf), "\r\n"+m+"\r\n"...)
			continue
		}
		if e.Type != event.Output || len(e.Data) == 0 {
			continue
		}
		if err = ctx.Err(); err != nil {
			break
		}
		if seen {
			gap := time.Duration(max(e.Time-prev, 0))
			if maxIdle > 0 {
				gap = min(gap, maxIdle)
			}
			owed += time.Duration(float64(gap) / speed)
		}
		seen, prev = true, e.Time
		if owed >= minSleep {
			if len(buf) > 0 {
				if _, err = w.Write(buf); err != nil {
					return fmt.Errorf("query: play: %w", err)
				}
				buf = buf[:0]
			}
			if err = sleep(ctx, owed); err != nil {
				break
			}
			owed = 0
		}
		buf = san.Append(buf, e.Data)
	}
	if !seen {
		if err != nil {
			return fmt.Errorf("query: play: %w", err)
		}
		return nil
	}
	buf = san.Restore(san.Flush(buf))
	if _, werr := w.Write(buf); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("query: play: %w", err)
	}
	return nil
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hasOutput reports whether events hold any output to replay.
func hasOutput(events []event.Event) bool {
	for i := range events {
		if events[i].Type == event.Output && len(events[i].Data) > 0 {
			return true
		}
	}
	return false
}
