package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
)

func TestRunUsageAndErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("kafka:\n  brokers: [nohostport]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("gateway:\n  data_dir: "+dir+"/gw\nkafka:\n  brokers: [127.0.0.1:9092]\nusers: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"no args", nil, 2, "", "usage: foureyes COMMAND"},
		{"help", []string{"help"}, 0, "", "commands:"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"dev without data", []string{"dev"}, 2, "", "--data DIR is required"},
		{"gateway without config", []string{"gateway"}, 2, "", "--config FILE is required"},
		{"bad flag", []string{"ingest", "--nope"}, 2, "", "foureyes ingest: unknown flag: --nope (-h lists the flags)\n"},
		{"bad flag single dash", []string{"dev", "-nope"}, 2, "", "foureyes dev: unknown shorthand flag: 'n' in -nope"},
		{"bad log level", []string{"gateway", "--log-level", "loud", "--config", good}, 2, "", `foureyes gateway: invalid argument "loud" for "--log-level" flag: want debug, info, warn or error`},
		{"single-dash long flag still works", []string{"check-config", "-for", "ingest", "-config=" + good}, 0, "OK for ingest", ""},
		{"bad for", []string{"check-config", "--for", "everything", "--config", good}, 2, "", `--for "everything": use gateway, ingest or all`},
		{"stray argument", []string{"check-config", "--config", good, "extra"}, 2, "", `unexpected argument "extra"`},
		{"missing file", []string{"check-config", "--config", filepath.Join(dir, "none.yaml")}, 1, "", "no such file"},
		{"invalid config names key", []string{"check-config", "--config", bad}, 1, "", "kafka.brokers[0]"},
		{"valid config for ingest", []string{"check-config", "--for", "ingest", "--config", good}, 0, "OK for ingest", ""},
		{"config without users fails for all", []string{"check-config", "--config", good}, 1, "", "users: is empty; nobody could log in"},
		{"gateway needs users", []string{"gateway", "--config", good}, 1, "", "users"},
		{"broker without data", []string{"broker"}, 2, "", "--data is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit = %d; want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q; want it to contain %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q; want it to contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestPrintClientKey(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("gateway:\n  id: bastion-1\n  data_dir: "+dir+"/gw\nkafka:\n  brokers: [127.0.0.1:9092]\nroles: {admin: {connect: ['*']}}\nusers:\n  - {name: alice, keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHCEr1bEd2TuhB1PU+C3F8M0p1lI2Gj0pbUhJRB4CnMl'], roles: [admin]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var first, second, stderr bytes.Buffer
	if code := run(context.Background(), []string{"gateway", "--config", cfg, "--print-client-key"}, &first, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.HasPrefix(first.String(), "ssh-ed25519 ") || !strings.HasSuffix(strings.TrimSpace(first.String()), "foureyes@bastion-1") {
		t.Errorf("client key line = %q", first.String())
	}
	run(context.Background(), []string{"gateway", "--config", cfg, "--print-client-key"}, &second, &stderr)
	if first.String() != second.String() {
		t.Errorf("client key changed between runs: %q then %q", first.String(), second.String())
	}
	fi, err := os.Stat(filepath.Join(dir, "gw", "upstream_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("client key mode = %v; want 0600", fi.Mode().Perm())
	}
}

// TestHelpSpellsFlagsAsDocumented: every subcommand's -h lists its flags
// with two dashes (--dry-run), as the README and the usage lines spell
// them; the standard flag package printed -dry-run.
func TestHelpSpellsFlagsAsDocumented(t *testing.T) {
	singleDash := regexp.MustCompile(`(?m)^\s+-[a-z][a-z-]+`)
	for _, args := range [][]string{
		{"dev", "-h"}, {"gateway", "--help"}, {"ingest", "-h"}, {"broker", "-h"},
		{"check-config", "-h"}, {"retention", "run", "-h"}, {"retention", "run", "-help"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		help := stderr.String()
		if code != 0 || !strings.HasPrefix(help, "usage: foureyes "+args[0]) || !strings.Contains(help, "\n      --") || singleDash.MatchString(help) {
			t.Errorf("foureyes %v = %d, help:\n%s\nwant exit 0 and every flag spelled --name", args, code, help)
		}
	}
	var stderr bytes.Buffer
	run(context.Background(), []string{"retention", "run", "-h"}, io.Discard, &stderr)
	for _, want := range []string{"--dry-run", "--config FILE", "--log-level LEVEL"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("retention run -h lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestPrintSigningKey(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("gateway:\n  id: bastion-1\n  data_dir: "+dir+"/gw\nkafka:\n  brokers: [127.0.0.1:9092]\nroles: {admin: {connect: ['*']}}\nusers:\n  - {name: alice, keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHCEr1bEd2TuhB1PU+C3F8M0p1lI2Gj0pbUhJRB4CnMl'], roles: [admin]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var first, second, stderr bytes.Buffer
	if code := run(context.Background(), []string{"gateway", "--config", cfg, "--print-signing-key"}, &first, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if _, err := event.ParsePublicKey(first.String()); err != nil || !strings.Contains(stderr.String(), "signing.trusted_keys") {
		t.Errorf("signing key line = %q (%v), stderr %q", first.String(), err, stderr.String())
	}
	run(context.Background(), []string{"gateway", "--config", cfg, "--print-signing-key"}, &second, &stderr)
	if first.String() != second.String() {
		t.Errorf("signing key changed between runs: %q then %q", first.String(), second.String())
	}
	key := filepath.Join(dir, "gw", "signing_ed25519")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signing key file: %v, %v; want mode 0600", fi, err)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"gateway", "--config", cfg, "--print-signing-key"}, &second, &stderr); code == 0 || !strings.Contains(stderr.String(), "chmod 600") {
		t.Errorf("world-readable signing key: exit %d, stderr %q; want a refusal telling to chmod 600", code, stderr.String())
	}
}

// TestPrintRetentionSigningKey: `foureyes ingest --print-signing-key`
// creates the retention job's key (0600, at retention.signing_key_file),
// prints the same public key every time, differs from the gateway's, and
// refuses a world-readable key file.
func TestPrintRetentionSigningKey(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "ingest", "retention_ed25519")
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("kafka:\n  brokers: [127.0.0.1:9092]\nretention:\n  signing_key_file: "+key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var first, second, stderr bytes.Buffer
	if code := run(context.Background(), []string{"ingest", "--config", cfg, "--print-signing-key"}, &first, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if _, err := event.ParsePublicKey(first.String()); err != nil || !strings.Contains(stderr.String(), "signing.trusted_keys") {
		t.Errorf("signing key line = %q (%v), stderr %q", first.String(), err, stderr.String())
	}
	run(context.Background(), []string{"ingest", "--config", cfg, "--print-signing-key"}, &second, &stderr)
	if first.String() != second.String() {
		t.Errorf("signing key changed between runs: %q then %q", first.String(), second.String())
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signing key file: %v, %v; want mode 0600", fi, err)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"ingest", "--config", cfg, "--print-signing-key"}, &second, &stderr); code == 0 || !strings.Contains(stderr.String(), "chmod 600") {
		t.Errorf("world-readable signing key: exit %d, stderr %q; want a refusal telling to chmod 600", code, stderr.String())
	}
}
