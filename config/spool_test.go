package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSpoolBackpressureKeys: the backpressure keys default from
// spool_max_bytes and refuse values that would disable it or hold
// sessions forever.
func TestSpoolBackpressureKeys(t *testing.T) {
	c, err := Parse([]byte(base()))
	if err != nil {
		t.Fatal(err)
	}
	g := c.Gateway
	if g.SpoolShareMinBytes != 16<<20 || g.SpoolLowWaterPercent != 50 || g.SpoolStallTimeout != 30*time.Second {
		t.Errorf("defaults: share %d, low water %d, stall %v", g.SpoolShareMinBytes, g.SpoolLowWaterPercent, g.SpoolStallTimeout)
	}
	small, err := Parse([]byte(strings.Replace(base(), "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  spool_max_bytes: 2097152", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := small.Gateway.SpoolShareMinBytes; got != 2097152/16 {
		t.Errorf("share floor of a 2 MiB spool = %d; want %d", got, 2097152/16)
	}
	tests := []struct {
		name, key string
		want      string
	}{
		{"floor too small", "spool_share_min_bytes: 1024", "gateway.spool_share_min_bytes: is 1024; use a value between 65536 and half of gateway.spool_max_bytes (536870912)"},
		{"floor over half the spool", "spool_share_min_bytes: 1073741824", "gateway.spool_share_min_bytes: is 1073741824; use a value between 65536 and half of gateway.spool_max_bytes (536870912)"},
		{"low water too low", "spool_low_water_percent: 5", "gateway.spool_low_water_percent: is 5; use a value between 10 and 90"},
		{"low water too high", "spool_low_water_percent: 100", "gateway.spool_low_water_percent: is 100; use a value between 10 and 90"},
		{"stall too short", "spool_stall_timeout: 100ms", "gateway.spool_stall_timeout: is 100ms; use at least 1s (Kafka may pause that long without an outage)"},
		{"stall negative", "spool_stall_timeout: -5s", "gateway.spool_stall_timeout: is -5s; use at least 1s (Kafka may pause that long without an outage)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(strings.Replace(base(), "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  "+tt.key, 1)))
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse = %v; want an *Error wrapping ErrInvalid", err)
			}
			if want := []string{tt.want}; !reflect.DeepEqual(e.Problems, want) {
				t.Errorf("problems:\n got %q\nwant %q", e.Problems, want)
			}
		})
	}
}
