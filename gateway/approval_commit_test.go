package gateway

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// gatedHost is an upstream that runs an exec the moment it is asked
// (noting it in ran) and answers the request only when the test opens
// the gate: the window, as long as the test likes, in which the command
// already runs on the host and the bastion still waits for the reply.
type gatedHost struct {
	ln   net.Listener
	key  gossh.PublicKey
	gate chan struct{}
	mu   sync.Mutex
	ran  []string
}

func startGatedHost(t *testing.T) *gatedHost {
	t.Helper()
	signer := sshtest.NewSigner(t)
	cfg := &gossh.ServerConfig{PublicKeyCallback: func(gossh.ConnMetadata, gossh.PublicKey) (*gossh.Permissions, error) { return nil, nil }}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &gatedHost{ln: ln, key: signer.PublicKey(), gate: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, chans, reqs, err := gossh.NewServerConn(c, cfg)
				if err != nil {
					return
				}
				go gossh.DiscardRequests(reqs)
				for nc := range chans {
					ch, creqs, err := nc.Accept()
					if err != nil {
						continue
					}
					go h.serve(ch, creqs)
				}
			}()
		}
	}()
	t.Cleanup(func() { h.open(); ln.Close(); wg.Wait() })
	return h
}

func (h *gatedHost) serve(ch gossh.Channel, reqs <-chan *gossh.Request) {
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(true, nil)
			continue
		}
		var cmd struct{ Command string }
		gossh.Unmarshal(req.Payload, &cmd)
		h.mu.Lock()
		h.ran = append(h.ran, cmd.Command) // it runs from now on
		h.mu.Unlock()
		<-h.gate
		req.Reply(true, nil)
		fmt.Fprintf(ch, "ran: %s\r\n", cmd.Command)
		ch.SendRequest("exit-status", false, gossh.Marshal(&struct{ Status uint32 }{0}))
		ch.Close()
	}
}

// open lets every held exec reply, once.
func (h *gatedHost) open() {
	h.mu.Lock()
	defer h.mu.Unlock()
	select {
	case <-h.gate:
	default:
		close(h.gate)
	}
}

func (h *gatedHost) runs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ran...)
}

func (h *gatedHost) host(name string) string {
	return fmt.Sprintf(`{name: %s, address: "%s", login: root, host_key: "%s", labels: {env: production}, class: production}`, name, h.ln.Addr(), authorizedKey(h.key))
}

// checkRanIsRecorded fails t unless the session's record holds what the
// gated host ran: the exec, before the host's output, the output, and no
// cancel, deny or withdrawn approval after the grant.
func checkRanIsRecorded(t *testing.T, f *fixture, id string, gh *gatedHost) {
	t.Helper()
	ran := gh.runs()
	if len(ran) != 1 {
		t.Fatalf("host ran %q; want the command once", ran)
	}
	evs := f.sessionEvents(id)
	var typs []string
	exec, out := -1, ""
	for i, e := range evs {
		typs = append(typs, string(e.Type)+"("+e.Actor+")")
		switch e.Type {
		case event.Exec:
			exec = i
			if string(e.Data) != ran[0] {
				t.Errorf("exec recorded %q; the host ran %q", e.Data, ran[0])
			}
		case event.Output:
			if exec < 0 {
				t.Errorf("output at seq %d before any exec", e.Seq)
			}
			out += string(e.Data)
		case event.ApprovalCancel, event.ApprovalDeny, event.ApprovalExpire:
			t.Errorf("%s recorded, yet the host ran the command", e.Type)
		case event.ParticipantLeave:
			if e.Meta["approval"] == "withdrawn" {
				t.Errorf("approval withdrawn by %s, yet the host ran the command on it", e.Actor)
			}
		}
	}
	if exec < 0 || !strings.Contains(out, "ran: "+ran[0]) {
		t.Errorf("the host ran %q, the record has exec=%v output=%q: %s", ran[0], exec >= 0, out, strings.Join(typs, " "))
	}
}

// TestApprovalCommitsBeforeHostRuns: once the approval is taken and the
// host is asked to run the command, nothing can make the record say it
// did not run: not the requester's Ctrl-C, not a second reviewer's deny,
// not the approver leaving at once. Each lands in the window where the
// command already runs on the host and the bastion awaits its reply.
func TestApprovalCommitsBeforeHostRuns(t *testing.T) {
	const cmd = "rm -rf /srv/data"
	t.Run("requester cancels", func(t *testing.T) {
		gh := startGatedHost(t)
		f := newFixture(t, fixtureOptions{fourEyes: true, extraHosts: []string{gh.host("gated-prod")}})
		alice := f.client("alice", true, "gated-prod", "--", cmd)
		alice.Start(t)
		alice.Expect("Reason for this session: ", timeout)
		alice.Send("cleanup\r")
		id := idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))[1]
		dave := f.review(t, "dave", id)
		dave.Expect("Approve this session? [y/n] ", timeout)
		dave.Send("y\r")
		waitFor(t, "the host to run the command", func() bool { return len(gh.runs()) == 1 })
		alice.Send("\x03")
		time.Sleep(300 * time.Millisecond) // lets the Ctrl-C reach the hub; asserts no speed
		gh.open()
		alice.Expect("ran: "+cmd, timeout)
		alice.Wait()
		dave.Send("\x1dq")
		dave.Wait()
		checkRanIsRecorded(t, f, id, gh)
	})
	t.Run("second reviewer denies", func(t *testing.T) {
		gh := startGatedHost(t)
		f := newFixture(t, fixtureOptions{fourEyes: true, extraHosts: []string{gh.host("gated-prod")}})
		alice := f.client("alice", false, "gated-prod", "--", cmd)
		alice.Options = []string{"-o", "SetEnv=" + reasonEnv + "=\"cleanup\""}
		alice.Start(t)
		id := idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))[1]
		late := f.review(t, "dave", id) // at the prompt, deciding
		late.Expect("Approve this session? [y/n] ", timeout)
		dave := f.review(t, "dave", id)
		dave.Expect("Approve this session? [y/n] ", timeout)
		dave.Send("y\r")
		waitFor(t, "the host to run the command", func() bool { return len(gh.runs()) == 1 })
		late.Send("n\r")
		late.Expect("Reason for denying", timeout)
		late.Send("no\r")
		late.Expect("was decided meanwhile", timeout)
		late.Wait()
		gh.open()
		alice.Expect("ran: "+cmd, timeout)
		alice.Wait()
		dave.Send("\x1dq")
		dave.Wait()
		checkRanIsRecorded(t, f, id, gh)
	})
	t.Run("second reviewer approves late", func(t *testing.T) {
		gh := startGatedHost(t)
		f := newFixture(t, fixtureOptions{fourEyes: true, extraHosts: []string{gh.host("gated-prod")}})
		alice := f.client("alice", false, "gated-prod", "--", cmd)
		alice.Options = []string{"-o", "SetEnv=" + reasonEnv + "=\"cleanup\""}
		alice.Start(t)
		id := idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))[1]
		late := f.review(t, "dave", id)
		late.Expect("Approve this session? [y/n] ", timeout)
		dave := f.review(t, "dave", id)
		dave.Expect("Approve this session? [y/n] ", timeout)
		dave.Send("y\r")
		waitFor(t, "the host to run the command", func() bool { return len(gh.runs()) == 1 })
		late.Send("y\r")
		late.Expect("approved by others meanwhile", timeout)
		gh.open()
		alice.Expect("ran: "+cmd, timeout)
		alice.Wait()
		for _, c := range []*sshtest.Client{late, dave} {
			c.Send("\x1dq")
			c.Wait()
		}
		checkRanIsRecorded(t, f, id, gh)
		grants := 0
		for _, e := range f.sessionEvents(id) {
			if e.Type == event.ApprovalGrant {
				grants++
			}
		}
		if grants != 1 {
			t.Errorf("%d approval.grant events; want 1: the late answer approved nothing", grants)
		}
	})
	t.Run("approver leaves", func(t *testing.T) {
		gh := startGatedHost(t)
		f := newFixture(t, fixtureOptions{fourEyes: true, extraHosts: []string{gh.host("gated-prod")}})
		alice := f.client("alice", false, "gated-prod", "--", cmd)
		alice.Options = []string{"-o", "SetEnv=" + reasonEnv + "=\"cleanup\""}
		alice.Start(t)
		id := idPattern.FindStringSubmatch(alice.Expect(idPattern, timeout))[1]
		dave := f.review(t, "dave", id)
		dave.Expect("Approve this session? [y/n] ", timeout)
		dave.Send("y\r")
		waitFor(t, "the host to run the command", func() bool { return len(gh.runs()) == 1 })
		dave.Send("\x1dq")
		dave.Wait()
		waitFor(t, "dave's leave in the record", func() bool {
			for _, e := range f.sessionEvents(id) {
				if e.Type == event.ParticipantLeave && e.Actor == "dave" {
					return true
				}
			}
			return false
		})
		if hb, ok := f.srv.hubs.get(id); ok && hb.current() == statePending {
			t.Errorf("session pending again after the host was asked to run it")
		}
		gh.open()
		alice.Wait()
		checkRanIsRecorded(t, f, id, gh)
		if strings.Count(strings.Join(gh.runs(), "\n"), cmd) != 1 {
			t.Errorf("host ran %q; want once", gh.runs())
		}
	})
}
