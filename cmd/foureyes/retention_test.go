package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/ingest/retention"
)

func TestPrintPlan(t *testing.T) {
	day := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	drop := retention.Drop{Table: "events", Class: "logs", RetentionDays: 3, Day: day, Due: day.AddDate(0, 0, 4), Rows: 10, Bytes: 2048}
	tests := []struct {
		name string
		plan retention.Plan
		dry  bool
		want []string // the lines, tabwriter spacing squeezed
	}{
		{"nothing, dry run", retention.Plan{}, true,
			[]string{"Nothing to drop: no partition is past its class.", "active holds kept: 0"}},
		{"nothing", retention.Plan{}, false,
			[]string{"Nothing to drop: no partition is past its class.", "active holds kept: 0"}},
		{"one drop, dry run", retention.Plan{Drops: []retention.Drop{drop}}, true,
			[]string{"would drop 1 partitions:", "TABLE CLASS DAY DUE ROWS BYTES", "events logs (3d) 2026-03-14 2026-03-18T00:00:00Z 10 2048", "active holds kept: 0"}},
		{"release only", retention.Plan{Releases: []retention.Release{{Session: "s1", Class: "logs", Rows: 5}}}, true,
			[]string{"Nothing to drop: no partition is past its class.", "would drop held copy of session s1 (class logs, 5 rows): its hold ended", "active holds kept: 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			printPlan(&out, &tt.plan, tt.dry)
			var got []string
			for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				got = append(got, strings.Join(strings.Fields(l), " "))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("printPlan =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
