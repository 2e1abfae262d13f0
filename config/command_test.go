package config

import (
	"strings"
	"testing"
)

func TestMaxCommandBytes(t *testing.T) {
	c, err := Parse([]byte(base()))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Gateway.MaxCommandBytes; got != DefaultMaxCommandBytes {
		t.Errorf("default max_command_bytes = %d; want %d", got, DefaultMaxCommandBytes)
	}
	for _, v := range []string{"10", "2000000", "-1"} {
		_, err := Parse([]byte(strings.Replace(base(), "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  max_command_bytes: "+v, 1)))
		if err == nil || !strings.Contains(err.Error(), "gateway.max_command_bytes: is "+v+"; use a value between 256 and 1048576") {
			t.Errorf("max_command_bytes %s: err = %v; want it named with the range", v, err)
		}
	}
	c, err = Parse([]byte(strings.Replace(base(), "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  max_command_bytes: 4096", 1)))
	if err != nil || c.Gateway.MaxCommandBytes != 4096 {
		t.Errorf("max_command_bytes 4096: %v, %d", err, c.Gateway.MaxCommandBytes)
	}
}
