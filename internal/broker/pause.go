package broker

import (
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// PauseProduce makes the broker hold every produce request until resume
// is called, as a Kafka that keeps its connections but takes nothing
// (overloaded, or a partition without a leader): producers wait, time
// out and retry. Held requests are then served; a producer that gave up
// on one sends it again, so readers see duplicates (as with a real
// broker). For tests of a recorder that falls behind; resume is
// idempotent, and closing the broker releases held requests too.
func (b *Broker) PauseProduce() (resume func()) {
	release := make(chan struct{})
	var paused atomic.Bool
	paused.Store(true)
	b.c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		if !paused.Load() {
			b.c.DropControl()
			return nil, nil, false
		}
		b.c.SleepControl(func() { <-release })
		return nil, nil, false // then served as usual
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			paused.Store(false)
			close(release)
		})
	}
}
