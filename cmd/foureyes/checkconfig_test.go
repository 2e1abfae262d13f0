package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHCEr1bEd2TuhB1PU+C3F8M0p1lI2Gj0pbUhJRB4CnMl alice@laptop"

// TestCheckConfig checks that check-config applies the requirements of
// the parts named by --for (default: all) and reports every problem.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty.yaml", "")
	noBrokers := write("nobrokers.yaml", "gateway: {data_dir: "+dir+"/gw}\nroles: {admin: {connect: ['*']}}\nusers:\n  - {name: alice, keys: ['"+testKey+"'], roles: [admin]}\n")
	ingestOnly := write("ingest.yaml", "kafka: {brokers: [127.0.0.1:9092]}\n")
	full := write("full.yaml", "gateway: {data_dir: "+dir+"/gw}\nkafka: {brokers: [127.0.0.1:9092]}\nroles: {admin: {connect: ['*']}}\nusers:\n  - {name: alice, keys: ['"+testKey+"'], roles: [admin]}\n")
	// frank lists alice's key: whoever holds it is both people.
	shared := write("shared.yaml", "gateway: {data_dir: "+dir+"/gw}\nkafka: {brokers: [127.0.0.1:9092]}\nroles: {admin: {connect: ['*']}}\nusers:\n  - {name: alice, keys: ['"+testKey+"'], roles: [admin]}\n  - {name: frank, keys: ['"+testKey+"'], roles: [admin]}\n")
	noGrace := write("nograce.yaml", "gateway: {data_dir: "+dir+"/gw, keepalive_interval: -1s}\nkafka: {brokers: [127.0.0.1:9092]}\nlimits: {login_grace: 0s}\nroles: {admin: {connect: ['*']}}\nusers:\n  - {name: alice, keys: ['"+testKey+"'], roles: [admin]}\n")
	typo := write("typo.yaml", "gateway:\n  data_dir: "+dir+"/gw\n  keepalive_intervall: 5s\nmetrcs: {listen: ':9100'}\n")
	const (
		dataDir = "gateway.data_dir: is required; set a directory for keys and the spool, e.g. /var/lib/foureyes"
		brokers = "kafka.brokers: is required; list at least one host:port"
		users   = "users: is empty; nobody could log in"
	)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr []string
		notStderr  []string
	}{
		{"empty file fails for all", []string{"--config", empty}, 1, "", []string{"3 problems", dataDir, brokers, users}, nil},
		{"empty file fails for ingest", []string{"--for", "ingest", "--config", empty}, 1, "", []string{brokers}, []string{dataDir, users}},
		{"empty file fails for gateway", []string{"--for", "gateway", "--config", empty}, 1, "", []string{dataDir, brokers, users}, nil},
		{"no brokers fails for all", []string{"--config", noBrokers}, 1, "", []string{brokers}, []string{dataDir, users, "problems"}},
		{"no brokers fails for ingest", []string{"--for", "ingest", "--config", noBrokers}, 1, "", []string{brokers}, nil},
		{"ingest-only file is OK for ingest", []string{"--for", "ingest", "--config", ingestOnly}, 0, "OK for ingest", nil, nil},
		{"ingest-only file fails for gateway", []string{"--for", "gateway", "--config", ingestOnly}, 1, "", []string{dataDir, users}, []string{brokers}},
		{"full file is OK", []string{"--config", full}, 0, "OK for gateway and ingest (1 users, 0 hosts, 1 roles)", nil, nil},
		{"explicit all", []string{"--for", "all", "--config", full}, 0, "OK for gateway and ingest", nil, nil},
		{"typos named with line and suggestion", []string{"--config", typo}, 1, "", []string{
			"gateway.keepalive_intervall (line 3): unknown key; did you mean keepalive_interval?",
			"metrcs (line 4): unknown key; did you mean metrics?",
		}, []string{"config.Gateway", "not found in type"}},
		{"key of two users", []string{"--config", shared}, 1, "", []string{
			`users[1].keys[0]: key SHA256:`, `belongs to both "alice" and "frank"; give each person their own key`,
		}, nil},
		{"login grace cannot be switched off", []string{"--config", noGrace}, 1, "", []string{
			"gateway.keepalive_interval: is -1s; use a positive duration",
			"limits.login_grace: is 0; this limit cannot be switched off",
		}, nil},
		{"bad --for", []string{"--for", "web", "--config", full}, 2, "", []string{`--for "web": use gateway, ingest or all`}, nil},
		{"missing --config", []string{"--for", "ingest"}, 2, "", []string{"--config FILE is required"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"check-config"}, tt.args...), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit = %d; want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q; want it to contain %q", stdout.String(), tt.wantStdout)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr = %q; want it to contain %q", stderr.String(), want)
				}
			}
			for _, not := range tt.notStderr {
				if strings.Contains(stderr.String(), not) {
					t.Errorf("stderr = %q; want it without %q", stderr.String(), not)
				}
			}
		})
	}
}

// TestCheckConfigMatchesParts checks that every problem `gateway` and
// `ingest` refuse a file with is reported by check-config, word for word.
// Each file is run only with parts that refuse it before starting
// anything; the context is cancelled anyway, so that a part accepting the
// file by mistake stops at once.
func TestCheckConfigMatchesParts(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, body string
		parts      []string
	}{
		{"empty", "", []string{"gateway", "ingest"}},
		{"no brokers", "gateway: {data_dir: " + dir + "/gw}\nroles: {admin: {connect: ['*']}}\nusers:\n  - {name: alice, keys: ['" + testKey + "'], roles: [admin]}\n", []string{"gateway", "ingest"}},
		{"no users", "gateway: {data_dir: " + dir + "/gw}\nkafka: {brokers: [127.0.0.1:9092]}\n", []string{"gateway"}},
		{"bad values", "kafka: {brokers: [nohostport]}\ngateway: {listen: nonsense}\n", []string{"gateway", "ingest"}},
		{"typo", "kafka: {brokerz: [127.0.0.1:9092]}\n", []string{"gateway", "ingest"}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i, tt := range tests {
		path := filepath.Join(dir, fmt.Sprintf("c%d.yaml", i))
		if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, part := range tt.parts {
			t.Run(tt.name+"/"+part, func(t *testing.T) {
				var partOut, partErr bytes.Buffer
				if code := run(ctx, []string{part, "--config", path}, &partOut, &partErr); code == 0 {
					t.Fatalf("%s accepted the file; the test needs one it refuses", part)
				}
				var out, errOut bytes.Buffer
				if code := run(ctx, []string{"check-config", "--for", part, "--config", path}, &out, &errOut); code == 0 {
					t.Fatalf("check-config --for %s accepted a file %s refuses with %q", part, part, partErr.String())
				}
				var all bytes.Buffer
				if code := run(ctx, []string{"check-config", "--config", path}, &out, &all); code == 0 {
					t.Fatalf("check-config accepted a file %s refuses with %q", part, partErr.String())
				}
				lines := problemLines(partErr.String())
				if len(lines) == 0 {
					t.Fatalf("%s gave no problem lines: %q", part, partErr.String())
				}
				for _, line := range lines {
					if !strings.Contains(errOut.String(), line) {
						t.Errorf("%s says %q; check-config --for %s does not (stderr %q)", part, line, part, errOut.String())
					}
					if !strings.Contains(all.String(), line) {
						t.Errorf("%s says %q; check-config does not (stderr %q)", part, line, all.String())
					}
				}
			})
		}
	}
}

// problemLines returns the problem lines of a "foureyes PART: FILE:
// config: invalid: …" message: the text after "config: invalid: " for
// one problem, the indented lines for several.
func problemLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if _, p, ok := strings.Cut(l, "config: invalid: "); ok {
			if !strings.HasSuffix(p, " problems:") {
				out = append(out, p)
			}
			continue
		}
		out = append(out, strings.TrimSpace(l))
	}
	return out
}
