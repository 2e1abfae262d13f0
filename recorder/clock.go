package recorder

import "time"

// clock is the recorder's source of time: event timestamps and the output
// chunk timer. Tests replace it to control both.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) timer
}

// timer is the part of *time.Timer the recorder uses.
type timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// wallClock is the real clock.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) AfterFunc(d time.Duration, f func()) timer { return time.AfterFunc(d, f) }
