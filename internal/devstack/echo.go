package devstack

import (
	"fmt"
	"io"
	"log/slog"
	"net"
)

// startEcho starts the demo service: a TCP server on loopback that sends
// back what it receives, standing in for a database that admins reach
// with ssh -L through demo-staging. It serves until the listener closes.
func startEcho(log *slog.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("devstack: demo service: %w", err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := io.Copy(c, c); err != nil {
					log.Debug("demo service", "err", err)
				}
			}()
		}
	}()
	return ln, nil
}
