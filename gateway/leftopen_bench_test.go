package gateway

import "testing"

// BenchmarkHostChannelHandle measures what the left-open check costs an
// output copier per chunk (hostChannel.handle and done around recording
// and showing it): alone, and with copiers of stdout and stderr at once
// (RunParallel, GOMAXPROCS goroutines on one session).
func BenchmarkHostChannelHandle(b *testing.B) {
	s := &Server{}
	b.Run("one-copier", func(b *testing.B) {
		var hc hostChannel
		for i := 0; i < b.N; i++ {
			if hc.handle(s, 1) {
				hc.done()
			}
		}
	})
	b.Run("parallel-copiers", func(b *testing.B) {
		var hc hostChannel
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if hc.handle(s, 1) {
					hc.done()
				}
			}
		})
	})
}
