package config

import (
	"errors"
	"strings"
	"testing"
)

func TestExecOutputCap(t *testing.T) {
	c, err := Parse([]byte(base() + `
recording_policies:
  - hosts: ["stag*"]
    exec_output_cap: 4096
  - hosts: ["prod"]
    exec_output_cap: 0
  - hosts: ["*"]
    on_failure: strict
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		host string
		want int64
	}{
		{"staging", 4096},
		{"prod", 0},
		{"other", DefaultExecOutputCap}, // a policy without the key
	} {
		if got := c.ExecOutputCap(&Host{Name: tt.host}); got != tt.want {
			t.Errorf("ExecOutputCap(%s) = %d; want %d", tt.host, got, tt.want)
		}
	}
	none, err := Parse([]byte(base()))
	if err != nil {
		t.Fatal(err)
	}
	if got := none.ExecOutputCap(&Host{Name: "staging"}); got != DefaultExecOutputCap {
		t.Errorf("without recording_policies = %d; want %d", got, DefaultExecOutputCap)
	}
}

func TestExecOutputCapInvalid(t *testing.T) {
	for _, yaml := range []string{
		"recording_policies: [{hosts: [staging], exec_output_cap: -1}]",
		"recording_policies: [{hosts: [staging], exec_output_cap: lots}]",
	} {
		_, err := Parse([]byte(base() + yaml + "\n"))
		if err == nil || !strings.Contains(err.Error(), "exec_output_cap") {
			t.Errorf("Parse(%s) = %v; want an error naming exec_output_cap", yaml, err)
		}
		if err != nil && strings.Contains(yaml, "-1") && !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%s) = %v; want ErrInvalid", yaml, err)
		}
	}
}

func TestExecTransfers(t *testing.T) {
	c, err := Parse([]byte(base() + `
recording_policies:
  - hosts: ["stag*"]
    exec_transfers: store
  - hosts: ["*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ExecTransfers(&Host{Name: "staging"}); got != TransfersStore {
		t.Errorf("ExecTransfers(staging) = %q; want store", got)
	}
	if got := c.ExecTransfers(&Host{Name: "other"}); got != TransfersSummarise {
		t.Errorf("ExecTransfers(other) = %q; want summarise", got)
	}
	_, err = Parse([]byte(base() + "recording_policies: [{hosts: [staging], exec_transfers: skip}]\n"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "recording_policies[0].exec_transfers") {
		t.Errorf("Parse(exec_transfers: skip) = %v; want ErrInvalid naming the key", err)
	}
}
