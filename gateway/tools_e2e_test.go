package gateway

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
)

// transfersOf returns the transfer events of every recording of alice on
// demo whose kind is kind ("sftp" or "exec"), in recording order.
func (f *fixture) transfersOf(kind string) []event.Event {
	f.t.Helper()
	ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == kind && i.User == "alice" && i.Host == "demo" })
	all := f.streams()
	var out []event.Event
	for _, id := range ids {
		for _, e := range all[id] {
			if e.Type == event.Transfer {
				out = append(out, e)
			}
		}
	}
	return out
}

// requireTransfer fails the test unless a transfer event among xs has
// every pair of want.
func requireTransfer(t *testing.T, what string, xs []event.Event, want map[string]string) {
	t.Helper()
	for _, x := range xs {
		if hasMeta(x, want) {
			return
		}
	}
	t.Errorf("%s: no transfer with %v in %v", what, want, metas(xs))
}

// TestToolsThroughConfigInclude drives every stock tool through the
// ssh_config the `config` verb printed, Include'd by a main config that
// adds only the key and the known_hosts line the verb printed — the
// hosts named by their plain names, as an admin types them: scp (SFTP)
// and scp -O both ways, sftp -b, rsync -a both ways, git clone and push,
// ssh -L to an allowed and a refused destination, and ssh -J (refused).
// After each, the recording lists the transfer with the file's size and
// SHA-256 (rsync and git: the stream's, the protocol carries no per-file
// boundary) or the tunnel's bytes, or the refusal.
func TestToolsThroughConfigInclude(t *testing.T) {
	sshtest.RequireSFTP(t)
	echo := echoListener(t)
	f := newFixture(t, fixtureOptions{editConfig: withTunnels("demo", echo)})
	cfg := f.includingConfig(t, "alice", f.configVerb(t, "alice"))
	ssh := "ssh -F " + cfg
	home := filepath.Join(f.dir, "home")
	local := t.TempDir()
	write := func(path string, b []byte) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	same := func(what, path string, want []byte) {
		t.Helper()
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %s has %d bytes (%v); want %d", what, path, len(got), err, len(want))
		}
	}

	t.Run("scp", func(t *testing.T) {
		up, down := payload(200<<10, 11), payload(150<<10, 12)
		write(filepath.Join(local, "up.bin"), up)
		write(filepath.Join(home, "down.bin"), down)
		tool(t, local, nil, "scp", "-F", cfg, "up.bin", "demo:scp-up.bin")
		tool(t, local, nil, "scp", "-F", cfg, "demo:down.bin", "scp-down.bin")
		same("scp upload", filepath.Join(home, "scp-up.bin"), up)
		same("scp download", filepath.Join(local, "scp-down.bin"), down)
		xs := f.transfersOf("sftp")
		requireTransfer(t, "scp upload", xs, map[string]string{"via": "sftp", "direction": "upload", "path": "scp-up.bin",
			"bytes_up": strconv.Itoa(len(up)), "sha256_up": hexSum(up), "status": "ok"})
		requireTransfer(t, "scp download", xs, map[string]string{"via": "sftp", "direction": "download", "path": "down.bin",
			"bytes_down": strconv.Itoa(len(down)), "sha256_down": hexSum(down), "status": "ok"})
	})

	t.Run("scp -O", func(t *testing.T) {
		up, down := payload(180<<10, 13), payload(120<<10, 14)
		write(filepath.Join(local, "legacy-up.bin"), up)
		write(filepath.Join(home, "legacy-down.bin"), down)
		tool(t, local, nil, "scp", "-O", "-F", cfg, "legacy-up.bin", "demo:legacy-landed.bin")
		tool(t, local, nil, "scp", "-O", "-F", cfg, "demo:legacy-down.bin", "legacy-back.bin")
		same("scp -O upload", filepath.Join(home, "legacy-landed.bin"), up)
		same("scp -O download", filepath.Join(local, "legacy-back.bin"), down)
		xs := f.transfersOf("exec")
		requireTransfer(t, "scp -O upload", xs, map[string]string{"scope": "file", "via": "scp", "direction": "upload", "path": "legacy-up.bin",
			"target": "legacy-landed.bin", "size": strconv.Itoa(len(up)), "sha256_up": hexSum(up), "status": "ok"})
		requireTransfer(t, "scp -O download", xs, map[string]string{"scope": "file", "via": "scp", "direction": "download", "path": "legacy-down.bin",
			"bytes_down": strconv.Itoa(len(down)), "sha256_down": hexSum(down), "status": "ok"})
	})

	t.Run("sftp -b", func(t *testing.T) {
		up := payload(90<<10, 15)
		write(filepath.Join(local, "batch-up.bin"), up)
		batch := filepath.Join(local, "batch")
		write(batch, []byte("put batch-up.bin batch.bin\nget batch.bin batch-back.bin\n"))
		tool(t, local, nil, "sftp", "-F", cfg, "-b", batch, "demo")
		same("sftp put", filepath.Join(home, "batch.bin"), up)
		same("sftp get", filepath.Join(local, "batch-back.bin"), up)
		abs, _ := filepath.Abs(home)
		xs := f.transfersOf("sftp")
		requireTransfer(t, "sftp put", xs, map[string]string{"direction": "upload", "path": abs + "/batch.bin", "bytes_up": strconv.Itoa(len(up)), "sha256_up": hexSum(up)})
		requireTransfer(t, "sftp get", xs, map[string]string{"direction": "download", "path": abs + "/batch.bin", "bytes_down": strconv.Itoa(len(up)), "sha256_down": hexSum(up)})
	})

	t.Run("rsync -a", func(t *testing.T) {
		data := payload(256<<10, 16)
		if err := os.MkdirAll(filepath.Join(local, "tree"), 0o755); err != nil {
			t.Fatal(err)
		}
		write(filepath.Join(local, "tree", "a.bin"), data)
		out := tool(t, local, nil, "rsync", "-a", "--stats", "-e", ssh, "tree/", "demo:synced/")
		same("rsync upload", filepath.Join(home, "synced", "a.bin"), data)
		_, x := f.transferOf(t, "rsync --server -")
		if !hasMeta(x, map[string]string{"via": "rsync", "direction": "upload", "path": "synced/", "status": "ok"}) {
			t.Errorf("rsync upload transfer = %v", x.Meta)
		}
		sent, received := rsyncStats(t, out)
		rsyncBytes(t, x, sent, received)
		out = tool(t, local, nil, "rsync", "-a", "--stats", "-e", ssh, "demo:synced/", "back/")
		same("rsync download", filepath.Join(local, "back", "a.bin"), data)
		_, x = f.transferOf(t, "rsync --server --sender ")
		if !hasMeta(x, map[string]string{"via": "rsync", "direction": "download", "path": "synced/", "status": "ok"}) {
			t.Errorf("rsync download transfer = %v", x.Meta)
		}
		sent, received = rsyncStats(t, out)
		rsyncBytes(t, x, sent, received)
	})

	t.Run("git", func(t *testing.T) {
		env := []string{"GIT_SSH_COMMAND=" + ssh, "GIT_CONFIG_NOSYSTEM=1", "HOME=" + t.TempDir(),
			"GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.org", "GIT_COMMITTER_NAME=a", "GIT_COMMITTER_EMAIL=a@example.org"}
		tool(t, home, env, "git", "init", "-q", "--bare", "-b", "main", "repo.git")
		seed := t.TempDir()
		tool(t, seed, env, "git", "init", "-q", "-b", "main", ".")
		data := payload(60<<10, 17)
		write(filepath.Join(seed, "blob.bin"), data)
		tool(t, seed, env, "git", "add", ".")
		tool(t, seed, env, "git", "commit", "-qm", "first")
		tool(t, seed, env, "git", "push", "-q", filepath.Join(home, "repo.git"), "main")
		tool(t, local, env, "git", "clone", "-q", "demo:repo.git", "clone")
		same("git clone", filepath.Join(local, "clone", "blob.bin"), data)
		_, x := f.transferOf(t, "git-upload-pack ")
		if n, _ := strconv.Atoi(x.Meta["bytes_down"]); !hasMeta(x, map[string]string{"via": "git", "direction": "download", "path": "repo.git", "status": "ok"}) ||
			n < 1000 || len(x.Meta["sha256_down"]) != 64 {
			t.Errorf("clone transfer = %v", x.Meta)
		}
		write(filepath.Join(local, "clone", "more.txt"), []byte("pushed through the Include\n"))
		tool(t, filepath.Join(local, "clone"), env, "git", "add", ".")
		tool(t, filepath.Join(local, "clone"), env, "git", "commit", "-qm", "second")
		tool(t, filepath.Join(local, "clone"), env, "git", "push", "-q", "origin", "main")
		_, x = f.transferOf(t, "git-receive-pack ")
		if n, _ := strconv.Atoi(x.Meta["bytes_up"]); !hasMeta(x, map[string]string{"via": "git", "direction": "upload", "path": "repo.git", "status": "ok"}) ||
			n < 100 || len(x.Meta["sha256_up"]) != 64 {
			t.Errorf("push transfer = %v", x.Meta)
		}
		if log := tool(t, filepath.Join(home, "repo.git"), env, "git", "log", "--format=%s", "main"); !strings.Contains(log, "second") {
			t.Errorf("push did not reach the host: %q", log)
		}
	})

	t.Run("ssh -L", func(t *testing.T) {
		refused := "127.0.0.1:" + freeLocalPort(t)
		for _, dest := range []string{echo, refused} {
			lport := freeLocalPort(t)
			ctx, cancel := context.WithCancel(context.Background())
			cmd := exec.CommandContext(ctx, "ssh", "-F", cfg, "-N", "-L", "127.0.0.1:"+lport+":"+dest, "demo")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			conn := dialEventually(t, "127.0.0.1:"+lport)
			ok := echoOnce(conn, "through-the-include")
			conn.Close()
			if want := dest == echo; ok != want {
				t.Errorf("ssh -L to %s: echo %v; want %v", dest, ok, want)
			}
			if dest == echo {
				waitFor(t, "tunnel recorded and closed", func() bool {
					ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "tunnel" })
					return len(ids) == 1 && len(f.streams()[ids[0]]) > 0 && f.streams()[ids[0]][len(f.streams()[ids[0]])-1].Type == event.SessionEnd
				})
			}
			cancel()
			cmd.Wait()
		}
		ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "tunnel" })
		if len(ids) != 1 {
			t.Fatalf("%d tunnel recordings; want 1 (the allowed one)", len(ids))
		}
		requireEvent(t, f.streams()[ids[0]], event.TunnelClose, "alice", map[string]string{"dest": echo, "bytes_up": "20", "bytes_down": "20"})
		if _, ok := findEvent(f.gatewayEvents(event.ForwardDenied), event.ForwardDenied, map[string]string{"user": "alice", "host": "demo",
			"kind": "direct-tcpip", "reason": "destination not in hosts[].tunnels"}); !ok {
			t.Errorf("refused tunnel to %s not recorded as forward.denied", refused)
		}
	})

	t.Run("ssh -J", func(t *testing.T) {
		host, port, _ := net.SplitHostPort(f.target.Addr())
		before := len(f.gatewayEvents(event.ForwardDenied))
		code, _, errOut := sshF(t, cfg, "-J", "demo", "-p", port, host, "true")
		if code != 255 || !strings.Contains(errOut, "ssh alice+HOST@BASTION") {
			t.Errorf("ssh -J demo: exit %d, stderr %q; want 255 and the supported way", code, errOut)
		}
		evs := f.gatewayEvents(event.ForwardDenied)
		if len(evs) <= before || !strings.HasPrefix(evs[len(evs)-1].Meta["detail"], "to "+f.target.Addr()) {
			t.Errorf("ssh -J not recorded: %v", metas(evs))
		}
		if ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Kind == "tunnel" }); len(ids) != 1 {
			t.Errorf("%d tunnel recordings after -J; want only the earlier allowed one", len(ids))
		}
	})
}
