package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

func TestParseAuthorizedKeyOptions(t *testing.T) {
	tests := []struct {
		name string
		line string
		want KeyOptions
	}{
		{"none", key1, KeyOptions{}},
		{"from", `from="10.0.0.0/8,!10.0.0.66" ` + key1, KeyOptions{From: []string{"10.0.0.0/8", "!10.0.0.66"}}},
		{"no-pty", `no-pty ` + key1, KeyOptions{NoPTY: true}},
		{"case", `No-PTY ` + key1, KeyOptions{NoPTY: true}},
		{"restrict", `restrict ` + key1, KeyOptions{Restrict: true, NoPTY: true, NoPortForwarding: true, NoAgentForwarding: true, NoX11Forwarding: true, NoUserRC: true}},
		{"restrict,pty", `restrict,pty ` + key1, KeyOptions{Restrict: true, NoPortForwarding: true, NoAgentForwarding: true, NoX11Forwarding: true, NoUserRC: true}},
		{"expiry utc", `expiry-time="20300102030405Z" ` + key1, KeyOptions{ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}},
		{"expiry day", `expiry-time="20300102" ` + key1, KeyOptions{ExpiresAt: time.Date(2030, 1, 2, 0, 0, 0, 0, time.Local)}},
		{"quoted comma", `from="127.0.0.1, 10.*",no-user-rc ` + key1, KeyOptions{From: []string{"127.0.0.1", "10.*"}, NoUserRC: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ak, err := ParseAuthorizedKey(tt.line)
			if err != nil {
				t.Fatalf("ParseAuthorizedKey: %v", err)
			}
			got := ak.Options
			if strings.Join(got.From, "|") != strings.Join(tt.want.From, "|") || !got.ExpiresAt.Equal(tt.want.ExpiresAt) {
				t.Fatalf("options = %+v; want %+v", got, tt.want)
			}
			got.From, tt.want.From = nil, nil
			got.ExpiresAt, tt.want.ExpiresAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("options = %+v; want %+v", got, tt.want)
			}
		})
	}
}

// TestParseAuthorizedKeyRefusesOptions: options foureyes does not enforce
// are errors naming the option, never silently dropped.
func TestParseAuthorizedKeyRefusesOptions(t *testing.T) {
	tests := []struct{ line, want string }{
		{`command="/bin/true" ` + key1, "command is not supported"},
		{`environment="A=b" ` + key1, "environment is not supported"},
		{`permitopen="h:1" ` + key1, "permitopen is not supported"},
		{`permitlisten="1" ` + key1, "permitlisten is not supported"},
		{`principals="a" ` + key1, "principals is not supported"},
		{`cert-authority ` + key1, "cert-authority is not supported"},
		{`tunnel="1" ` + key1, "tunnel is not supported"},
		{`restrict,port-forwarding ` + key1, "port-forwarding is not supported"},
		{`agent-forwarding ` + key1, "agent-forwarding is not supported"},
		{`X11-forwarding ` + key1, "x11-forwarding is not supported"},
		{`verify-required ` + key1, "verify-required is not supported"},
		{`bogus ` + key1, "not a known option"},
		{`from=10.0.0.1 ` + key1, "double quotes"},
		{`from ` + key1, "needs a value"},
		{`from="10.0.0.1",from="10.0.0.2" ` + key1, "given twice"},
		{`expiry-time="20300101",expiry-time="20310101" ` + key1, "given twice"},
		{`from="*.example.com" ` + key1, "not an address pattern"},
		{`from="!evil.example.com,*" ` + key1, "not an address pattern"},
		{`from="10.0.0.1/8" ` + key1, "host bits"},
		{`from="10.0.0.0/33" ` + key1, "not a CIDR"},
		{`from="10.0.0.1,,10.0.0.2" ` + key1, "empty pattern"},
		{`expiry-time="2030" ` + key1, "YYYYMMDD"},
		{`expiry-time="20301340" ` + key1, "not a valid date"},
		{`no-pty="yes" ` + key1, "takes no value"},
		{key1 + "\n" + key1, "one key per entry"},
		{testCert(t), "certificates are not supported"},
	}
	for _, tt := range tests {
		_, err := ParseAuthorizedKey(tt.line)
		if !errors.Is(err, ErrKeyOption) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseAuthorizedKey(%.40q) = %v; want ErrKeyOption with %q", tt.line, err, tt.want)
		}
	}
}

// TestValidateNamesUserKeyAndOption: the config error names the user, the
// key line and the option.
func TestValidateNamesUserKeyAndOption(t *testing.T) {
	cfg := strings.Replace(base(), `{name: bob, keys: ["`+key2+`"]`, `{name: bob, keys: ['command="/bin/sh" `+key2+`']`, 1)
	_, err := Parse([]byte(cfg))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Parse = %v; want ErrInvalid", err)
	}
	for _, want := range []string{"users[1].keys[0]", `user "bob"`, "command is not supported", `"command=\"/bin/sh\" ssh-ed25519`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestAllowsFrom(t *testing.T) {
	tests := []struct {
		from string
		addr string
		want bool
	}{
		{"", "192.0.2.1", true},
		{"10.99.99.99", "127.0.0.1", false},
		{"10.99.99.99", "10.99.99.99", true},
		{"127.0.0.0/8", "127.0.0.1", true},
		{"127.0.0.0/8", "::ffff:127.0.0.1", true},
		{"127.0.0.0/8,!127.0.0.1", "127.0.0.1", false},
		{"!127.0.0.1,127.0.0.0/8", "127.0.0.1", false},
		{"!127.0.0.1,127.0.0.0/8", "127.0.0.2", true},
		{"!127.0.0.1", "127.0.0.2", false}, // a negation alone allows nothing
		{"127.0.0.*", "127.0.0.9", true},
		{"127.0.0.?", "127.0.0.19", false},
		{"10.*", "127.0.0.1", false},
		{"*", "2001:db8::1", true},
		{"2001:db8::/32", "2001:db8::1", true},
		{"2001:DB8::1", "2001:db8::1", true},
		{"!2001:db8::/32,*", "2001:db8::1", false},
	}
	for _, tt := range tests {
		var o KeyOptions
		if tt.from != "" {
			pats, err := ParseFromPatterns(tt.from)
			if err != nil {
				t.Fatalf("ParseFromPatterns(%q): %v", tt.from, err)
			}
			o.From = pats
		}
		if got := o.AllowsFrom(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("from=%q AllowsFrom(%s) = %v; want %v", tt.from, tt.addr, got, tt.want)
		}
	}
}

func TestExpired(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	o := KeyOptions{ExpiresAt: at}
	if o.Expired(at.Add(-time.Second)) || !o.Expired(at) || !o.Expired(at.Add(time.Hour)) {
		t.Fatalf("Expired around %v wrong", at)
	}
	if (KeyOptions{}).Expired(at) {
		t.Fatal("a key without expiry-time expired")
	}
}

// testCert returns an authorized_keys line holding a user certificate.
func testCert(t *testing.T) string {
	t.Helper()
	_, caPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(caPriv)
	if err != nil {
		t.Fatal(err)
	}
	userPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := gossh.NewPublicKey(userPub)
	if err != nil {
		t.Fatal(err)
	}
	cert := &gossh.Certificate{Key: pub, CertType: gossh.UserCert, ValidPrincipals: []string{"alice"}, ValidBefore: gossh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, signer); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(cert)))
}
