package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// lines of base(): line 1 is empty, gateway is line 2, data_dir line 3,
// retention.classes line 7, users[0] line 14, hosts[1] line 19; text
// appended to base() starts at line 20.

// TestDecodeProblems checks that yaml.v3's decoding errors are rewritten
// into one line per problem naming the key path, the line and the fix.
func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"unknown key in a section suggests the closest",
			func(s string) string {
				return strings.Replace(s, "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  keepalive_intervall: 5s", 1)
			},
			[]string{"gateway.keepalive_intervall (line 4): unknown key; did you mean keepalive_interval?"}},
		{"unknown top-level key",
			func(s string) string { return s + "metrcs: {listen: ':9100'}\n" },
			[]string{"metrcs (line 20): unknown key; did you mean metrics?"}},
		{"unknown key in a list item",
			func(s string) string { return strings.Replace(s, `address: "10.0.0.6:22"`, `adress: "10.0.0.6:22"`, 1) },
			[]string{"hosts[1].adress (line 19): unknown key; did you mean address?"}},
		{"unknown key in a map value",
			func(s string) string {
				return strings.Replace(s, `admin: {connect: ["*"]}`, `admin: {conect: ["*"]}`, 1)
			},
			[]string{"roles.admin.conect (line 10): unknown key; did you mean connect?"}},
		{"unknown key in a policy",
			func(s string) string { return s + "approval_policies:\n  - hosts: [prod]\n    cout: 2\n" },
			[]string{"approval_policies[0].cout (line 22): unknown key; did you mean count?"}},
		{"camel case key",
			func(s string) string { return strings.Replace(s, "data_dir: /tmp/fe", "dataDir: /tmp/fe", 1) },
			[]string{"gateway.dataDir (line 3): unknown key; did you mean data_dir?"}},
		{"transposed letters",
			func(s string) string { return s + "metircs: {}\n" },
			[]string{"metircs (line 20): unknown key; did you mean metrics?"}},
		{"far from every key lists the section's keys",
			func(s string) string { return strings.Replace(s, "brokers:", "seeds:", 1) },
			[]string{"kafka.seeds (line 5): unknown key; valid keys of kafka: brokers, topic, partitions, replication_factor, retention_hours, batch_timeout, tls, sasl"}},
		{"far from every top-level key",
			func(s string) string { return s + "bogus: 1\n" },
			[]string{"bogus (line 20): unknown key; valid top-level keys: gateway, kafka, clickhouse, ingest, retention, roles, users, hosts, metrics, approval_policies, notify, recording_policies, limits, session_policies, signing"}},
		{"every problem is reported, in order",
			func(s string) string {
				return strings.Replace(s, "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  listn: x", 1) + "metrcs: {}\nnotify: {url: x}\n"
			},
			[]string{
				"gateway.listn (line 4): unknown key; did you mean listen?",
				"metrcs (line 21): unknown key; did you mean metrics?",
				"notify.url (line 22): unknown key; valid keys of notify: webhook_url, webhook_secret, secret_file",
			}},
		{"a key set twice",
			func(s string) string { return s + "kafka: {topic: t}\n" },
			[]string{"kafka (line 20): appears twice (first at line 4); merge the two into one"}},
		{"a value set twice",
			func(s string) string {
				return strings.Replace(s, "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  data_dir: /tmp/fe2", 1)
			},
			[]string{"gateway.data_dir (line 4): appears twice (first at line 3); keep one"}},
		{"not a duration",
			func(s string) string {
				return s + "approval_policies:\n  - hosts: [prod]\n    pending_timeout: 15 minutes\n"
			},
			[]string{`approval_policies[0].pending_timeout (line 22): "15 minutes" is not a duration (use e.g. 90s, 15m, 36h)`}},
		{"a long value is quoted whole",
			func(s string) string {
				return strings.Replace(s, "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  upstream_timeout: ten seconds or so", 1)
			},
			[]string{`gateway.upstream_timeout (line 4): "ten seconds or so" is not a duration (use e.g. 90s, 15m, 36h)`}},
		{"not a number",
			func(s string) string {
				return strings.Replace(s, "data_dir: /tmp/fe", "data_dir: /tmp/fe\n  chunk_bytes: 16k", 1)
			},
			[]string{`gateway.chunk_bytes (line 4): "16k" is not a number`}},
		{"not true/false",
			func(s string) string {
				return strings.Replace(s, "auditor: {audit: true}", "auditor: {audit: yes please}", 1)
			},
			[]string{`roles.auditor.audit (line 12): "yes please" is not true/false`}},
		{"same value twice on one line",
			func(s string) string { return s + "approval_policies: [{hosts: [prod], count: x, exec: x}]\n" },
			[]string{
				`approval_policies[0].count (line 20): "x" is not a number`,
				`approval_policies[0].exec (line 20): "x" is not true/false`,
			}},
		{"a single value where a list goes",
			func(s string) string {
				return strings.Replace(s, "brokers: [127.0.0.1:9092]", "brokers: 127.0.0.1:9092", 1)
			},
			[]string{`kafka.brokers (line 5): "127.0.0.1:9092" is a single value; want a list (e.g. [a, b] or one "- item" line each)`}},
		{"a list where a mapping goes",
			func(s string) string { return s + "metrics: [x]\n" },
			[]string{"metrics (line 20): is a list; want a mapping with the keys listen"}},
		{"a mapping where a value goes",
			func(s string) string { return strings.Replace(s, "default: logs", "default: {name: logs}", 1) },
			[]string{"retention.default (line 8): is a mapping; want a single value"}},
		{"day duration names the key",
			func(s string) string { return strings.Replace(s, "logs: 3d", "logs: 3 days", 1) },
			[]string{`retention.classes.logs: invalid duration "3 days" (use e.g. 3d, 90d, 36h)`}},
		{"day duration given a list",
			func(s string) string {
				return strings.Replace(s, "default: logs", "default: logs\n  max_hold: [14d]", 1)
			},
			[]string{"retention.max_hold (line 9): is a list; want a duration (e.g. 3d, 90d, 36h)"}},
		{"the whole file is a scalar",
			func(string) string { return "gateway\n" },
			[]string{`the file (line 1): "gateway" is a single value; want a mapping with the keys gateway, kafka, clickhouse, ingest, retention, roles, users, hosts, metrics, approval_policies, notify, recording_policies, limits, session_policies, signing`}},
		{"syntax error",
			func(s string) string { return s + "hosts: [\n" },
			[]string{"line 20: not valid YAML: did not find expected node content; check the indentation, quotes and brackets on that line and the one before"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.edit(base())))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse = %v; want ErrInvalid", err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %T; want *Error", err)
			}
			if !reflect.DeepEqual(e.Problems, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", e.Problems, tt.want)
			}
			for _, p := range e.Problems {
				for _, leak := range []string{"config.", "time.Duration", "!!", "unmarshal", "\n"} {
					if strings.Contains(p, leak) {
						t.Errorf("problem %q contains %q", p, leak)
					}
				}
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		name     string
		problems []string
		want     string
	}{
		{"one", []string{"a: b"}, "config: invalid: a: b"},
		{"several", []string{"a: b", "c (line 3): d"}, "config: invalid: 2 problems:\n  a: b\n  c (line 3): d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (&Error{Problems: tt.problems}).Error(); got != tt.want {
				t.Errorf("Error() = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestClosestKey(t *testing.T) {
	keys := []string{"id", "listen", "data_dir", "keepalive_interval", "host_key_file"}
	tests := []struct{ name, want string }{
		{"keepalive_intervall", "keepalive_interval"},
		{"keepalive_intrval", "keepalive_interval"},
		{"lsiten", "listen"},
		{"DATA_DIR", "data_dir"},
		{"data-dir", "data_dir"},
		{"hostkeyfile", "host_key_file"},
		{"ip", "id"},
		{"xy", ""},
		{"keepalive", ""},
		{"spool", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := closestKey(tt.name, keys); got != tt.want {
				t.Errorf("closestKey(%q) = %q; want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestTypeAt(t *testing.T) {
	tests := []struct {
		path keyPath
		want string
	}{
		{nil, "config.Config"},
		{keyPath{{key: "gateway", index: -1}, {key: "listen", index: -1}}, "string"},
		{keyPath{{key: "hosts", index: -1}, {index: 2}}, "config.Host"},
		{keyPath{{key: "roles", index: -1}, {key: "admin", index: -1}, {key: "audit", index: -1}}, "bool"},
		{keyPath{{key: "approval_policies", index: -1}, {index: 0}, {key: "exec", index: -1}}, "bool"},
		{keyPath{{key: "retention", index: -1}, {key: "classes", index: -1}, {key: "x", index: -1}}, "config.Duration"},
		{keyPath{{key: "gateway", index: -1}, {key: "nope", index: -1}}, "<nil>"},
		{keyPath{{key: "gateway", index: -1}, {index: 0}}, "<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.path.label(), func(t *testing.T) {
			got := "<nil>"
			if typ := typeAt(tt.path); typ != nil {
				got = typ.String()
			}
			if got != tt.want {
				t.Errorf("typeAt(%s) = %s; want %s", tt.path, got, tt.want)
			}
		})
	}
}

// FuzzParse checks that no input makes Parse panic, and that every
// problem it reports is one line wrapped in ErrInvalid.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base()))
	f.Add([]byte("gateway: {keepalive_intervall: 5s}\nmetrcs: 1\n"))
	f.Add([]byte("hosts: [{adress: x}, {name: [1]}]\nretention: {classes: {a: 3 days}}\n"))
	f.Add([]byte("a: &x {b: *x}\n<<: *x\n"))
	f.Add([]byte("- 1\n- 2\n"))
	f.Add([]byte("kafka: {brokers: [a:1], brokers: [b:2]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := Parse(b)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("Parse = %v; want ErrInvalid", err)
		}
		var e *Error
		if !errors.As(err, &e) || len(e.Problems) == 0 {
			t.Fatalf("Parse = %#v; want an *Error with problems", err)
		}
	})
}
