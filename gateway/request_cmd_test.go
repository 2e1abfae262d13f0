package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestParseWindowArgs(t *testing.T) {
	tests := []struct {
		name, in string
		want     windowArgs
		err      string
	}{
		{"full", "demo-prod --for 30m --reason deploy release 42", windowArgs{spec: "demo-prod", dur: 30 * time.Minute, reason: "deploy release 42"}, ""},
		{"reason takes the rest", "a,b --reason x --for 1h", windowArgs{spec: "a,b", reason: "x --for 1h"}, ""},
		{"equals forms", "env=prod --for=2h --no-wait --reason=why not", windowArgs{spec: "env=prod", dur: 2 * time.Hour, noWait: true, reason: "why not"}, ""},
		{"days", "h --for 1d --reason r", windowArgs{spec: "h", dur: 24 * time.Hour, reason: "r"}, ""},
		{"end", "--end abc --reason done", windowArgs{end: "abc", reason: "done"}, ""},
		{"list", "", windowArgs{}, ""},
		{"zero duration", "h --for 0s --reason r", windowArgs{}, "give a duration"},
		{"missing duration value", "h --for", windowArgs{}, "--for needs a value"},
		{"missing window id", "--end", windowArgs{}, "--end needs a value"},
		{"unknown option", "h --forever", windowArgs{}, "unknown option"},
		{"second host word", "a b", windowArgs{}, "separated by commas"},
		{"unbalanced quote", "h --reason 'x", windowArgs{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWindowArgs(tt.in)
			switch {
			case tt.name == "unbalanced quote":
				if err == nil {
					t.Errorf("parseWindowArgs(%q) = %+v; want an error", tt.in, got)
				}
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("parseWindowArgs(%q) error = %v; want %q", tt.in, err, tt.err)
				}
			case err != nil || got != tt.want:
				t.Errorf("parseWindowArgs(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzParseWindowArgs: any command line parses or fails cleanly, and a
// parsed duration is positive.
func FuzzParseWindowArgs(f *testing.F) {
	for _, s := range []string{"demo-prod --for 30m --reason x", "--end id", "a,b,c --for=1d --no-wait --reason=\x1b[31m", "'\"", "--for -1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseWindowArgs(s)
		if err == nil && a.dur < 0 {
			t.Errorf("parseWindowArgs(%q) duration %v", s, a.dur)
		}
	})
}
