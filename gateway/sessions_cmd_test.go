package gateway

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestSessionsJSON lists a pending session as JSON, with the join command
// the reviewer runs, and refuses unknown arguments.
func TestSessionsJSON(t *testing.T) {
	f := newFixture(t, fixtureOptions{fourEyes: true, publicAddress: "bastion.example.com"})
	alice, id := f.request(t, "json please")
	res := f.run("dave", "sessions --json")
	var got reviewItem
	if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil || res.Exit != 0 {
		t.Fatalf("sessions --json: %+v (%v)", res, err)
	}
	want := reviewItem{ID: id, User: "alice", Host: "demo-prod", Login: got.Login, State: "pending", Since: got.Since,
		Approvals: 0, Required: 1, Reason: "json please", Watching: []string{}, Join: "ssh -t dave@bastion.example.com join " + id, Kind: "session"}
	if got.Login == "" || got.Since.IsZero() || !reflect.DeepEqual(got, want) {
		t.Errorf("sessions --json = %+v; want %+v", got, want)
	}
	if res := f.run("dave", "sessions"); !strings.Contains(res.Stdout, "Join one with: ssh -t dave@bastion.example.com join ID") {
		t.Errorf("sessions: %+v; want the join hint with dave and the public address", res)
	}
	if res := f.run("dave", "sessions --yaml"); res.Exit != 1 || !strings.Contains(res.Stderr, "usage: sessions [--json]") {
		t.Errorf("sessions --yaml: %+v; want exit 1 and the usage", res)
	}
	// Not a reviewer: refused before any argument is looked at.
	if res := f.run("bob", "sessions --json"); res.Exit != 1 || strings.Contains(res.Stdout, id) {
		t.Errorf("bob: sessions --json: %+v; want refused", res)
	}
	alice.Send("\x03")
	alice.Wait()
}
