package sshtest

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// Result is the outcome of Run.
type Result struct {
	Stdout, Stderr string
	// Exit is ssh's exit status: the remote command's, or 255 when ssh
	// itself failed.
	Exit int
}

// Run executes c without a terminal (TTY is ignored), feeding c.Stdin,
// and returns what it printed and its exit status. It fails the test if
// ssh cannot be started or runs longer than a minute.
func Run(tb testing.TB, c *Client) Result {
	tb.Helper()
	RequireSSH(tb)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := c.command(ctx, false)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(c.Stdin)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		tb.Fatalf("sshtest: ssh %v still running after %v; stderr:\n%s", c.Args, waitLimit, res.Stderr)
	case err == nil:
	case errors.As(err, &exitErr):
		res.Exit = exitErr.ExitCode()
	default:
		tb.Fatalf("sshtest: run ssh: %v", err)
	}
	return res
}
