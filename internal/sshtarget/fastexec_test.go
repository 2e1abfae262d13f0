package sshtarget_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// TestFastExecRepliesBeforeClose runs many commands that exit at once: the
// target must confirm each exec before it reports the exit and closes the
// channel, or the client reads the close as a refusal although the command
// ran.
func TestFastExecRepliesBeforeClose(t *testing.T) {
	tg, key := startTarget(t)
	c := dial(t, tg, key)
	const n = 400
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- fastExec(c, i)
		}(i)
	}
	wg.Wait()
	close(errs)
	var failed int
	for err := range errs {
		if err != nil {
			if failed < 5 {
				t.Error(err)
			}
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d fast commands misreported", failed, n)
	}
}

// fastExec runs "echo out-I; exit I%7" and checks what the client saw.
func fastExec(c *gossh.Client, i int) error {
	s, err := c.NewSession()
	if err != nil {
		return fmt.Errorf("exec %d: new session: %w", i, err)
	}
	defer s.Close()
	out, err := s.Output(fmt.Sprintf("echo out-%d; exit %d", i, i%7))
	want := fmt.Sprintf("out-%d\n", i)
	var exitErr *gossh.ExitError
	switch {
	case i%7 == 0 && err != nil:
		return fmt.Errorf("exec %d: %w (output %q)", i, err, out)
	case i%7 != 0 && (!errors.As(err, &exitErr) || exitErr.ExitStatus() != i%7):
		return fmt.Errorf("exec %d: err %v; want exit status %d (output %q)", i, err, i%7, out)
	case string(out) != want:
		return fmt.Errorf("exec %d: output %q; want %q", i, out, want)
	}
	return nil
}
