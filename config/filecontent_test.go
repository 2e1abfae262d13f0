package config

import (
	"errors"
	"strings"
	"testing"
)

func TestKeepFileContent(t *testing.T) {
	c, err := Parse([]byte(base() + `
recording_policies:
  - hosts: ["stag*"]
    keep_file_content_bytes: 1048576
  - hosts: ["*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		host string
		want int64
	}{{"staging", 1 << 20}, {"prod", 0}} {
		h := &Host{Name: tt.host}
		if got := c.KeepFileContent(h); got != tt.want {
			t.Errorf("KeepFileContent(%s) = %d; want %d", tt.host, got, tt.want)
		}
	}
	none, err := Parse([]byte(base()))
	if err != nil {
		t.Fatal(err)
	}
	if got := none.KeepFileContent(&Host{Name: "staging"}); got != 0 {
		t.Errorf("without recording_policies = %d; want 0", got)
	}
}

func TestKeepFileContentInvalid(t *testing.T) {
	for _, v := range []string{"-1", "67108865", "1e12", "lots"} {
		_, err := Parse([]byte(base() + "recording_policies: [{hosts: [staging], keep_file_content_bytes: " + v + "}]\n"))
		if err == nil || !strings.Contains(err.Error(), "keep_file_content_bytes") {
			t.Errorf("keep_file_content_bytes %s: Parse = %v; want an error naming the key", v, err)
		}
		if v == "-1" || v == "67108865" {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "64 MiB") {
				t.Errorf("keep_file_content_bytes %s: Parse = %v; want ErrInvalid saying the range", v, err)
			}
		}
	}
}
