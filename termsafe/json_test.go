package termsafe

import (
	"encoding/json"
	"testing"
)

func TestASCIIJSON(t *testing.T) {
	in := map[string]string{"reason": "ok\u202e\u200b\u0085 prüfen 🙂", "plain": "x"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got := ASCIIJSON(b)
	for _, c := range got {
		if c < 0x20 || c >= 0x7f {
			t.Fatalf("ASCIIJSON left byte %#x in %s", c, got)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if back["reason"] != in["reason"] || back["plain"] != "x" {
		t.Errorf("round trip = %q; want %q", back, in)
	}
	want := `{"plain":"x","reason":"ok\u202e\u200b\u0085 pr\u00fcfen \ud83d\ude42"}`
	if string(got) != want {
		t.Errorf("ASCIIJSON = %s; want %s", got, want)
	}
}
