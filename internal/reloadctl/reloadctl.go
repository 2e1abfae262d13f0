// Package reloadctl lets `foureyes reload` ask a running gateway to
// reload its configuration and hear the answer. The gateway writes its
// pid to DATA_DIR/gateway.pid and, after every reload, the outcome to
// DATA_DIR/reload.status (JSON); `foureyes reload` sends SIGHUP to the
// pid and waits for a newer status.
package reloadctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// File names under the gateway's data_dir.
const (
	PIDFile    = "gateway.pid"
	StatusFile = "reload.status"
)

// ErrNoGateway means no running gateway answers for the data_dir.
var ErrNoGateway = errors.New("reloadctl: no running gateway")

// Status is the outcome of one reload.
type Status struct {
	// Seq orders statuses: nanoseconds since the epoch when written.
	Seq int64 `json:"seq"`
	// OK is false when the configuration was refused; Error says why.
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Changes, NotApplied and Revoked are gateway.ReloadResult's.
	Changes    []string `json:"changes,omitempty"`
	NotApplied []string `json:"not_applied,omitempty"`
	Revoked    int      `json:"revoked"`
}

// Listener catches SIGHUP for a gateway whose pid it publishes in dir.
type Listener struct {
	dir string
	hup chan os.Signal
}

// Listen starts catching SIGHUP, then writes the process's pid into dir:
// a signal sent by anyone who read the pid can no longer end the process
// by its default action. Close undoes both.
func Listen(dir string) (*Listener, error) {
	l := &Listener{dir: dir, hup: make(chan os.Signal, 1)}
	signal.Notify(l.hup, syscall.SIGHUP)
	path := filepath.Join(dir, PIDFile)
	line := strconv.Itoa(os.Getpid())
	if st, ok := startTime(os.Getpid()); ok {
		line += " " + st // tells a stale pid file from a reused pid
	}
	if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
		signal.Stop(l.hup)
		return nil, fmt.Errorf("reloadctl: %w", err)
	}
	return l, nil
}

// Serve calls reload for every SIGHUP until ctx ends, writing each
// outcome to the status file.
func (l *Listener) Serve(ctx context.Context, reload func() Status) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.hup:
			if err := WriteStatus(l.dir, reload()); err != nil {
				slog.Error("reload status not written; foureyes reload will time out", "err", err)
			}
		}
	}
}

// Close stops catching SIGHUP and removes the pid file.
func (l *Listener) Close() {
	signal.Stop(l.hup)
	os.Remove(filepath.Join(l.dir, PIDFile))
}

// WriteStatus replaces dir's status file with st (Seq set now).
func WriteStatus(dir string, st Status) error {
	st.Seq = time.Now().UnixNano()
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("reloadctl: %w", err)
	}
	tmp := filepath.Join(dir, StatusFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("reloadctl: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, StatusFile)); err != nil {
		return fmt.Errorf("reloadctl: %w", err)
	}
	return nil
}

// readStatus returns dir's status; the zero Status when there is none.
func readStatus(dir string) (Status, error) {
	var st Status
	b, err := os.ReadFile(filepath.Join(dir, StatusFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reloadctl: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("reloadctl: %s: %w", StatusFile, err)
	}
	return st, nil
}

// Request sends SIGHUP to the gateway whose pid is in dir and waits, up
// to timeout, for the status of that reload.
func Request(dir string, timeout time.Duration) (Status, error) {
	b, err := os.ReadFile(filepath.Join(dir, PIDFile))
	if err != nil {
		return Status{}, fmt.Errorf("%w: %v (is the gateway running with this data_dir?)", ErrNoGateway, err)
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return Status{}, fmt.Errorf("%w: %s holds no pid", ErrNoGateway, PIDFile)
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil || pid <= 0 {
		return Status{}, fmt.Errorf("%w: %s holds no pid", ErrNoGateway, PIDFile)
	}
	if len(fields) > 1 {
		// A gateway that died left its pid file; the pid may now be
		// another process's, which SIGHUP would end.
		if st, ok := startTime(pid); !ok || st != fields[1] {
			return Status{}, fmt.Errorf("%w: %s is stale (pid %d is not the gateway that wrote it)", ErrNoGateway, PIDFile, pid)
		}
	}
	before, err := readStatus(dir)
	if err != nil {
		return Status{}, err
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return Status{}, fmt.Errorf("%w: pid %d: %v", ErrNoGateway, pid, err)
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		st, err := readStatus(dir)
		if err == nil && st.Seq > before.Seq {
			return st, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return Status{}, fmt.Errorf("reloadctl: pid %d did not answer within %v; see its log", pid, timeout)
}

// startTime returns the start time of process pid as Linux reports it
// (field 22 of /proc/PID/stat, in clock ticks since boot); false where
// there is no /proc.
func startTime(pid int) (string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", false
	}
	// "PID (COMM) STATE PPID …": COMM may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", false
	}
	f := strings.Fields(string(b)[i+1:])
	const startField = 22 - 3 // fields counted from STATE, the third
	if len(f) <= startField {
		return "", false
	}
	return f[startField], true
}
