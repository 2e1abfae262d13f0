package query

import (
	"testing"
	"time"
)

func TestParseTimeSpec(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-03-01T10:00:00Z", time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), true},
		{"2026-03-01T10:00:00+02:00", time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), true},
		{"2026-03-01T10:00:00", time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), true},
		{"2026-03-01", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), true},
		{"24h", now.Add(-24 * time.Hour), true},
		{"90m", now.Add(-90 * time.Minute), true},
		{"7d", now.AddDate(0, 0, -7), true},
		{"1.5d", now.Add(-36 * time.Hour), true},
		{"2w", now.AddDate(0, 0, -14), true},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"-5h", time.Time{}, false},
		{"0d", time.Time{}, false},
		{"2026-13-01", time.Time{}, false},
		{"1e9d", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseTimeSpec(tt.in, now)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseTimeSpec(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ls -la", "ls -la"},
		{"héllo ✓", "héllo ✓"},
		{"", ""},
		{"echo \x1b]52;c;x\x07", `$'echo \E]52;c;x\x07'`},
		{"a\u009bb", `$'a\u009bb'`},
		{"a\xffb", `$'a\xffb'`},
		{"rm \u202e/ fr-", `$'rm \u202e/ fr-'`},
		{"tab\there", `$'tab\there'`},
		{"zero\u200bwidth", `$'zero\u200bwidth'`},
		{"pad    hidden", `$'pad\x20\x20\x20\x20hidden'`},
		{`looks\x1b`, `looks\x1b`}, // a typed backslash is text; escapes only ever stand inside $'…'
	}
	for _, tt := range tests {
		if got := printable(tt.in); got != tt.want {
			t.Errorf("printable(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
