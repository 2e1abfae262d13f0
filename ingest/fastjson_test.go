package ingest

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/foureyes/foureyes/event"
)

// TestFastUnmarshalTakesWhatMarshalWrites checks that the common events
// take the fast path: otherwise it is dead weight.
func TestFastUnmarshalTakesWhatMarshalWrites(t *testing.T) {
	evs := append(sessionEvents("s", 12, true), event.Event{V: 1, Session: "x", Time: -5, Type: "t"})
	for i := range evs {
		b := mustMarshal(t, &evs[i])
		var got event.Event
		if !fastUnmarshal(b, &got) {
			t.Fatalf("fast path declined %s", b)
		}
		var want event.Event
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fast = %+v;\njson = %+v", got, want)
		}
	}
}

func TestFastUnmarshalDeclines(t *testing.T) {
	for _, in := range []string{
		``, `{`, `[]`, `{"v":1,"v":1}`, `{"V":1}`, `{"v":1 }`, ` {"v":1}`, `{"v":1}x`, `{"v":1.5}`, `{"v":1e2}`, `{"v":01}`,
		`{"v":65536}`, `{"v":-1}`, `{"seq":18446744073709551616}`, `{"ts":-9223372036854775808}`, `{"session":"a\"b"}`,
		`{"session":"é"}`, `{"session":null}`, `{"meta":{"a":"1","a":"2"}}`, `{"meta":{"a":1}}`, `{"data":"!!"}`,
		`{"hash":"zz"}`, `{"unknown":"x"}`, `{"meta":null}`,
	} {
		var e event.Event
		if fastUnmarshal([]byte(in), &e) {
			t.Errorf("fast path took %s: %+v", in, e)
		}
	}
}

// FuzzFastUnmarshal: whenever the fast path accepts an input, the result
// equals encoding/json's.
func FuzzFastUnmarshal(f *testing.F) {
	evs := sessionEvents("fz", 12, true)
	for i := range evs {
		f.Add(mustMarshal(f, &evs[i]))
	}
	f.Add([]byte(`{"v":1,"ts":-0,"seq":0,"meta":{},"data":""}`))
	f.Add([]byte(`{"retention_days":65535,"seq":18446744073709551615,"ts":9223372036854775807}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var fast event.Event
		if !fastUnmarshal(in, &fast) {
			return
		}
		var want event.Event
		if err := json.Unmarshal(in, &want); err != nil {
			t.Fatalf("fast path took %q, which encoding/json refuses: %v", in, err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("%q:\nfast = %+v\njson = %+v", in, fast, want)
		}
	})
}
