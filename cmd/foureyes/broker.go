package main

import (
	"context"
	"fmt"
	"io"

	"github.com/foureyes/foureyes/internal/broker"
)

// runBroker runs kfake as a separate process, so that fault-injection tests
// and demos can stop and start "Kafka" independently of the gateway.
func runBroker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("broker", stderr)
	data := fs.String("data", "", "`DIR` that keeps topics, records and offsets across restarts (required)")
	addr := fs.String("addr", "127.0.0.1:9092", "listen `ADDR`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		fmt.Fprintln(stderr, "foureyes broker: --data is required")
		return errUsage
	}
	b, err := broker.Start(*addr, *data)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "broker listening on %s (data in %s)\n", b.Addr(), *data)
	<-ctx.Done()
	b.Close()
	return nil
}
