package searchbench

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/foureyes/foureyes/internal/chserver"
	"github.com/foureyes/foureyes/query"
)

// The benchmarks run on a persistent data directory named by
// SEARCHBENCH_DATA, generated (or completed) first with
// SEARCHBENCH_EVENTS events (default 100,000,000): make bench-search.
// Without SEARCHBENCH_DATA they skip. SEARCHBENCH_GENERATE=0 measures
// the days already generated and adds none.

var bench struct {
	once  sync.Once
	srv   *chserver.Server
	conn  driver.Conn
	store *query.Store
	cfg   Config
	err   error
	// planted reports whether the day of the planted command is there.
	planted bool
	// hostDays are (host, day start) pairs that have sessions.
	hostDays []hostDay
	// busy are the names that took part in the most sessions.
	busy []string
}

type hostDay struct {
	host string
	day  time.Time
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.srv != nil {
		bench.conn.Close()
		bench.srv.Stop()
	}
	os.Exit(code)
}

// benchStore returns the store over the benchmark data, generating what
// is missing on first use.
func benchStore(b *testing.B) *query.Store {
	b.Helper()
	dir := os.Getenv("SEARCHBENCH_DATA")
	if dir == "" {
		b.Skip("searchbench: set SEARCHBENCH_DATA=DIR (and SEARCHBENCH_EVENTS=N, default 100000000) to run; make bench-search does")
	}
	bench.once.Do(func() {
		ctx := context.Background()
		bench.cfg = Config{Events: 100_000_000, Progress: os.Stderr}
		if v := os.Getenv("SEARCHBENCH_EVENTS"); v != "" {
			if bench.cfg.Events, bench.err = strconv.Atoi(v); bench.err != nil {
				return
			}
		}
		if bench.srv, bench.conn, bench.err = OpenDir(ctx, dir, Database); bench.err != nil {
			return
		}
		fmt.Fprintf(os.Stderr, "searchbench: data in %s (clickhouse %s)\n", dir, bench.srv.Addr)
		if os.Getenv("SEARCHBENCH_GENERATE") != "0" {
			if bench.err = Generate(ctx, bench.conn, Database, bench.cfg); bench.err != nil {
				return
			}
		}
		sizes, err := DiskSizes(ctx, bench.conn, Database)
		if bench.err = err; err != nil {
			return
		}
		fmt.Fprint(os.Stderr, sizes)
		bench.store = query.NewStore(bench.conn)
		var n uint64
		day := bench.cfg.Start().AddDate(0, 0, PlantDay)
		if bench.err = bench.conn.QueryRow(ctx, "SELECT count() FROM searchbench_days WHERE day = ?",
			uint32(day.Year()*10000+int(day.Month())*100+day.Day())).Scan(&n); bench.err != nil {
			return
		}
		bench.planted = n > 0
		if bench.hostDays, bench.err = pickHostDays(ctx, bench.conn, 60); bench.err != nil {
			return
		}
		bench.busy, bench.err = busiestParticipants(ctx, bench.conn, 10)
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.store
}

// pickHostDays returns n (host, day) pairs with sessions, spread over the
// window (setup, not measured).
func pickHostDays(ctx context.Context, conn driver.Conn, n int) ([]hostDay, error) {
	rows, err := conn.Query(ctx, `SELECT host, toStartOfDay(started) AS d FROM sessions
		WHERE cityHash64(session) % 1000 = 7 ORDER BY cityHash64(session) LIMIT ?`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []hostDay
	for rows.Next() {
		var h hostDay
		if err := rows.Scan(&h.host, &h.day); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// busiestParticipants returns the n names that took part in the most
// sessions (setup, not measured): the listings whose ids outnumber the
// literal set.
func busiestParticipants(ctx context.Context, conn driver.Conn, n int) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM participants GROUP BY name ORDER BY uniqExact(session) DESC, name LIMIT ?", n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// users returns n user names spread over busy and quiet ones.
func users(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "user" + strconv.Itoa((i*i*37+i)%3000)
	}
	return out
}

// commandQueries returns the command searches: exact rare lines, common
// prefixes, single words and a text found nowhere.
func commandQueries() []string {
	var out []string
	for i := 0; i < 60; i++ {
		t := commandTemplates[i%len(commandTemplates)]
		switch i % 4 {
		case 0:
			out = append(out, t[0]+strconv.Itoa(i*17%1000)+t[1])
		case 1:
			out = append(out, t[0])
		case 2:
			out = append(out, fmt.Sprintf("%s%d", t[0], i%10))
		default:
			out = append(out, fmt.Sprintf("nowhere-%d", i))
		}
	}
	out = append(out, Planted)
	return out
}

// measure runs each query b.N times and reports p50-ms and p99-ms.
func measure(b *testing.B, n int, run func(i int) error) {
	b.Helper()
	var ms []float64
	b.ResetTimer()
	for range b.N {
		for i := range n {
			t := time.Now()
			if err := run(i); err != nil {
				b.Fatalf("query %d: %v", i, err)
			}
			ms = append(ms, float64(time.Since(t).Microseconds())/1000)
		}
	}
	b.StopTimer()
	slices.Sort(ms)
	pct := func(p float64) float64 { return ms[max(0, int(math.Ceil(p*float64(len(ms))))-1)] }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(ms)), "queries")
}

func BenchmarkSearchCommand(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	qs := commandQueries()
	measure(b, len(qs), func(i int) error {
		page, err := s.Search(ctx, query.SearchFilter{Command: qs[i]})
		// The planted day may not be generated yet (a partial data set).
		if err == nil && qs[i] == Planted && bench.planted && (len(page.Hits) != 1 || page.Hits[0].Actor != PlantTypist) {
			err = fmt.Errorf("planted command: %+v", page.Hits)
		}
		return err
	})
}

func BenchmarkSearchCommandByUser(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	qs, us := commandQueries(), users(60)
	measure(b, len(us), func(i int) error {
		_, err := s.Search(ctx, query.SearchFilter{Command: qs[i%len(qs)], User: us[i]})
		return err
	})
}

func BenchmarkSearchOutputDayHost(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	measure(b, len(bench.hostDays), func(i int) error {
		hd := bench.hostDays[i]
		msg := outputMessages[i%len(outputMessages)]
		_, err := s.Search(ctx, query.SearchFilter{Output: msg[:len(msg)/2], Host: hd.host, Since: hd.day, Until: hd.day.Add(24 * time.Hour)})
		return err
	})
}

// sessionFilters are the `audit sessions` filters benchmarked, each
// varied over 60 values.
var sessionFilters = []struct {
	name string
	f    func(i int) query.Filter
}{
	{"Participant", func(i int) query.Filter { return query.Filter{Participant: users(60)[i]} }},
	{"Approver", func(i int) query.Filter { return query.Filter{Approver: users(60)[i]} }},
	// The busiest names: thousands of sessions each, more than the
	// literal set carries.
	{"ParticipantBusy", func(i int) query.Filter { return query.Filter{Participant: bench.busy[i%len(bench.busy)]} }},
	{"User", func(i int) query.Filter { return query.Filter{User: users(60)[i]} }},
	{"Host", func(i int) query.Filter { return query.Filter{Host: bench.hostDays[i].host} }},
	{"Day", func(i int) query.Filter {
		return query.Filter{Since: bench.hostDays[i].day, Until: bench.hostDays[i].day.Add(24 * time.Hour)}
	}},
	{"KindExec", func(i int) query.Filter { return query.Filter{Kind: "exec", Since: bench.hostDays[i].day} }},
	{"Transfers", func(i int) query.Filter { return query.Filter{Transfers: true, Since: bench.hostDays[i].day} }},
	// The session.end meta of the events since a day, and of all days.
	{"HostChannelOpen", func(i int) query.Filter { return query.Filter{HostChannelOpen: true, Since: bench.hostDays[i].day} }},
	{"HostChannelOpenAll", func(int) query.Filter { return query.Filter{HostChannelOpen: true} }},
}

func BenchmarkSessions(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	for _, sf := range sessionFilters {
		b.Run(sf.name, func(b *testing.B) {
			measure(b, 60, func(i int) error {
				_, err := s.SessionsPage(ctx, sf.f(i))
				return err
			})
		})
	}
}
