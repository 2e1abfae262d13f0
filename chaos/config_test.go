package chaos

import (
	"os"
	"strings"
	"testing"
	"text/template"

	"github.com/foureyes/foureyes/config"
)

// topic is the event topic of every scenario.
const topic = "chaos.events"

// group is the consumer group of the stack's ingest processes.
const group = "foureyes-ingest"

// configTemplate is the configuration of one gateway or ingest process, in
// the format an operator writes (docs/config.md).
var configTemplate = template.Must(template.New("chaos").Parse(`# Written by the chaos suite.
gateway:
  id: {{.GatewayID}}
  listen: {{.Listen}}
  data_dir: {{.DataDir}}
  chunk_bytes: {{.ChunkBytes}}
{{- if .SpoolMaxBytes}}
  spool_max_bytes: {{.SpoolMaxBytes}}
{{- end}}
  upstream_timeout: 10s
kafka:
  brokers: ["{{.Broker}}"]
  topic: ` + topic + `
  partitions: {{.Partitions}}
clickhouse:
  addr: {{.ClickHouse}}
  database: {{.Database}}
ingest:
  group: {{.Group}}
  batch_rows: {{.BatchRows}}
retention:
  classes: {logs: 3d}
roles:
  admin: {connect: [demo]}
users:
  - {name: alice, keys: ["{{.AliceKey}}"], roles: [admin]}
hosts:
  - {name: demo, address: "{{.Target}}", host_key: "{{.TargetKey}}"}
{{- if .BestEffort}}
recording_policies:
  - {hosts: [demo], on_failure: best_effort}
{{- end}}
{{- if .Metrics}}
metrics:
  listen: {{.Metrics}}
{{- end}}
`))

// configValues fill configTemplate.
type configValues struct {
	GatewayID, Listen, DataDir string
	ChunkBytes                 int
	SpoolMaxBytes              int64
	Broker                     string
	Partitions                 int
	ClickHouse, Database       string
	Group                      string
	BatchRows                  int
	AliceKey                   string
	Target, TargetKey          string
	Metrics                    string
	BestEffort                 bool // recording_policies: best_effort for demo
}

// writeConfig renders v, checks it with the config package (a mistake here
// is reported by name, not as a child that will not start) and writes it
// to path.
func writeConfig(tb testing.TB, path string, v configValues) {
	tb.Helper()
	var b strings.Builder
	if err := configTemplate.Execute(&b, v); err != nil {
		tb.Fatal(err)
	}
	if _, err := config.Parse([]byte(b.String())); err != nil {
		tb.Fatalf("chaos: generated config: %v\n%s", err, b.String())
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
}
