package devstack

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestDevReload: editing the generated configuration and reloading (what
// SIGHUP does to `foureyes dev`) applies at once: alice's live session
// ends with "access revoked" when her role goes; an invalid edit is
// refused and the running configuration stays.
func TestDevReload(t *testing.T) {
	st := startStack(t)
	orig, err := os.ReadFile(st.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	alice := st.client("alice", true, "demo-staging")
	alice.Start(t)
	alice.Expect("demo-staging$ ", 30*time.Second)

	bad := strings.Replace(string(orig), "roles: [admin]", "roles: [admin, nosuchrole]", 1)
	if err := os.WriteFile(st.ConfigFile(), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if s := st.Reload(); s.OK || !strings.Contains(s.Error, "nosuchrole") {
		t.Fatalf("invalid reload: %+v; want refused naming the role", s)
	}
	alice.Send("echo alive-$((40+2))\r")
	alice.Expect("alive-42", 30*time.Second)

	revoke := strings.Replace(string(orig), "roles: [admin]", "roles: [auditor]", 1)
	if err := os.WriteFile(st.ConfigFile(), []byte(revoke), 0o600); err != nil {
		t.Fatal(err)
	}
	if s := st.Reload(); !s.OK || s.Revoked != 1 {
		t.Fatalf("reload: %+v; want one session revoked", s)
	}
	alice.Expect("access revoked (access to demo-staging removed)", 30*time.Second)
	alice.Wait()
}
