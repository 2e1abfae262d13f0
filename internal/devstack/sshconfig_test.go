package devstack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/internal/sshtest"
)

func TestWriteSSHConfig(t *testing.T) {
	_, key := sshtest.Keygen(t, t.TempDir(), "host")
	tests := []struct {
		name, addr          string
		wantHost, wantKnown string
	}{
		{"loopback", "127.0.0.1:2222", "HostName 127.0.0.1\n    Port 2222\n", "foureyes-dev,[127.0.0.1]:2222 "},
		{"port 22", "127.0.0.1:22", "HostName 127.0.0.1\n    Port 22\n", "foureyes-dev,127.0.0.1 "},
		{"every address", "0.0.0.0:2222", "HostName 127.0.0.1\n    Port 2222\n", "foureyes-dev,[127.0.0.1]:2222 "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), `a "b" 100%`)
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := WriteSSHConfig(dir, tt.addr, key); err != nil {
				t.Fatal(err)
			}
			cfg, _ := os.ReadFile(filepath.Join(dir, SSHConfigName))
			known, _ := os.ReadFile(filepath.Join(dir, KnownHostsName))
			quoted := `"` + strings.ReplaceAll(strings.ReplaceAll(dir, `"`, `\"`), "%", "%%")
			for _, u := range DemoUsers {
				want := "\nHost " + u + "\n    " + tt.wantHost + "    User " + u + "\n    IdentityFile " + quoted + "/keys/" + u + "\"\n    IdentitiesOnly yes\n" +
					"    UserKnownHostsFile " + quoted + "/known_hosts\"\n    HostKeyAlias foureyes-dev\n    StrictHostKeyChecking yes\n"
				if !strings.Contains(string(cfg), want) {
					t.Errorf("ssh_config lacks\n%s\ngot:\n%s", want, cfg)
				}
			}
			if !strings.HasPrefix(string(known), tt.wantKnown+authorizedLine(key)+"\n") {
				t.Errorf("known_hosts = %q; want %q", known, tt.wantKnown+authorizedLine(key))
			}
		})
	}
}

// TestWriteSSHConfigRefusesControlCharacters: a newline in the state
// directory would inject an ssh_config directive (ProxyCommand runs a
// command on every ssh).
func TestWriteSSHConfigRefusesControlCharacters(t *testing.T) {
	_, key := sshtest.Keygen(t, t.TempDir(), "host")
	dir := filepath.Join(t.TempDir(), "x\nProxyCommand touch pwned\n")
	if err := WriteSSHConfig(dir, "127.0.0.1:2222", key); !errors.Is(err, ErrControlChar) {
		t.Errorf("WriteSSHConfig = %v; want ErrControlChar", err)
	}
	if _, err := Start(t.Context(), Options{Dir: dir}); !errors.Is(err, ErrControlChar) {
		t.Errorf("Start = %v; want ErrControlChar before starting anything", err)
	}
}

// TestWriteUserConfigs: each demo user's Include file is the config
// verb's output for them — a block per host they may reach and none for
// others — with their key and the pinned known_hosts, paths quoted.
func TestWriteUserConfigs(t *testing.T) {
	_, key := sshtest.Keygen(t, t.TempDir(), "host")
	cfg := &config.Config{
		Roles: map[string]config.Role{"admin": {Connect: []string{"demo-*"}}, "reviewer": {Approve: []string{"demo-prod"}}},
		Users: []config.User{{Name: "alice", Roles: []string{"admin"}}, {Name: "bob", Roles: []string{"reviewer"}}, {Name: "carol"}},
		Hosts: []config.Host{{Name: "demo-staging"}, {Name: "demo-prod"}, {Name: "elsewhere"}},
	}
	dir := filepath.Join(t.TempDir(), `a "b" 100%`)
	if err := WriteUserConfigs(dir, "0.0.0.0:2222", key, cfg); err != nil {
		t.Fatal(err)
	}
	alice, err := os.ReadFile(UserConfig(dir, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	quoted := `"` + strings.ReplaceAll(strings.ReplaceAll(dir, `"`, `\"`), "%", "%%")
	want := "\nHost demo-staging\n    HostName 127.0.0.1\n    Port 2222\n    User alice+demo-staging\n    HostKeyAlias [127.0.0.1]:2222\n" +
		"    IdentityFile " + quoted + "/keys/alice\"\n    IdentitiesOnly yes\n    UserKnownHostsFile " + quoted + "/known_hosts\"\n    StrictHostKeyChecking yes\n"
	if !strings.Contains(string(alice), want) || !strings.Contains(string(alice), "\nHost demo-prod\n") || strings.Contains(string(alice), "elsewhere") {
		t.Errorf("alice.conf:\n%s\nwant the block\n%s", alice, want)
	}
	for _, u := range []string{"bob", "carol"} {
		b, err := os.ReadFile(UserConfig(dir, u))
		if err != nil || strings.Contains(string(b), "\nHost ") || !strings.Contains(string(b), u+" may reach no host") {
			t.Errorf("%s.conf (%v):\n%s", u, err, b)
		}
	}
}
