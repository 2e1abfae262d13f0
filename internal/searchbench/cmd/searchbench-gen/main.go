// Command searchbench-gen fills (or completes) a persistent ClickHouse
// data directory with generated recordings for the search benchmarks:
//
//	go run ./internal/searchbench/cmd/searchbench-gen -data /tmp/foureyes-searchbench-100M -events 100000000
//
// It starts clickhouse-server on DIR/clickhouse, generates the days not
// yet there (printing one line per day), prints the size on disk and
// stops the server.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/foureyes/foureyes/internal/searchbench"
)

func main() {
	dir := flag.String("data", "", "data directory (required)")
	events := flag.Int("events", 100_000_000, "events to generate in all")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "searchbench-gen: -data DIR is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *dir, *events); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string, events int) error {
	srv, conn, err := searchbench.OpenDir(ctx, dir, searchbench.Database)
	if err != nil {
		return err
	}
	defer srv.Stop()
	defer conn.Close()
	fmt.Printf("searchbench-gen: data in %s (clickhouse %s)\n", dir, srv.Addr)
	cfg := searchbench.Config{Events: events, Progress: os.Stdout}
	if err := searchbench.Generate(ctx, conn, searchbench.Database, cfg); err != nil {
		return err
	}
	sizes, err := searchbench.DiskSizes(ctx, conn, searchbench.Database)
	if err != nil {
		return err
	}
	fmt.Print(sizes)
	return nil
}
