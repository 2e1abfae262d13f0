package devstack

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/foureyes/foureyes/recorder"
)

// BenchmarkOutputToQueryableLag measures, through the whole dev stack, the
// time from a chunk of output produced in a session to its row being
// readable in ClickHouse (spool fsync, Kafka, ingest batch, insert).
// Reported: p50 and p99 in milliseconds (target p99 < 2000).
func BenchmarkOutputToQueryableLag(b *testing.B) {
	st, err := Start(context.Background(), Options{Dir: b.TempDir(), SSHAddr: "127.0.0.1:0", Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	sess, err := st.Recorder.Start(recorder.StartInfo{Kind: "shell", User: "bench", Host: "demo-staging", Class: "logs", Retention: 3})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	const samples = 200
	lags := make([]time.Duration, 0, samples)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < samples; j++ {
			marker := fmt.Sprintf("marker-%d-%d\n", i, j)
			start := time.Now()
			sess.Output([]byte(marker))
			for {
				var n uint64
				row := st.ClickHouse.QueryRow(ctx, "SELECT count() FROM events WHERE session = ? AND position(data, ?) > 0", sess.ID(), marker)
				if err := row.Scan(&n); err != nil {
					b.Fatal(err)
				}
				if n > 0 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			lags = append(lags, time.Since(start))
		}
	}
	b.StopTimer()
	sess.End(0, nil)
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	b.ReportMetric(float64(lags[len(lags)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Milliseconds()), "p99-ms")
}
