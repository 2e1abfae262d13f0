package recorder

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
)

// TestCrashedProcess kills a real process that is recording (SIGKILL, no
// Close) and checks that the next start closes its sessions with a
// verifiable interrupted end.
func TestCrashedProcess(t *testing.T) {
	if dir := os.Getenv("RECORDER_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashedProcess$")
	cmd.Env = append(os.Environ(), "RECORDER_CRASH_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}

	cfg := Config{Gateway: "gw-test", SpoolDir: dir, Logger: testLogger(t)}
	r := openTest(t, cfg, options{})
	groups := bySession(diskEvents(t, dir))
	if len(groups) != 3 {
		t.Fatalf("%d sessions after the crash; want 3", len(groups))
	}
	for id, evs := range groups {
		if b := event.Verify(evs); b != nil {
			t.Errorf("%s: %v", id, b)
		}
		end := evs[len(evs)-1]
		if end.Type != event.SessionEnd {
			t.Errorf("%s: last event is %s", id, end.Type)
		}
		if id == "ended" && end.Meta["interrupted"] != "" {
			t.Errorf("ended session marked interrupted")
		}
		if id != "ended" && end.Meta["interrupted"] != "true" {
			t.Errorf("%s: end not marked interrupted: %v", id, end.Meta)
		}
	}
	if n := len(groups["durable"]); n < 1+100+1 {
		t.Errorf("durable session has %d events; the 100 fsync'd inputs were lost", n)
	}
	if st := r.Stats(); st.OpenSessions != 0 {
		t.Errorf("open sessions after recovery: %d", st.OpenSessions)
	}
}

// crashChild records, makes part of it durable, keeps writing and kills
// itself.
func crashChild(dir string) {
	r, err := New(Config{Gateway: "gw-child", SpoolDir: dir, SyncInterval: 5 * time.Millisecond})
	if err != nil {
		os.Exit(2)
	}
	ended, _ := r.Start(StartInfo{ID: "ended", User: "alice"})
	ended.Input("alice", []byte("exit\r"))
	if err := ended.End(0, nil); err != nil {
		os.Exit(3)
	}
	s, _ := r.Start(StartInfo{ID: "durable", User: "alice"})
	for i := 0; i < 100; i++ {
		s.Input("alice", []byte{'a'})
	}
	if err := r.spool.sync(); err != nil {
		os.Exit(4)
	}
	busy, _ := r.Start(StartInfo{ID: "busy", User: "bob"})
	go func() {
		for {
			busy.Output([]byte("streaming output that is being written when the process dies\r\n"))
			s.Input("alice", []byte{'b'})
		}
	}()
	time.Sleep(30 * time.Millisecond)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}
