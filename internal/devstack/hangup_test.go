package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/gateway"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/query"
	gossh "golang.org/x/crypto/ssh"
)

// addSSHDHost starts OpenSSH's sshd admitting the gateway's upstream key
// and adds it to the running stack as host demo-sshd (staging), with
// alice's admin role allowed to kill sessions.
func addSSHDHost(t *testing.T, st *Stack) {
	t.Helper()
	line, err := gateway.ClientPublicKey(&config.Config{Gateway: config.Gateway{ID: "dev", ClientKeyFile: filepath.Join(st.Dir, "gateway", "upstream_ed25519")}})
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	addr, hostKey := sshtest.StartSSHD(t, pub)
	cfg, err := os.ReadFile(st.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	const admin = "  admin:\n    connect: [\"demo-*\"]\n"
	if !strings.Contains(string(cfg), admin) {
		t.Fatalf("no admin role to extend in\n%s", cfg)
	}
	y := strings.Replace(string(cfg), admin, admin+"    kill: true\n", 1)
	y += "  - name: demo-sshd\n    address: " + addr + "\n    login: " + sshtest.LoginUser(t) +
		"\n    host_key: \"" + authorizedLine(hostKey) + "\"\n    labels: {env: staging}\n    class: logs\n"
	if err := os.WriteFile(st.ConfigFile(), []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	if s := st.Reload(); !s.OK {
		t.Fatalf("reload with demo-sshd: %+v", s)
	}
}

// killRemote kills the processes on this machine whose command line
// contains token (the remote commands a test left on the sshd host).
func killRemote(token string) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(token)) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// TestAuditShowHostKeptChannelOpen: an admin's command that ignores the
// hangup (a trap that ignores SIGHUP, no terminal, OpenSSH's sshd) is killed while a
// sibling channel of her connection shares the upstream login. The
// auditor's `audit show`, read from ClickHouse, says plainly that the
// host kept the channel open after the session ended, and --json carries
// it on the session record.
func TestAuditShowHostKeptChannelOpen(t *testing.T) {
	st := startStack(t)
	addSSHDHost(t, st)
	c, err := gossh.Dial("tcp", st.SSHAddr(), &gossh.ClientConfig{
		User:            "alice" + gateway.TargetSep + "demo-sshd",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(sshtest.Signer(t, filepath.Join(st.Dir, "keys", "alice")))},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), // the test's own gateway
		Timeout:         30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sibling, err := c.NewSession() // an sftp session: no login shell on the host
	if err != nil {
		t.Fatal(err)
	}
	defer sibling.Close()
	if err := sibling.RequestSubsystem("sftp"); err != nil {
		t.Fatal(err)
	}

	const token = "sleep\x0031348"
	t.Cleanup(func() { killRemote(token) })
	exec, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Close()
	if err := exec.Start("trap '' HUP; sleep 31348"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var id string
	deadline := time.Now().Add(60 * time.Second)
	for id == "" {
		list, err := st.Store.Sessions(ctx, query.Filter{User: "alice", Host: "demo-sshd"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.Kind == "exec" {
				id = s.ID
			}
		}
		if id == "" && time.Now().After(deadline) {
			t.Fatal("the exec session is not in ClickHouse after 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if res := sshtest.Run(t, st.client("alice", false, "kill", id, "--reason", "hangup test")); res.Exit != 0 {
		t.Fatalf("kill: %+v", res)
	}
	exec.Wait() // the bastion ends it although the host keeps the channel
	waitSession(t, st, "alice", "demo-sshd")

	show := sshtest.Run(t, st.client("carol", false, "audit", "show", id))
	for _, want := range []string{
		"the host kept the session's channel open after the session ended: a process may still run on the host",
		"login stayed open for the client's other channels",
		"host_channel_open=true",
	} {
		if show.Exit != 0 || !strings.Contains(show.Stdout, want) {
			t.Errorf("audit show lacks %q: exit %d\n%s%s", want, show.Exit, show.Stdout, show.Stderr)
		}
	}
	res := sshtest.Run(t, st.client("carol", false, "audit", "show", id, "--json"))
	first, _, _ := strings.Cut(res.Stdout, "\n")
	var rec struct {
		Record          string   `json:"record"`
		Verified        *bool    `json:"verified"`
		HostChannelOpen bool     `json:"host_channel_open"`
		Warnings        []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(first), &rec); err != nil || res.Exit != 0 {
		t.Fatalf("audit show --json: exit %d, %v\n%s%s", res.Exit, err, res.Stdout, res.Stderr)
	}
	if rec.Record != "session" || !rec.HostChannelOpen || len(rec.Warnings) != 1 || rec.Verified == nil || !*rec.Verified {
		t.Errorf("audit show --json session record = %s", first)
	}
}
