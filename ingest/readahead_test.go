package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"
)

// readAheadPair returns a readAheadConn over loopback TCP with a small
// buffer, and the server's end.
func readAheadPair(t *testing.T, size int) (*readAheadConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := dialReadAhead(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	rc := c.(*readAheadConn)
	rc.buf = make([]byte, size)
	t.Cleanup(func() { rc.Close(); srv.Close() })
	return rc, srv
}

// TestReadAheadConnKeepsTheStream: bytes come out whole and in order
// through kafka-go's way of reading (a 4 KiB bufio.Reader, small reads).
func TestReadAheadConnKeepsTheStream(t *testing.T) {
	c, srv := readAheadPair(t, 10000)
	want := make([]byte, 300000)
	for i := range want {
		want[i] = byte(rand.N(256))
	}
	go func() {
		srv.Write(want)
		srv.Close()
	}()
	r := bufio.NewReaderSize(c, 4096)
	var got bytes.Buffer
	chunk := make([]byte, 437)
	for {
		c.SetReadDeadline(time.Now().Add(time.Minute)) // as kafka-go does per message
		n, err := io.ReadFull(r, chunk)
		got.Write(chunk[:n])
		if err != nil {
			break
		}
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("read %d bytes, different from the %d written", got.Len(), len(want))
	}
}

// TestReadAheadConnDeadlines: a deadline bounds a read that waits for the
// socket, whether it was set before the read or while it waits; buffered
// bytes are returned without waiting.
func TestReadAheadConnDeadlines(t *testing.T) {
	c, srv := readAheadPair(t, 1024)
	buf := make([]byte, 10)

	// Set before: the wait fails with the deadline.
	c.SetReadDeadline(time.Now().Add(-time.Second))
	early := make(chan error, 1)
	go func() {
		_, err := c.Read(buf)
		early <- err
	}()
	select {
	case err := <-early:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read past the deadline = %v; want a deadline error", err)
		}
	case <-time.After(30 * time.Second): // bounds a hang; asserts no speed
		t.Fatal("a deadline set before a Read did not bound its wait")
	}

	// Cleared: data that arrives is read, and what is left stays
	// buffered even once a past deadline is set again.
	c.SetReadDeadline(time.Time{})
	if _, err := srv.Write([]byte("0123456789abcdefghij")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 0, 20)
	for len(got) < 10 {
		n, err := c.Read(buf[:10-len(got)])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	for c.r == c.w { // the second half may still be in the socket
		if n, err := c.wait(c.buf); err != nil {
			t.Fatal(err)
		} else {
			c.r, c.w = 0, n
		}
	}
	c.SetReadDeadline(time.Now().Add(-time.Second))
	n, err := c.Read(buf)
	if err != nil || n == 0 {
		t.Fatalf("Read of buffered bytes past the deadline = %d, %v; want them", n, err)
	}

	// Set while a read waits: the read ends.
	c.SetReadDeadline(time.Time{})
	for c.r < c.w { // drain what is buffered
		c.Read(buf)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(buf)
		done <- err
	}()
	for {
		c.mu.Lock()
		waiting := c.waiting
		c.mu.Unlock()
		if waiting {
			break
		}
		time.Sleep(time.Millisecond)
	}
	c.SetReadDeadline(time.Now())
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("waiting Read after a new deadline = %v; want a deadline error", err)
		}
	case <-time.After(30 * time.Second): // bounds a hang; asserts no speed
		t.Fatal("a deadline set while a Read waited did not end it")
	}
}
