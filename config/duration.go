package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration that also accepts a day suffix ("3d", "90d")
// in YAML.
type Duration time.Duration

// day is the unit of the "d" suffix.
const day = 24 * time.Hour

// UnmarshalYAML parses "90d", "36h", "15m" or a plain number of seconds.
// A value that does not parse is reported as a *yaml.TypeError carrying
// the node's line, so that decoding goes on and Parse can name the key.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal %s into config.Duration", n.Line, n.ShortTag())}}
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a Go duration or a whole number of days ("90d").
func ParseDuration(s string) (time.Duration, error) {
	if l := len(s); l > 1 && s[l-1] == 'd' {
		var days int
		if _, err := fmt.Sscanf(s[:l-1], "%d", &days); err == nil && fmt.Sprint(days) == s[:l-1] && days > 0 {
			return time.Duration(days) * day, nil
		}
		return 0, fmt.Errorf("invalid duration %q (use e.g. 3d, 90d, 36h)", s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 3d, 90d, 36h)", s)
	}
	return v, nil
}

// Days returns the duration in whole days, rounded up.
func (d Duration) Days() int {
	return int((time.Duration(d) + day - 1) / day)
}

// String returns the duration as written in the configuration: whole days
// as "400d", anything else as a Go duration without zero units ("1h",
// "90m", "1m30s").
func (d Duration) String() string { return formatDuration(time.Duration(d)) }

// formatDuration formats d for an error message: whole days as "400d",
// else time.Duration's form without trailing zero units ("1h", not "1h0m0s").
func formatDuration(d time.Duration) string {
	if d != 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
