package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
	gossh "golang.org/x/crypto/ssh"
)

// sshCommand is the ssh command line tools are given (rsync -e,
// GIT_SSH_COMMAND, scp -S is not needed) to reach the fixture as user.
func (f *fixture) sshCommand(user string) string {
	_, port, _ := net.SplitHostPort(f.addr)
	return "ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o BatchMode=yes -o LogLevel=ERROR -i " +
		f.keys[user] + " -p " + port
}

// tool runs a stock client (scp, rsync, git) in dir and fails the test
// if it fails.
func tool(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// transferOf returns the recording of the only session whose command
// starts with prefix, and its event.Transfer.
func (f *fixture) transferOf(t *testing.T, prefix string) ([]event.Event, event.Event) {
	t.Helper()
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return strings.HasPrefix(i.Command, prefix) })
	var xfers []event.Event
	for _, e := range evs {
		if e.Type == event.Transfer && e.Meta["scope"] == "stream" {
			xfers = append(xfers, e)
		}
	}
	if len(xfers) != 1 {
		t.Fatalf("%q: %d transfer events; want 1 (events: %v)", prefix, len(xfers), typesOf(evs))
	}
	return evs, xfers[0]
}

// typesOf lists the event types of evs, for failure messages.
func typesOf(evs []event.Event) []event.Type {
	out := make([]event.Type, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// noContent fails the test if any stored event carries payload, or any
// input or output event exists besides stderr-sized noise: a transfer's
// bytes are summarised, not stored.
func noContent(t *testing.T, evs []event.Event, payload []byte) {
	t.Helper()
	for _, e := range evs {
		if bytes.Contains(e.Data, payload[:64]) {
			t.Errorf("event %d (%s) stores file content", e.Seq, e.Type)
		}
		if e.Type == event.Input {
			t.Errorf("event %d: input stored for a transfer: %q", e.Seq, e.Data)
		}
	}
}

// hexSum is the hex SHA-256 of b.
func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// payload returns n bytes that no protocol header contains.
func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// TestSCPLegacyTransfers: stock `scp -O` both ways through the bastion
// (target in the user name). The file arrives intact, the command is
// recorded verbatim, and the byte stream is one transfer event whose
// sizes and hashes are those of the scp protocol stream that passed —
// the file's header line, its bytes and the end byte — never stored.
func TestSCPLegacyTransfers(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	host, port, _ := net.SplitHostPort(f.addr)
	local := t.TempDir()
	data := payload(300<<10, 1)
	if err := os.WriteFile(filepath.Join(local, "up.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	scp := []string{"-O", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-P", port, "-i", f.keys["alice"]}

	tool(t, local, nil, "scp", append(scp, "up.bin", "alice+demo@"+host+":landed.bin")...)
	if got, err := os.ReadFile(filepath.Join(f.dir, "home", "landed.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded file differs (%d bytes, %v)", len(got), err)
	}
	evs, x := f.transferOf(t, "scp -t ")
	if evs[0].Meta["command"] != "scp -t landed.bin" {
		t.Errorf("session.start command = %q; want it verbatim", evs[0].Meta["command"])
	}
	up := append([]byte(fmt.Sprintf("C0644 %d up.bin\n", len(data))), data...)
	up = append(up, 0)
	want := map[string]string{"via": "scp", "direction": "upload", "path": "landed.bin",
		"bytes_up": strconv.Itoa(len(up)), "sha256_up": hexSum(up), "status": "ok", "exit_status": "0", "files": "1"}
	if !hasMeta(x, want) || x.Meta["stored"] != "" {
		t.Errorf("transfer meta = %v; want %v", x.Meta, want)
	}
	// scp's header names the file: its own event has the file's hash.
	requireEvent(t, evs, event.Transfer, "alice", map[string]string{"scope": "file", "via": "scp", "direction": "upload",
		"path": "up.bin", "target": "landed.bin", "mode": "0644", "size": strconv.Itoa(len(data)),
		"bytes_up": strconv.Itoa(len(data)), "sha256_up": hexSum(data), "status": "ok"})
	if x.Actor != "alice" {
		t.Errorf("transfer actor = %q; want alice", x.Actor)
	}
	noContent(t, evs, data)

	down := payload(200<<10, 2)
	if err := os.WriteFile(filepath.Join(f.dir, "home", "remote.bin"), down, 0o600); err != nil {
		t.Fatal(err)
	}
	tool(t, local, nil, "scp", append(scp, "alice+demo@"+host+":remote.bin", "fetched.bin")...)
	if got, err := os.ReadFile(filepath.Join(local, "fetched.bin")); err != nil || !bytes.Equal(got, down) {
		t.Fatalf("downloaded file differs (%d bytes, %v)", len(got), err)
	}
	evs, x = f.transferOf(t, "scp -f ")
	stream := append([]byte(fmt.Sprintf("C0600 %d remote.bin\n", len(down))), down...)
	stream = append(stream, 0)
	want = map[string]string{"via": "scp", "direction": "download", "path": "remote.bin",
		"bytes_down": strconv.Itoa(len(stream)), "sha256_down": hexSum(stream), "status": "ok", "files": "1"}
	if !hasMeta(x, want) {
		t.Errorf("transfer meta = %v; want %v", x.Meta, want)
	}
	requireEvent(t, evs, event.Transfer, "alice", map[string]string{"scope": "file", "direction": "download",
		"path": "remote.bin", "mode": "0600", "bytes_down": strconv.Itoa(len(down)), "sha256_down": hexSum(down), "status": "ok"})
	noContent(t, evs, down)
}

// rsyncStats returns rsync --stats' "Total bytes sent" and "received".
func rsyncStats(t *testing.T, out string) (sent, received int) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		for key, dst := range map[string]*int{"Total bytes sent: ": &sent, "Total bytes received: ": &received} {
			if v, ok := strings.CutPrefix(line, key); ok {
				n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(v), ",", ""))
				if err != nil {
					t.Fatalf("rsync stats %q: %v", line, err)
				}
				*dst = n
			}
		}
	}
	return sent, received
}

// rsyncBytes checks a transfer's byte counts against rsync's own: rsync
// does not count its version greeting and the closing statistics, at
// most rsyncUncounted bytes each way.
func rsyncBytes(t *testing.T, x event.Event, sent, received int) {
	t.Helper()
	const rsyncUncounted = 256
	up, _ := strconv.Atoi(x.Meta["bytes_up"])
	down, _ := strconv.Atoi(x.Meta["bytes_down"])
	if up < sent || up > sent+rsyncUncounted || down < received || down > received+rsyncUncounted {
		t.Errorf("transfer bytes up %d, down %d; rsync counted sent %d, received %d", up, down, sent, received)
	}
	if len(x.Meta["sha256_up"]) != 64 || len(x.Meta["sha256_down"]) != 64 {
		t.Errorf("transfer hashes %q, %q", x.Meta["sha256_up"], x.Meta["sha256_down"])
	}
}

// TestRsyncTransfers: stock `rsync -a` both ways through the bastion.
// The trees arrive intact; each run is one transfer event whose byte
// counts are the bytes rsync itself counted on the wire, plus its
// uncounted greeting.
func TestRsyncTransfers(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	host, _, _ := net.SplitHostPort(f.addr)
	local := t.TempDir()
	src := filepath.Join(local, "tree")
	data := payload(256<<10, 3)
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"a.bin": data, "sub/b.txt": []byte("small file\n")} {
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := tool(t, local, nil, "rsync", "-a", "--stats", "-e", f.sshCommand("alice"), "tree/", "alice+demo@"+host+":synced/")
	if got, err := os.ReadFile(filepath.Join(f.dir, "home", "synced", "a.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("synced file differs (%d bytes, %v)", len(got), err)
	}
	sent, received := rsyncStats(t, out)
	evs, x := f.transferOf(t, "rsync --server ")
	if !hasMeta(x, map[string]string{"via": "rsync", "direction": "upload", "path": "synced/", "status": "ok"}) {
		t.Errorf("transfer meta = %v", x.Meta)
	}
	rsyncBytes(t, x, sent, received)
	noContent(t, evs, data)

	out = tool(t, local, nil, "rsync", "-a", "--stats", "-e", f.sshCommand("alice"), "alice+demo@"+host+":synced/", "back/")
	if got, err := os.ReadFile(filepath.Join(local, "back", "a.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("fetched file differs (%d bytes, %v)", len(got), err)
	}
	sent, received = rsyncStats(t, out)
	evs, x = f.transferOf(t, "rsync --server --sender ")
	if !hasMeta(x, map[string]string{"via": "rsync", "direction": "download", "path": "synced/", "status": "ok"}) {
		t.Errorf("transfer meta = %v", x.Meta)
	}
	rsyncBytes(t, x, sent, received)
	noContent(t, evs, data)
}

// TestGitTransfers: `git clone` and `git push` of a bare repository in
// the host's home through the bastion, each one transfer event.
func TestGitTransfers(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	host, _, _ := net.SplitHostPort(f.addr)
	env := []string{"GIT_SSH_COMMAND=" + f.sshCommand("alice"), "GIT_CONFIG_NOSYSTEM=1", "HOME=" + t.TempDir(),
		"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.org", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.org"}
	home := filepath.Join(f.dir, "home")
	tool(t, home, env, "git", "init", "-q", "--bare", "-b", "main", "repo.git")
	seed := t.TempDir()
	tool(t, seed, env, "git", "init", "-q", "-b", "main", ".")
	data := payload(100<<10, 4)
	if err := os.WriteFile(filepath.Join(seed, "blob.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tool(t, seed, env, "git", "add", ".")
	tool(t, seed, env, "git", "commit", "-qm", "first")
	tool(t, seed, env, "git", "push", "-q", filepath.Join(home, "repo.git"), "main")

	local := t.TempDir()
	tool(t, local, env, "git", "clone", "-q", "alice+demo@"+host+":repo.git", "clone")
	if got, err := os.ReadFile(filepath.Join(local, "clone", "blob.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("cloned file differs (%d bytes, %v)", len(got), err)
	}
	evs, x := f.transferOf(t, "git-upload-pack ")
	if evs[0].Meta["command"] != "git-upload-pack 'repo.git'" {
		t.Errorf("session.start command = %q; want it verbatim", evs[0].Meta["command"])
	}
	if !hasMeta(x, map[string]string{"via": "git", "program": "git-upload-pack", "direction": "download", "path": "repo.git", "status": "ok"}) || x.Meta["stored"] != "" {
		t.Errorf("clone transfer meta = %v", x.Meta)
	}
	if n, _ := strconv.Atoi(x.Meta["bytes_down"]); n < 1000 {
		t.Errorf("clone bytes_down = %d; want the pack", n)
	}
	for _, e := range evs {
		if e.Type == event.Input || (e.Type == event.Output && bytes.Contains(e.Data, []byte("PACK"))) {
			t.Errorf("event %d (%s) stores the git stream", e.Seq, e.Type)
		}
	}

	more := payload(50<<10, 5)
	if err := os.WriteFile(filepath.Join(local, "clone", "more.bin"), more, 0o644); err != nil {
		t.Fatal(err)
	}
	tool(t, filepath.Join(local, "clone"), env, "git", "add", ".")
	tool(t, filepath.Join(local, "clone"), env, "git", "commit", "-qm", "second")
	tool(t, filepath.Join(local, "clone"), env, "git", "push", "-q", "origin", "main")
	evs, x = f.transferOf(t, "git-receive-pack ")
	if !hasMeta(x, map[string]string{"via": "git", "program": "git-receive-pack", "direction": "upload", "path": "repo.git", "status": "ok"}) || x.Meta["stored"] != "" {
		t.Errorf("push transfer meta = %v", x.Meta)
	}
	if n, _ := strconv.Atoi(x.Meta["bytes_up"]); n < 1000 {
		t.Errorf("push bytes_up = %d; want the pack", n)
	}
	for _, e := range evs {
		if e.Type == event.Input {
			t.Errorf("event %d: push input stored", e.Seq)
		}
	}
	log := tool(t, filepath.Join(home, "repo.git"), env, "git", "log", "--format=%s", "main")
	if !strings.Contains(log, "second") {
		t.Errorf("push did not reach the host: log %q", log)
	}
}

// TestTransferLookalikesAreRecorded is the bypass test (open-bastion
// #287): a command line that starts like a transfer but runs anything
// else is an ordinary command — recorded verbatim, with everything typed
// into it and everything it printed, and no transfer event.
func TestTransferLookalikesAreRecorded(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, cmd := range []string{
		"scp -t x; bash",
		"scp -t x;bash",
		"scp -t x || bash",
		"scp -t x\nbash",
		"scp -t $(echo x) ; bash",
		"rsync --server -e.LsfxC . d/; bash",
		"git-upload-pack 'repo.git'; bash",
	} {
		t.Run(strings.ReplaceAll(cmd, "\n", `\n`), func(t *testing.T) {
			// scp reads its first line and fails; bash runs the rest.
			typed := "not-scp-protocol\necho hidden-$((6*7))\n"
			res := runClient(t, &sshtest.Client{Addr: f.addr, User: "alice+demo", Key: f.keys["alice"], Args: []string{cmd}, Stdin: typed})
			if !strings.Contains(res.Stdout, "hidden-42") {
				t.Fatalf("the shell after %q did not run: stdout %q stderr %q", cmd, res.Stdout, res.Stderr)
			}
			evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.Command == cmd })
			if evs[0].Meta["command"] != cmd {
				t.Errorf("session.start command = %q; want %q", evs[0].Meta["command"], cmd)
			}
			var in, out []byte
			for _, e := range evs {
				switch e.Type {
				case event.Transfer:
					t.Errorf("transfer event for %q: %v", cmd, e.Meta)
				case event.Input:
					in = append(in, e.Data...)
				case event.Output:
					out = append(out, e.Data...)
				}
			}
			if !strings.Contains(string(in), "echo hidden-$((6*7))") {
				t.Errorf("input recorded = %q; want what was typed", in)
			}
			if !strings.Contains(string(out), "hidden-42") {
				t.Errorf("output recorded = %q; want what the shell printed", out)
			}
		})
	}
}

// countingWriter hashes and counts what ssh printed.
type countingWriter struct {
	n int64
	h io.Writer
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return w.h.Write(p)
}

// TestExecOutputCap: 50 MiB through an ordinary command all reach the
// client, but only the first MiB is stored; one output.summary has the
// stream's size, hash and last bytes. Input is stored whole.
func TestExecOutputCap(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	const total = 50 << 20
	cmd := fmt.Sprintf("cat; head -c %d /dev/zero; echo THE-END", total-len("typed-line\n")-len("THE-END\n"))
	c := &sshtest.Client{Addr: f.addr, User: "alice+demo", Key: f.keys["alice"], Args: []string{cmd}}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	h := sha256.New()
	w := &countingWriter{h: h}
	ssh := c.Command(ctx)
	ssh.Stdin = strings.NewReader("typed-line\n")
	ssh.Stdout = w
	var stderr bytes.Buffer
	ssh.Stderr = &stderr
	if err := ssh.Run(); err != nil {
		t.Fatalf("ssh: %v\n%s", err, stderr.String())
	}
	if w.n != total {
		t.Fatalf("client got %d bytes; want %d", w.n, total)
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.Command == cmd })
	var stored, in int
	var sums []event.Event
	for _, e := range evs {
		switch e.Type {
		case event.Output:
			stored += len(e.Data)
		case event.Input:
			in += len(e.Data)
		case event.OutputSummary:
			sums = append(sums, e)
		}
	}
	if stored != 1<<20 {
		t.Errorf("stored %d output bytes; want the cap, %d", stored, 1<<20)
	}
	if in != len("typed-line\n") {
		t.Errorf("stored %d input bytes; want all %d", in, len("typed-line\n"))
	}
	if len(sums) != 1 {
		t.Fatalf("%d output.summary events; want 1 (events: %v)", len(sums), typesOf(evs))
	}
	want := map[string]string{"stream": "stdout", "bytes": strconv.Itoa(total), "stored": strconv.Itoa(1 << 20),
		"sha256": hex.EncodeToString(h.Sum(nil)), "cap": strconv.Itoa(1 << 20)}
	if !hasMeta(sums[0], want) {
		t.Errorf("output.summary meta = %v; want %v", sums[0].Meta, want)
	}
	if !bytes.HasSuffix(sums[0].Data, []byte("THE-END\n")) || len(sums[0].Data) != 1024 {
		t.Errorf("output.summary data: %d bytes ending %q; want the last KiB", len(sums[0].Data), sums[0].Data[max(0, len(sums[0].Data)-16):])
	}
	all := 0
	for _, e := range evs {
		all += len(e.Data)
	}
	if all > 1<<20+64<<10 {
		t.Errorf("the recording holds %d bytes of data for a %d-byte stream", all, total)
	}
}

// TestFourEyesSCPTransfer: an upload to a four-eyes host waits for a
// reviewer like any command, then runs and is summarised as a transfer
// in the approved session's recording.
func TestFourEyesSCPTransfer(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true})
	host, port, _ := net.SplitHostPort(f.addr)
	local := t.TempDir()
	data := payload(64<<10, 6)
	if err := os.WriteFile(filepath.Join(local, "up.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	scp := exec.CommandContext(ctx, "scp", "-O", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "SetEnv="+reasonEnv+"=\"ship the config\"",
		"-P", port, "-i", f.keys["alice"], "up.bin", "alice+demo-prod@"+host+":prod.bin")
	scp.Dir = local
	stderr, err := scp.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := scp.Start(); err != nil {
		t.Fatal(err)
	}
	var seen bytes.Buffer
	buf := make([]byte, 4096)
	var id string
	for id == "" {
		n, err := stderr.Read(buf)
		seen.Write(buf[:n])
		if m := idPattern.FindStringSubmatch(seen.String()); m != nil {
			id = m[1]
		}
		if err != nil {
			t.Fatalf("scp ended before the approval request: %v\n%s", err, seen.String())
		}
	}
	if _, err := os.Stat(filepath.Join(f.dir, "home", "prod.bin")); err == nil {
		t.Fatal("the file reached the host before approval")
	}
	dave := f.approve(t, "dave", id)
	go io.Copy(io.Discard, stderr)
	if err := scp.Wait(); err != nil {
		t.Fatalf("scp: %v\n%s", err, seen.String())
	}
	dave.Expect("session ended: alice's command exited with status 0", timeout)
	if got, err := os.ReadFile(filepath.Join(f.dir, "home", "prod.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded file differs (%d bytes, %v)", len(got), err)
	}
	evs := f.sessionEvents(id)
	x := requireEvent(t, evs, event.Transfer, "alice", map[string]string{"scope": "stream", "via": "scp", "direction": "upload", "path": "prod.bin", "status": "ok"})
	if n, _ := strconv.Atoi(x.Meta["bytes_up"]); n <= len(data) {
		t.Errorf("bytes_up = %d; want the file and its header", n)
	}
	requireEvent(t, evs, event.ApprovalGrant, "dave", nil)
	noContent(t, evs, data)
}

// TestSCPRecursiveFiles: `scp -O -r` of a tree records one file event per
// file, named by its path in the tree, with the file's own size and
// SHA-256 — what an auditor compares with a file.
func TestSCPRecursiveFiles(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	host, port, _ := net.SplitHostPort(f.addr)
	local := t.TempDir()
	files := map[string][]byte{"tree/a.bin": payload(40<<10, 7), "tree/sub/b.txt": []byte("small\n"), "tree/sub/empty": nil}
	for name, b := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(local, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(local, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tool(t, local, nil, "scp", "-O", "-r", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-P", port, "-i", f.keys["alice"],
		"tree", "alice+demo@"+host+":copied")
	evs, x := f.transferOf(t, "scp -r -t ")
	if x.Meta["files"] != "3" {
		t.Errorf("stream files = %q; want 3", x.Meta["files"])
	}
	for name, b := range files {
		got, err := os.ReadFile(filepath.Join(f.dir, "home", "copied", strings.TrimPrefix(name, "tree/")))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s on the host differs: %v", name, err)
		}
		want := map[string]string{"scope": "file", "path": name, "target": "copied", "size": strconv.Itoa(len(b)), "status": "ok"}
		if len(b) > 0 {
			want["sha256_up"] = hexSum(b)
		}
		requireEvent(t, evs, event.Transfer, "alice", want)
	}
}

// TestSCPRefusedFileIsNotCreditedToTheNext: a stock scp upload whose
// first file the host's sink refuses (a directory is in its place): the
// refused file is recorded as refused with the sink's error, and the next
// file with its own bytes (review finding F1: the second file's header
// and content were counted as the refused file's bytes, and its name was
// in no event).
func TestSCPRefusedFileIsNotCreditedToTheNext(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	host, port, _ := net.SplitHostPort(f.addr)
	local := t.TempDir()
	keys := []byte("ssh-ed25519 AAAA not-a-real-key\n")
	for name, b := range map[string][]byte{"report.pdf": payload(2000, 3), "authorized_keys": keys} {
		if err := os.WriteFile(filepath.Join(local, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(f.dir, "home", "in", "report.pdf"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "scp", "-O", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-P", port, "-i", f.keys["alice"],
		"report.pdf", "authorized_keys", "alice+demo@"+host+":in")
	cmd.Dir = local
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "Is a directory") {
		t.Fatalf("scp = %v, %q; want the sink's refusal of report.pdf", err, out)
	}
	if got, err := os.ReadFile(filepath.Join(f.dir, "home", "in", "authorized_keys")); err != nil || !bytes.Equal(got, keys) {
		t.Fatalf("authorized_keys on the host: %v %q", err, got)
	}
	evs, x := f.transferOf(t, "scp -d -t ")
	if x.Meta["stored"] != "" {
		t.Errorf("stream stored = %q; want it followed", x.Meta["stored"])
	}
	refused := requireEvent(t, evs, event.Transfer, "alice", map[string]string{"scope": "file", "path": "report.pdf", "status": "refused", "bytes_up": "0", "size": "2000"})
	if !strings.Contains(refused.Meta["error"], "report.pdf: Is a directory") {
		t.Errorf("refused error = %q; want the sink's", refused.Meta["error"])
	}
	requireEvent(t, evs, event.Transfer, "alice", map[string]string{"scope": "file", "path": "authorized_keys", "status": "ok",
		"bytes_up": strconv.Itoa(len(keys)), "sha256_up": hexSum(keys)})
}

// TestSCPSmuggleAfterRefusedHeader is the review's probe: a client of
// its own sends a header the sink refuses, sized so that the next header
// and its content would pass for the refused file's bytes. The record
// names the file the sink wrote, with its bytes; content sent before the
// sink's answer is stored, not credited to a name.
func TestSCPSmuggleAfterRefusedHeader(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	home := filepath.Join(f.dir, "home")
	if err := os.Mkdir(filepath.Join(home, "report.pdf"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEVIL evil\n"
	hidden := fmt.Sprintf("C0600 %d authorized_keys\n", len(secret)) + secret
	for _, tc := range []struct {
		name   string
		wait   bool // the client waits for each answer, as scp does
		target string
		stored string
	}{
		{"in step", true, ".", ""},
		{"pipelined", false, "./", "scp data sent before the answer to the last record (upload)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(filepath.Join(home, "authorized_keys"))
			c, s := f.sessionAs(t, "alice+demo")
			defer c.Close()
			in, _ := s.StdinPipe()
			outp, _ := s.StdoutPipe()
			out := bufio.NewReader(outp)
			cmd := "scp -t " + tc.target // one session per case
			if err := s.Start(cmd); err != nil {
				t.Fatal(err)
			}
			ack := func() string {
				b, err := out.ReadByte()
				if err != nil {
					t.Fatal(err)
				}
				if b == 0 {
					return ""
				}
				l, _ := out.ReadString('\n')
				return string(b) + l
			}
			ack()
			fmt.Fprintf(in, "C0644 %d report.pdf\n", len(hidden))
			if tc.wait {
				if a := ack(); !strings.Contains(a, "Is a directory") {
					t.Fatalf("sink answered the decoy %q", a)
				}
				io.WriteString(in, hidden[:strings.IndexByte(hidden, '\n')+1])
				ack()
				io.WriteString(in, secret+"\x00")
				ack()
			} else {
				io.WriteString(in, hidden+"\x00")
			}
			in.Close()
			s.Wait()
			evs, x := f.transferOf(t, cmd)
			if x.Meta["stored"] != tc.stored {
				t.Errorf("stream stored = %q; want %q", x.Meta["stored"], tc.stored)
			}
			requireEvent(t, evs, event.Transfer, "alice", map[string]string{"scope": "file", "path": "report.pdf", "bytes_up": "0"})
			for _, e := range evs {
				if e.Type == event.Transfer && e.Meta["path"] == "report.pdf" && e.Meta["status"] == "ok" {
					t.Errorf("report.pdf recorded as received: %v", e.Meta)
				}
			}
			if tc.wait {
				requireEvent(t, evs, event.Transfer, "alice", map[string]string{"scope": "file", "path": "authorized_keys", "status": "ok", "sha256_up": hexSum([]byte(secret))})
				return
			}
			var typed []byte
			for _, e := range evs {
				if e.Type == event.Input {
					typed = append(typed, e.Data...)
				}
			}
			if !strings.Contains(string(typed), "authorized_keys") {
				t.Errorf("input stored = %q; want the pipelined header", typed)
			}
		})
	}
}

// TestExecTransfersStore: with exec_transfers: store (hosts where a
// user's shell startup files could turn "scp -t" into something else),
// a transfer is recorded like any command: every byte typed into it.
func TestExecTransfersStore(t *testing.T) {
	f := newFixture(t, fixtureOptions{editConfig: func(y string) string {
		return y + "recording_policies:\n  - {hosts: [demo], exec_transfers: store}\n"
	}})
	host, port, _ := net.SplitHostPort(f.addr)
	local := t.TempDir()
	data := payload(20<<10, 8)
	if err := os.WriteFile(filepath.Join(local, "up.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tool(t, local, nil, "scp", "-O", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-P", port, "-i", f.keys["alice"],
		"up.bin", "alice+demo@"+host+":stored.bin")
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.Command == "scp -t stored.bin" })
	var in []byte
	for _, e := range evs {
		switch e.Type {
		case event.Transfer:
			t.Errorf("transfer event under exec_transfers: store: %v", e.Meta)
		case event.Input:
			in = append(in, e.Data...)
		}
	}
	if !bytes.Contains(in, data) {
		t.Errorf("input recorded: %d bytes without the file's; want every byte typed", len(in))
	}
}

// hijackedHost is an SSH host whose login shell runs /bin/sh for every
// command, whatever it names: what a user who edited their ~/.bashrc on
// a host could arrange. It returns its address and host key.
func hijackedHost(t *testing.T) (string, gossh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &gossh.ServerConfig{PublicKeyCallback: func(gossh.ConnMetadata, gossh.PublicKey) (*gossh.Permissions, error) { return nil, nil }}
	cfg.AddHostKey(signer)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				_, chans, reqs, err := gossh.NewServerConn(nc, cfg)
				if err != nil {
					return
				}
				go gossh.DiscardRequests(reqs)
				for nch := range chans {
					ch, creqs, err := nch.Accept()
					if err != nil {
						continue
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer ch.Close()
						for req := range creqs {
							if req.Type != "exec" {
								req.Reply(false, nil)
								continue
							}
							req.Reply(true, nil)
							sh := exec.Command("/bin/sh") // the command is ignored: the "rc file" runs a shell
							sh.Stdin, sh.Stdout, sh.Stderr = ch, ch, ch.Stderr()
							status := 0
							if err := sh.Run(); err != nil {
								status = 1
							}
							ch.SendRequest("exit-status", false, gossh.Marshal(&struct{ Status uint32 }{uint32(status)}))
							return
						}
					}()
				}
			}()
		}
	}()
	return l.Addr().String(), signer.PublicKey()
}

// TestHijackedHostIsRecorded: a host that runs a shell instead of
// "scp -f", "git-upload-pack" or "rsync --server" (a user's ~/.bashrc
// can do that) gets
// typed commands where protocol belongs. The gateway sees the scp
// protocol or git's pkt-line framing broken and stores the rest like any
// command's: the commands typed and what they printed.
func TestHijackedHostIsRecorded(t *testing.T) {
	addr, key := hijackedHost(t)
	f := newFixture(t, fixtureOptions{extraHosts: []string{`{name: hijacked, address: "` + addr + `", host_key: "` + authorizedKey(key) + `"}`}})
	for _, tc := range []struct{ cmd, typed string }{
		// Download: the client's side must be answers (NUL bytes) only.
		{"scp -f x", "echo hidden-$((6*7))\nexit\n"},
		// Upload: the host's side must be answers; the shell's output is not.
		{"scp -t x", "C0644 5 x\necho hidden-$((6*7))\n"},
		// git: both sides must be pkt-lines.
		{"git-upload-pack 'r.git'", "echo hidden-$((6*7))\nexit\n"},
		{"git-receive-pack 'r.git'", "000aecho hi\necho hidden-$((6*7))\n"},
		// rsync: both sides must open with a protocol version.
		{"rsync --server -logDtpre.iLsfxCIvu . x", "echo hidden-$((6*7))\nexit\n"},
		{"rsync --server --sender -logDtpre.iLsfxCIvu . x", "echo hidden-$((6*7))\nexit\n"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			res := runClient(t, &sshtest.Client{Addr: f.addr, User: "alice+hijacked", Key: f.keys["alice"], Args: []string{tc.cmd}, Stdin: tc.typed})
			if !strings.Contains(res.Stdout, "hidden-42") {
				t.Fatalf("the hijacked shell did not run: %+v", res)
			}
			evs, x := f.transferOf(t, tc.cmd)
			if x.Meta["stored"] == "" {
				t.Errorf("transfer meta = %v; want stored set", x.Meta)
			}
			var in, out []byte
			for _, e := range evs {
				switch e.Type {
				case event.Input:
					in = append(in, e.Data...)
				case event.Output:
					out = append(out, e.Data...)
				}
			}
			if !strings.Contains(string(out), "hidden-42") {
				t.Errorf("output recorded = %q; want the shell's output", out)
			}
			if tc.cmd != "scp -t x" && !strings.Contains(string(in), "echo hidden-$((6*7))") {
				t.Errorf("input recorded = %q; want the typed command", in)
			}
		})
	}
}

// TestHijackedSilentShell: a host that runs a shell for git's programs
// (or rsync), its output thrown away, prints nothing that could break
// the framing;
// the client hides commands in "the pack" after a flush (push) or in a
// pkt-line's payload (fetch, archive). git's client speaks only after
// the host's advertisement, which a shell never sends (an archive's
// client speaks first and is stored); rsync's client sends its version,
// then waits for the host's: the typed commands are stored.
func TestHijackedSilentShell(t *testing.T) {
	addr, key := hijackedHost(t)
	f := newFixture(t, fixtureOptions{extraHosts: []string{`{name: hijacked, address: "` + addr + `", host_key: "` + authorizedKey(key) + `"}`}})
	for _, tc := range []struct{ cmd, typed, stored string }{
		{"git-receive-pack 'r.git'", "0000\necho hidden-$((6*7)) >/dev/null 2>&1\n", "git client spoke before the host's advertisement"},
		{"git-upload-pack 'r.git'", "002a;echo hidden-$((6*7)) >/dev/null 2>&1\n0000", "git client spoke before the host's advertisement"},
		{"git-upload-archive 'r.git'", "002a;echo hidden-$((6*7)) >/dev/null 2>&1\n0000", ""},
		{"rsync --server -logDtpre.iLsfxCIvu . x", "\x1f\x00\x00\x00\necho hidden-$((6*7)) >/dev/null 2>&1\n", "rsync client went on before the host's protocol version"},
	} {
		t.Run(tc.cmd, func(t *testing.T) { hijackedSilentCase(t, f, tc.cmd, tc.typed, tc.stored) })
	}
}

// hijackedSilentCase runs cmd on the hijacked host typing typed, and
// checks the typed command is stored and the transfer says why.
func hijackedSilentCase(t *testing.T, f *fixture, cmd, typed, stored string) {
	res := runClient(t, &sshtest.Client{Addr: f.addr, User: "alice+hijacked", Key: f.keys["alice"], Args: []string{cmd}, Stdin: typed})
	if res.Exit == 255 {
		t.Fatalf("session failed: %+v", res)
	}
	evs, x := f.transferOf(t, cmd)
	if x.Meta["stored"] != stored {
		t.Errorf("transfer stored = %q; want %q", x.Meta["stored"], stored)
	}
	var in []byte
	for _, e := range evs {
		if e.Type == event.Input {
			in = append(in, e.Data...)
		}
	}
	if !strings.Contains(string(in), "echo hidden-$((6*7))") {
		t.Errorf("input recorded = %q; want the typed command", in)
	}
}

// TestHijackedSCPSilent: a host runs a shell, its output thrown away,
// for legacy scp. Nothing it prints breaks scp's protocol; the client
// hides commands in what scp lets it send: file content before the sink
// ever answered (upload), or an error answer ("\x01;cmd", download).
// Both are stored as typed.
func TestHijackedSCPSilent(t *testing.T) {
	addr, key := hijackedHost(t)
	f := newFixture(t, fixtureOptions{extraHosts: []string{`{name: hijacked, address: "` + addr + `", host_key: "` + authorizedKey(key) + `"}`}})
	for _, tc := range []struct{ cmd, typed, stored string }{
		{"scp -t up", "C0644 37 x\necho hidden-$((6*7)) >/dev/null 2>&1\n\x00", "scp data sent before the receiving end's first answer (upload)"},
		{"scp -f down", "\x00\x01;echo hidden-$((6*7)) >/dev/null 2>&1\n", "scp answer to no record (upload)"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			res := runClient(t, &sshtest.Client{Addr: f.addr, User: "alice+hijacked", Key: f.keys["alice"], Args: []string{tc.cmd}, Stdin: tc.typed})
			if res.Exit == 255 {
				t.Fatalf("session failed: %+v", res)
			}
			evs, x := f.transferOf(t, tc.cmd)
			if x.Meta["stored"] != tc.stored {
				t.Errorf("transfer stored = %q; want %q", x.Meta["stored"], tc.stored)
			}
			var in []byte
			for _, e := range evs {
				if e.Type == event.Input {
					in = append(in, e.Data...)
				}
			}
			if !strings.Contains(string(in), "echo hidden-$((6*7))") {
				t.Errorf("input recorded = %q; want the typed command", in)
			}
		})
	}
}
