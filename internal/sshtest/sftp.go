package sshtest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// Paths of the OpenSSH file-transfer clients.
const (
	SFTPPath = "/usr/bin/sftp"
	SCPPath  = "/usr/bin/scp"
)

// RequireSFTP skips tb without sftp and scp (fails under CI=true).
func RequireSFTP(tb testing.TB) {
	tb.Helper()
	requireBinary(tb, SFTPPath, "openssh-client")
	requireBinary(tb, SCPPath, "openssh-client")
}

// transferArgs are the options sftp and scp take from c: the fixed ones
// of ssh, the port (-P) and key, then c.Options.
func (c *Client) transferArgs() []string {
	_, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		port = "22"
	}
	args := []string{
		"-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes",
		"-o", "BatchMode=yes",
		"-o", "LogLevel=ERROR",
		"-P", port,
	}
	if c.Key != "" {
		args = append(args, "-i", c.Key)
	}
	return append(args, c.Options...)
}

// Dest returns c's destination as sftp and scp name it: USER@HOST.
func (c *Client) Dest() string {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		host = c.Addr
	}
	if c.User == "" {
		return host
	}
	return c.User + "@" + host
}

// SFTPCommand returns `sftp -b - OPTIONS USER@HOST`: the batch comes on
// its standard input. Benchmarks wire its streams themselves.
func (c *Client) SFTPCommand(ctx context.Context) *exec.Cmd {
	args := append([]string{"-b", "-"}, c.transferArgs()...)
	cmd := exec.CommandContext(ctx, SFTPPath, append(args, c.Dest())...)
	cmd.Env = append(cleanEnv(), c.Env...)
	return cmd
}

// RunSFTP runs the sftp batch (one command a line; sftp stops at the
// first that fails) against c and returns what sftp printed and its
// exit status.
func RunSFTP(tb testing.TB, c *Client, batch string) Result {
	tb.Helper()
	RequireSFTP(tb)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	return runCmd(tb, ctx, c.SFTPCommand(ctx), batch, "sftp")
}

// RunSCP runs `scp OPTIONS ARGS` against c (modern scp: the SFTP
// protocol); remote paths are written c.Dest()+":PATH".
func RunSCP(tb testing.TB, c *Client, args ...string) Result {
	tb.Helper()
	RequireSFTP(tb)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, SCPPath, append(c.transferArgs(), args...)...)
	cmd.Env = append(cleanEnv(), c.Env...)
	return runCmd(tb, ctx, cmd, "", "scp")
}

// runCmd runs cmd with stdin and collects its output and exit status.
func runCmd(tb testing.TB, ctx context.Context, cmd *exec.Cmd, stdin, name string) Result {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		tb.Fatalf("sshtest: %s still running after %v; stderr:\n%s", name, waitLimit, res.Stderr)
	case err == nil:
	case errors.As(err, &exitErr):
		res.Exit = exitErr.ExitCode()
	default:
		tb.Fatalf("sshtest: run %s: %v", name, err)
	}
	return res
}
