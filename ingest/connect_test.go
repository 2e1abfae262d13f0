package ingest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"

	"github.com/foureyes/foureyes/internal/freeport"
)

func TestConnect(t *testing.T) {
	srv := sharedServer(t)
	ctx := context.Background()
	db := fmt.Sprintf("connect%d", os.Getpid())
	for i := 0; i < 2; i++ { // creates, then finds
		conn, err := Connect(ctx, config.ClickHouse{Addr: srv.Addr, Database: db})
		if err != nil {
			t.Fatalf("Connect #%d = %v", i, err)
		}
		var current string
		if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&current); err != nil || current != db {
			t.Fatalf("currentDatabase() = %q, %v; want %q", current, err, db)
		}
		v, err := ServerVersion(ctx, conn)
		if err != nil || v == "" {
			t.Fatalf("ServerVersion = %q, %v", v, err)
		}
		conn.Close()
	}

	dead := freeport.MustAddr(t) // nothing listens there
	if _, err := Connect(ctx, config.ClickHouse{Addr: dead, DialTimeout: time.Second}); err == nil {
		t.Fatal("Connect to a closed port = nil; want an error")
	}
}
