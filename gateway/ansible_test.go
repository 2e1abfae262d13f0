package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/recorder"
)

// testPlaybook copies a file, renders a template, runs a command, gathers
// a fact and runs a raw command (sent to the host verbatim, without a
// module around it), then checks the copy on the host.
const testPlaybook = `- hosts: all
  gather_facts: false
  tasks:
    - name: a fact
      setup:
        gather_subset: [min]
    - name: copy a file
      copy:
        src: payload.bin
        dest: "{{ dest_dir }}/copied-{{ inventory_hostname }}.bin"
    - name: template
      template:
        src: motd.j2
        dest: "{{ dest_dir }}/motd-{{ inventory_hostname }}.txt"
    - name: command
      command: sha256sum copied-{{ inventory_hostname }}.bin
      args:
        chdir: "{{ dest_dir }}"
      register: sum
    - name: raw
      raw: echo raw-{{ inventory_hostname }} > {{ dest_dir }}/raw-{{ inventory_hostname }}.txt
    - name: the copy arrived whole
      assert:
        that: sum.stdout.startswith(payload_sha)
`

// testTemplate is the playbook's template; it uses gathered facts.
const testTemplate = "host {{ inventory_hostname }} on {{ ansible_facts['system'] }}\n"

// testInventory names the hosts by their ssh_config aliases only.
const testInventory = `[bastioned]
staging
prod
`

// TestAnsiblePlaybookThroughBastion: a real ansible-playbook, with an
// inventory of aliases and an ssh_config naming the target in the user
// name (ControlMaster on, SFTP transfers), runs a playbook on the
// non-four-eyes host; on the four-eyes host it is refused without a
// window, recorded, and nothing reaches the host; within a window alice
// requested and dave approved, the same playbook over the same master
// connection succeeds, and every session channel Ansible opened is a
// recording linked to the window, with the copied file's SHA-256 in a
// transfer event and the raw command recorded verbatim.
func TestAnsiblePlaybookThroughBastion(t *testing.T) {
	requireAnsible(t)
	f := newFixture(t, windowOptions())
	home, err := filepath.Abs(filepath.Join(f.dir, "home"))
	if err != nil {
		t.Fatal(err)
	}
	gwKey := f.srv.hostSigner.PublicKey()
	a := newAnsibleSetup(t,
		sshHost{Alias: "staging", Addr: f.addr, User: "alice" + TargetSep + "demo", Identity: f.keys["alice"], HostKey: gwKey},
		sshHost{Alias: "prod", Addr: f.addr, User: "alice" + TargetSep + "demo-prod", Identity: f.keys["alice"], HostKey: gwKey})
	payload := randomFile(t, filepath.Join(a.dir, "payload.bin"), 200<<10+7, 10)
	a.write(t, "motd.j2", testTemplate)
	a.write(t, "inventory", testInventory)
	a.write(t, "site.yml", testPlaybook)
	vars := []string{"dest_dir=" + home, "payload_sha=" + sha(payload)}

	checkHost := func(t *testing.T, alias string) {
		t.Helper()
		if got, err := os.ReadFile(filepath.Join(home, "copied-"+alias+".bin")); err != nil || sha(got) != sha(payload) {
			t.Errorf("copied file on %s: %d bytes, %v", alias, len(got), err)
		}
		if got, err := os.ReadFile(filepath.Join(home, "motd-"+alias+".txt")); err != nil || string(got) != "host "+alias+" on Linux\n" {
			t.Errorf("template on %s: %q, %v", alias, got, err)
		}
		if got, err := os.ReadFile(filepath.Join(home, "raw-"+alias+".txt")); err != nil || string(got) != "raw-"+alias+"\n" {
			t.Errorf("raw on %s: %q, %v", alias, got, err)
		}
	}

	t.Run("no four-eyes", func(t *testing.T) {
		res := a.runPlaybook(t, "inventory", "site.yml", "staging", vars...)
		if res.exit != 0 || !strings.Contains(res.out, "staging                    : ok=6 ") {
			t.Fatalf("ansible-playbook on staging: exit %d\n%s", res.exit, res.out)
		}
		checkHost(t, "staging")
		ids := f.spy.find(func(i recorder.StartInfo) bool { return i.User == "alice" && i.Host == "demo" })
		if n := res.execs("staging"); n < 6 || len(ids) != n {
			t.Errorf("%d recordings for %d ssh/sftp runs by Ansible", len(ids), n)
		}
	})

	t.Run("four-eyes without a window", func(t *testing.T) {
		res := a.runPlaybook(t, "inventory", "site.yml", "prod", vars...)
		if res.exit == 0 || !strings.Contains(res.out, "demo-prod requires four-eyes approval") {
			t.Fatalf("ansible-playbook on prod without a window: exit %d\n%s", res.exit, res.out)
		}
		if _, err := os.Stat(filepath.Join(home, "copied-prod.bin")); !os.IsNotExist(err) {
			t.Errorf("the playbook reached prod without a window: %v", err)
		}
		if ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Host == "demo-prod" }); len(ids) != 0 {
			t.Errorf("%d sessions started on demo-prod without a window", len(ids))
		}
		requireEvent(t, f.gatewayEvents(event.AccessDenied), event.AccessDenied, "alice",
			map[string]string{"user": "alice", "host": "demo-prod", "reason": "four-eyes session without a reason"})
	})

	t.Run("four-eyes within a window", func(t *testing.T) {
		id := f.openWindow(t, "demo-prod --for 30m --reason ansible release 7")
		res := a.runPlaybook(t, "inventory", "site.yml", "prod", vars...)
		if res.exit != 0 || !strings.Contains(res.out, "prod                       : ok=6 ") {
			t.Fatalf("ansible-playbook on prod within the window: exit %d\n%s", res.exit, res.out)
		}
		checkHost(t, "prod")
		ids := f.spy.find(func(i recorder.StartInfo) bool { return i.Host == "demo-prod" && i.Kind != "window" })
		n := res.execs("prod")
		if n < 6 || len(ids) != n {
			t.Errorf("%d recordings for %d ssh/sftp runs by Ansible", len(ids), n)
		}
		streams := f.streams()
		var kinds = map[string]int{}
		var hashed, raw bool
		wantRaw := "echo raw-prod > " + home + "/raw-prod.txt"
		for _, sid := range ids {
			evs := streams[sid]
			if len(evs) < 2 {
				t.Errorf("%s: %d events", sid, len(evs))
				continue
			}
			start, end := evs[0], evs[len(evs)-1]
			kinds[start.Meta["kind"]]++
			if start.Type != event.SessionStart || start.Meta["window"] != id || start.Meta["approvers"] != "dave" || start.Meta["reason"] != "ansible release 7" {
				t.Errorf("%s starts with %s %v; want the window", sid, start.Type, start.Meta)
			}
			if end.Type != event.SessionEnd || end.Meta["window"] != id || end.Meta["approvers"] != "dave" {
				t.Errorf("%s ends with %s %v; want the window", sid, end.Type, end.Meta)
			}
			for _, e := range evs {
				switch {
				case e.Type == event.Transfer && e.Meta["via"] == "sftp" && e.Meta["sha256_up"] == sha(payload):
					hashed = true
				case e.Type == event.Exec && string(e.Data) == wantRaw:
					raw = e.Actor == "alice"
				}
			}
		}
		if kinds["sftp"] == 0 || kinds["exec"] == 0 || kinds["shell"] != 0 {
			t.Errorf("recorded kinds %v; want exec and sftp only", kinds)
		}
		if !hashed {
			t.Errorf("no SFTP transfer with the copied file's SHA-256 %s", sha(payload))
		}
		if !raw {
			t.Errorf("the raw task's command %q is not recorded verbatim", wantRaw)
		}
		requireEvent(t, streams[id], event.WindowGrant, "dave", nil)
	})
}
