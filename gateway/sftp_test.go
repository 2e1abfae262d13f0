package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
)

// sftpClient is user's sftp or scp to host through the bastion, the host
// named in the user name.
func (f *fixture) sftpClient(user, host string) *sshtest.Client {
	c := &sshtest.Client{Addr: f.addr, User: user, Key: f.keys[user]}
	if host != "" {
		c.User += TargetSep + host
	}
	return c
}

// sha returns the hex SHA-256 of b.
func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// randomFile writes n pseudo-random bytes to path and returns them.
func randomFile(t *testing.T, path string, n int, seed uint64) []byte {
	t.Helper()
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed+1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// sftpSessions returns the recorded events of user's sftp sessions on host.
func (f *fixture) sftpSessions(user, host string) [][]event.Event {
	f.t.Helper()
	ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "sftp" && i.User == user && i.Host == host })
	all := f.streams()
	var out [][]event.Event
	for _, id := range ids {
		out = append(out, all[id])
	}
	return out
}

// TestSFTPThroughBastion: the real sftp client in batch mode and modern
// scp (SFTP underneath) through the bastion, the host named in the user
// name: every file arrives intact, every operation is a file.op, every
// file a transfer whose size and hash are the file's, and no SFTP byte is
// recorded as terminal input or output.
func TestSFTPThroughBastion(t *testing.T) {
	sshtest.RequireSFTP(t)
	f := newFixture(t, fixtureOptions{})
	local := t.TempDir()
	home := filepath.Join(f.dir, "home")
	big := randomFile(t, filepath.Join(local, "big.bin"), 1<<20+12345, 1)
	small := randomFile(t, filepath.Join(local, "gone.txt"), 100, 2)
	batch := strings.Join([]string{
		"put " + filepath.Join(local, "big.bin") + " big.bin",
		"put " + filepath.Join(local, "gone.txt") + " gone.txt",
		"mkdir d",
		"rename big.bin d/big.bin",
		"get d/big.bin " + filepath.Join(local, "back.bin"),
		"symlink d/big.bin link",
		"rm gone.txt",
		"ls d",
	}, "\n") + "\n"
	res := sshtest.RunSFTP(t, f.sftpClient("alice", "demo"), batch)
	if res.Exit != 0 {
		t.Fatalf("sftp exit %d; stderr:\n%s\nstdout:\n%s", res.Exit, res.Stderr, res.Stdout)
	}
	if got, err := os.ReadFile(filepath.Join(home, "d", "big.bin")); err != nil || !bytes.Equal(got, big) {
		t.Errorf("uploaded file on the host: %d bytes, %v; want %d bytes", len(got), err, len(big))
	}
	if got, err := os.ReadFile(filepath.Join(local, "back.bin")); err != nil || !bytes.Equal(got, big) {
		t.Errorf("downloaded file: %d bytes, %v; want %d bytes", len(got), err, len(big))
	}
	if l, err := os.Readlink(filepath.Join(home, "link")); err != nil || l != "d/big.bin" {
		t.Errorf("symlink on the host = %q, %v; want d/big.bin", l, err)
	}
	if _, err := os.Stat(filepath.Join(home, "gone.txt")); !os.IsNotExist(err) {
		t.Errorf("removed file still on the host: %v", err)
	}

	// modern scp: SFTP underneath, both ways
	scpDest := f.sftpClient("alice", "demo")
	if r := sshtest.RunSCP(t, scpDest, filepath.Join(local, "gone.txt"), scpDest.Dest()+":scp.txt"); r.Exit != 0 {
		t.Fatalf("scp upload: %+v", r)
	}
	if r := sshtest.RunSCP(t, scpDest, scpDest.Dest()+":d/big.bin", filepath.Join(local, "scp-back.bin")); r.Exit != 0 {
		t.Fatalf("scp download: %+v", r)
	}
	if got, err := os.ReadFile(filepath.Join(home, "scp.txt")); err != nil || !bytes.Equal(got, small) {
		t.Errorf("scp upload on the host: %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(local, "scp-back.bin")); err != nil || !bytes.Equal(got, big) {
		t.Errorf("scp download: %d bytes, %v", len(got), err)
	}

	sessions := f.sftpSessions("alice", "demo")
	if len(sessions) != 3 {
		t.Fatalf("%d sftp sessions recorded; want 3 (sftp, scp up, scp down)", len(sessions))
	}
	abs, _ := filepath.Abs(home)
	// The sftp batch is the session with the most events; the scp ones
	// hold one transfer each.
	sort.Slice(sessions, func(i, j int) bool { return len(sessions[i]) > len(sessions[j]) })
	evs := sessions[0]
	requireEvent(t, evs, event.SessionStart, "alice", map[string]string{"kind": "sftp", "command": sftpCommand, "host": "demo"})
	requireEvent(t, evs, event.Transfer, "alice", map[string]string{"via": "sftp", "path": abs + "/big.bin", "direction": "upload",
		"bytes_up": strconv.Itoa(len(big)), "sha256_up": sha(big), "bytes_down": "0", "status": "ok"})
	requireEvent(t, evs, event.Transfer, "alice", map[string]string{"path": abs + "/gone.txt", "direction": "upload", "bytes_up": "100", "sha256_up": sha(small), "status": "ok"})
	requireEvent(t, evs, event.Transfer, "alice", map[string]string{"path": abs + "/d/big.bin", "direction": "download",
		"bytes_down": strconv.Itoa(len(big)), "sha256_down": sha(big), "bytes_up": "0", "status": "ok"})
	requireEvent(t, evs, event.FileOp, "alice", map[string]string{"op": "mkdir", "path": abs + "/d", "status": "ok"})
	requireEvent(t, evs, event.FileOp, "alice", map[string]string{"op": "rename", "path": abs + "/big.bin", "target": abs + "/d/big.bin", "status": "ok"})
	requireEvent(t, evs, event.FileOp, "alice", map[string]string{"op": "symlink", "path": abs + "/link", "target": "d/big.bin", "status": "ok"})
	requireEvent(t, evs, event.FileOp, "alice", map[string]string{"op": "remove", "path": abs + "/gone.txt", "status": "ok"})
	requireEvent(t, evs, event.FileOp, "alice", map[string]string{"op": "opendir", "path": abs + "/d/", "status": "ok", "count": "3"}) // ., .. and big.bin
	requireEvent(t, evs, event.FileOp, "alice", map[string]string{"op": "realpath", "path": ".", "target": abs, "status": "ok"})
	// The session's traffic is its files' bytes (there are no input or
	// output events to count).
	requireEvent(t, evs, event.SessionEnd, "", map[string]string{"bytes_in": strconv.Itoa(len(big) + len(small)), "bytes_out": strconv.Itoa(len(big))})
	for _, s := range sessions {
		for _, e := range s {
			switch e.Type {
			case event.Input, event.Output, event.Exec, event.TransferData:
				t.Errorf("sftp session recorded %s (%d bytes)", e.Type, len(e.Data))
			case event.FileOp:
				if e.Meta["op"] == "unparsable" {
					t.Errorf("unparsable: %v", e.Meta)
				}
			}
		}
	}
	scps := append(append([]event.Event{}, sessions[1]...), sessions[2]...)
	// scp sends paths as typed: relative to the login's home.
	requireEvent(t, scps, event.Transfer, "alice", map[string]string{"path": "scp.txt", "direction": "upload", "bytes_up": "100", "sha256_up": sha(small), "status": "ok"})
	requireEvent(t, scps, event.Transfer, "alice", map[string]string{"path": "d/big.bin", "direction": "download", "sha256_down": sha(big), "status": "ok"})
}

// TestSFTPKeepsContentByPolicy: with keep_file_content_bytes the first
// bytes of each file are recorded as transfer.data, and no more.
func TestSFTPKeepsContentByPolicy(t *testing.T) {
	sshtest.RequireSFTP(t)
	f := newFixture(t, fixtureOptions{editConfig: func(y string) string {
		return y + "recording_policies:\n  - hosts: [demo]\n    keep_file_content_bytes: 1000\n"
	}})
	local := t.TempDir()
	body := randomFile(t, filepath.Join(local, "f.bin"), 70000, 3)
	if r := sshtest.RunSFTP(t, f.sftpClient("alice", "demo"), "put "+filepath.Join(local, "f.bin")+" f.bin\n"); r.Exit != 0 {
		t.Fatalf("sftp: %+v", r)
	}
	var kept []byte
	for _, e := range f.sftpSessions("alice", "demo")[0] {
		if e.Type == event.TransferData {
			if e.Meta["direction"] != "upload" || e.Meta["offset"] != strconv.Itoa(len(kept)) {
				t.Errorf("transfer.data meta %v", e.Meta)
			}
			kept = append(kept, e.Data...)
		}
	}
	if !bytes.Equal(kept, body[:1000]) {
		t.Errorf("kept %d bytes; want the first 1000 of the file", len(kept))
	}
}

// TestSFTPRefusals: without a host in the user name sftp is refused with
// one line naming the form that works; a host the user may not reach and
// an unknown host are refused as for ssh, recorded, and nothing reaches
// the host.
func TestSFTPRefusals(t *testing.T) {
	sshtest.RequireSFTP(t)
	f := newFixture(t, fixtureOptions{})
	home := filepath.Join(f.dir, "home")
	tests := []struct {
		name, user, host, msg, reason string
	}{
		{"no target", "alice", "", "foureyes: sftp and scp need the host in the user name: sftp alice+HOST@BASTION", "sftp without a host in the user name"},
		{"forbidden host", "bob", "demo-prod", `foureyes: access to "demo-prod" denied for bob`, "no role grants connect"},
		{"unknown host", "alice", "nosuch", `foureyes: unknown host "nosuch"`, "unknown host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sshtest.RunSFTP(t, f.sftpClient(tt.user, tt.host), "mkdir pwned-"+tt.user+"\n")
			if res.Exit == 0 || !strings.Contains(res.Stderr, tt.msg+"\n") {
				t.Errorf("sftp: exit %d, stderr %q; want a failure saying %q", res.Exit, res.Stderr, tt.msg)
			}
			if n := strings.Count(res.Stderr, "foureyes:"); n != 1 {
				t.Errorf("%d foureyes lines; want one: %q", n, res.Stderr)
			}
			if _, ok := findEvent(f.gatewayEvents(event.AccessDenied), event.AccessDenied, map[string]string{"user": tt.user, "reason": tt.reason}); !ok {
				t.Errorf("no access.denied with reason %q", tt.reason)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(home, "pwned-bob")); err == nil {
		t.Error("bob's mkdir reached demo-prod")
	}
	// Other subsystems stay refused, with a target or without.
	for _, user := range []string{"alice", "alice+demo"} {
		c, s := f.sessionAs(t, user)
		if err := s.RequestSubsystem("netconf"); err == nil {
			t.Errorf("%s: subsystem netconf accepted", user)
		}
		s.Close()
		c.Close()
	}
}

// TestSFTPFourEyes: on a four-eyes host sftp waits for a reviewer like a
// command without a terminal (reason from FOUREYES_REASON), nothing
// reaches the host until approved, the reviewer is told it is an SFTP
// session and sees its operations; a denial refuses it.
func TestSFTPFourEyes(t *testing.T) {
	sshtest.RequireSFTP(t)
	f := newFixture(t, fixtureOptions{fourEyes: true})
	home := filepath.Join(f.dir, "home")
	local := t.TempDir()
	body := randomFile(t, filepath.Join(local, "up.bin"), 200000, 4)

	start := func(dir string) <-chan sshtest.Result {
		c := f.sftpClient("alice", "demo-prod")
		c.Options = []string{"-o", "SetEnv=" + reasonEnv + "=\"deploy the fix\""}
		done := make(chan sshtest.Result, 1)
		go func() {
			done <- sshtest.RunSFTP(t, c, "mkdir "+dir+"\nput "+filepath.Join(local, "up.bin")+" "+dir+"/up.bin\n")
		}()
		return done
	}
	seen := map[string]bool{}
	pending := func() string {
		var id string
		waitFor(t, "a pending SFTP request", func() bool {
			for _, hb := range f.srv.hubs.all() {
				if in := hb.info(); in.state == statePending && in.sftp && !seen[in.id] {
					seen[in.id] = true
					id = in.id
					return true
				}
			}
			return false
		})
		return id
	}

	t.Run("no reason", func(t *testing.T) {
		res := sshtest.RunSFTP(t, f.sftpClient("alice", "demo-prod"), "mkdir no-reason\n")
		want := `foureyes: demo-prod requires four-eyes approval and a reason: sftp -o 'SetEnv=FOUREYES_REASON="why"' (scp takes the same -o)` + "\n"
		if res.Exit == 0 || !strings.Contains(res.Stderr, want) {
			t.Errorf("sftp without a reason: exit %d, stderr %q; want %q", res.Exit, res.Stderr, want)
		}
		if _, err := os.Stat(filepath.Join(home, "no-reason")); err == nil {
			t.Error("sftp without a reason reached the host")
		}
	})
	t.Run("denied", func(t *testing.T) {
		done := start("denied")
		id := pending()
		dave := f.review(t, "dave", id)
		dave.Expect("Command    SFTP file transfer session", timeout)
		dave.Expect("Approve this session? [y/n] ", timeout)
		dave.Send("n\r")
		dave.Expect("Reason for denying", timeout)
		dave.Send("not now\r")
		dave.Wait()
		res := <-done
		if res.Exit == 0 {
			t.Errorf("denied sftp succeeded: %+v", res)
		}
		if _, err := os.Stat(filepath.Join(home, "denied")); err == nil {
			t.Error("a denied sftp reached the host")
		}
	})
	t.Run("an exec command cannot pass for SFTP", func(t *testing.T) {
		c := f.client("alice", false, "demo-prod", "--", sftpCommand)
		c.Options = []string{"-o", "SetEnv=" + reasonEnv + "=\"looks like sftp\""}
		done := make(chan sshtest.Result, 1)
		go func() { done <- sshtest.Run(t, c) }()
		var id string
		waitFor(t, "the exec request", func() bool {
			for _, hb := range f.srv.hubs.all() {
				if in := hb.info(); in.state == statePending && in.command == sftpCommand && !in.sftp {
					id = in.id
					return true
				}
			}
			return false
		})
		dave := f.review(t, "dave", id)
		dave.Expect("Command    subsystem sftp\r\n", timeout)
		dave.Expect("Approve this session? [y/n] ", timeout)
		if strings.Contains(dave.Output(), "SFTP file transfer session") {
			t.Error("an exec command was shown as an SFTP session")
		}
		dave.Send("n\r")
		dave.Expect("Reason for denying", timeout)
		dave.Send("\r")
		dave.Wait()
		<-done
	})
	t.Run("approved", func(t *testing.T) {
		done := start("approved")
		id := pending()
		if _, err := os.Stat(filepath.Join(home, "approved")); err == nil {
			t.Fatal("the host was reached before approval")
		}
		if res := f.run("dave", "sessions"); !strings.Contains(res.Stdout, "(sftp)") {
			t.Errorf("sessions does not mark the SFTP request:\n%s", res.Stdout)
		}
		dave := f.approve(t, "dave", id)
		res := <-done
		if res.Exit != 0 {
			t.Fatalf("approved sftp: %+v", res)
		}
		dave.Expect(`[sftp] alice upload "`, timeout)
		dave.Wait()
		if got, err := os.ReadFile(filepath.Join(home, "approved", "up.bin")); err != nil || !bytes.Equal(got, body) {
			t.Errorf("file on the host: %d bytes, %v", len(got), err)
		}
		evs := f.sessionEvents(id)
		requireEvent(t, evs, event.SessionStart, "alice", map[string]string{"kind": "sftp", "command": sftpCommand})
		requireEvent(t, evs, event.ApprovalRequest, "alice", map[string]string{"reason": "deploy the fix", "command": sftpCommand})
		requireEvent(t, evs, event.Transfer, "alice", map[string]string{"direction": "upload", "bytes_up": "200000", "sha256_up": sha(body), "status": "ok"})
		for _, e := range evs {
			if e.Type == event.Input || e.Type == event.Exec {
				t.Errorf("four-eyes sftp recorded %s", e.Type)
			}
		}
	})
}

// TestSFTPUnparsableEndsStrictSession: a client whose stream the parser
// cannot follow — here an id reused while in flight, which sftp-server
// accepts but which would let answers be matched to the wrong request —
// is ended on a strictly recorded host, and the record says why.
func TestSFTPUnparsableEndsStrictSession(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c, s := f.sessionAs(t, "alice+demo")
	defer c.Close()
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}
	pkt := func(typ byte, id uint32, path string) []byte {
		body := append([]byte{typ, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}, 0, 0, 0, byte(len(path)))
		body = append(body, path...)
		n := len(body)
		return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, body...)
	}
	in.Write([]byte{0, 0, 0, 5, 1, 0, 0, 0, 3}) // INIT v3
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(out, hdr); err != nil {
		t.Fatal(err)
	}
	stream := append(pkt(17, 7, "/nonexistent-a"), pkt(17, 7, "/nonexistent-b")...)
	for i := 0; i < 50; i++ {
		stream = append(stream, pkt(14, uint32(100+i), "made-after-"+strconv.Itoa(i))...) // mkdir
	}
	in.Write(stream)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("session not ended")
	}
	ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "sftp" })
	if len(ids) != 1 {
		t.Fatalf("%d sftp recordings", len(ids))
	}
	// The client sees the channel close before the gateway has recorded
	// the end.
	var evs []event.Event
	waitFor(t, "the sftp session's end recorded", func() bool {
		evs = f.streams()[ids[0]]
		return len(evs) > 0 && evs[len(evs)-1].Type == event.SessionEnd
	})
	requireEvent(t, evs, event.FileOp, "alice", map[string]string{"op": "unparsable", "direction": "client"})
	requireEvent(t, evs, event.SessionEnd, "", map[string]string{"reason": "sftp stream could not be parsed: client reused request id 7 while it was in flight"})
	// Nothing after the point the parser lost the stream reached the host.
	if made, _ := filepath.Glob(filepath.Join(f.dir, "home", "made-after-*")); len(made) > 0 {
		t.Errorf("requests after the unparsable one reached the host: %v", made)
	}
}

// TestSFTPPausedStreamIsHeld: while a four-eyes SFTP session is paused
// (no reviewer watching) the client's bytes are held, not dropped as a
// terminal's keys are: a dropped piece would corrupt the stream. Once a
// reviewer is back they reach the host intact.
func TestSFTPPausedStreamIsHeld(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	_, s := f.sessionAs(t, "alice+demo-prod")
	defer s.Close()
	if err := s.Setenv(reasonEnv, "hold test"); err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	out, _ := s.StdoutPipe()
	if err := s.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}
	var hb *hub
	waitFor(t, "the pending request", func() bool {
		for _, h := range f.srv.hubs.all() {
			if h.info().sftp {
				hb = h
				return true
			}
		}
		return false
	})
	dave := f.approve(t, "dave", hb.info().id)
	waitFor(t, "active", func() bool { return hb.current() == stateActive })
	dave.Send("\x1dq")
	dave.Expect("you left session", timeout)
	dave.Wait()
	waitFor(t, "paused", func() bool { return hb.current() == statePaused })

	mkdir := []byte{0, 0, 0, 21, 14, 0, 0, 0, 1, 0, 0, 0, 8}
	mkdir = append(append(mkdir, "held-dir"...), 0, 0, 0, 0)      // attrs: no flags
	in.Write(append([]byte{0, 0, 0, 5, 1, 0, 0, 0, 3}, mkdir...)) // INIT, MKDIR while paused

	dave = f.review(t, "dave", hb.info().id)
	dave.Expect("watching as", timeout)
	answers := make(chan []byte, 1)
	go func() {
		var got []byte
		for i := 0; i < 2; i++ { // VERSION, STATUS
			hdr := make([]byte, 4)
			if _, err := io.ReadFull(out, hdr); err != nil {
				break
			}
			body := make([]byte, int(hdr[0])<<24|int(hdr[1])<<16|int(hdr[2])<<8|int(hdr[3]))
			if _, err := io.ReadFull(out, body); err != nil {
				break
			}
			got = body
		}
		answers <- got
	}()
	select {
	case st := <-answers:
		if len(st) < 9 || st[0] != 101 || st[5]|st[6]|st[7]|st[8] != 0 {
			t.Fatalf("answer to the held MKDIR = %x; want STATUS ok", st)
		}
	case <-time.After(timeout):
		t.Fatal("the bytes sent while paused never reached the host")
	}
	if _, err := os.Stat(filepath.Join(f.dir, "home", "held-dir")); err != nil {
		t.Errorf("held mkdir: %v", err)
	}
	s.Close()
	dave.Wait()
	evs := f.sessionEvents(hb.info().id)
	requireEvent(t, evs, event.FileOp, "alice", map[string]string{"op": "mkdir", "path": "held-dir", "status": "ok"})
}
