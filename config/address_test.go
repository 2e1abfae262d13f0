package config

import "testing"

func TestSplitPublicAddress(t *testing.T) {
	for _, tt := range []struct {
		in, host, port string
		ok             bool
	}{
		{"bastion.example.com", "bastion.example.com", "", true},
		{"bastion.example.com:2222", "bastion.example.com", "2222", true},
		{"192.0.2.1:22", "192.0.2.1", "22", true},
		{"2001:db8::1", "2001:db8::1", "", true},
		{"[2001:db8::1]", "2001:db8::1", "", true},
		{"[2001:db8::1]:2222", "2001:db8::1", "2222", true},
		{"", "", "", false},
		{"bastion:", "", "", false},
		{"bastion:ssh", "", "", false},
		{"bastion:70000", "", "", false},
		{":2222", "", "", false},
		{"alice@bastion", "", "", false},
		{"bastion example", "", "", false},
		{"ssh://bastion", "", "", false},
		{"[bastion]", "", "", false},
		{"2001:db8::zz", "", "", false},
	} {
		host, port, err := SplitPublicAddress(tt.in)
		if (err == nil) != tt.ok || host != tt.host || port != tt.port {
			t.Errorf("SplitPublicAddress(%q) = %q, %q, %v; want %q, %q, ok=%v", tt.in, host, port, err, tt.host, tt.port, tt.ok)
		}
	}
}
