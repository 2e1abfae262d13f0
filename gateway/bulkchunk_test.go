package gateway

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/foureyes/foureyes/event"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/foureyes/foureyes/recorder"
)

// TestUncappedExecRecordedWhole: with exec_output_cap 0 a bulk command's
// output is stored whole, byte for byte and in order, in output events
// that grew past ChunkBytes under the bulk (fewer events per byte), with
// no output.summary (nothing was summarised, so nothing is hashed twice)
// and a chain that verifies.
func TestUncappedExecRecordedWhole(t *testing.T) {
	f := newFixture(t, fixtureOptions{editConfig: func(y string) string {
		return y + "recording_policies:\n  - {hosts: [demo], exec_output_cap: 0}\n"
	}})
	cmd := "seq 1 600000; echo THE-END"
	c := &sshtest.Client{Addr: f.addr, User: "alice+demo", Key: f.keys["alice"], Args: []string{cmd}}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	ssh := c.Command(ctx)
	ssh.Stdout, ssh.Stderr = &stdout, &stderr
	if err := ssh.Run(); err != nil {
		t.Fatalf("ssh: %v\n%s", err, stderr.String())
	}
	if !strings.HasSuffix(stdout.String(), "600000\nTHE-END\n") {
		t.Fatalf("client got %d bytes ending %q", stdout.Len(), stdout.String()[max(0, stdout.Len()-20):])
	}
	evs := f.sessionOf(func(i recorder.StartInfo) bool { return i.Command == cmd })
	var rec []byte
	largest := 0
	for _, e := range evs {
		switch e.Type {
		case event.Output:
			rec = append(rec, e.Data...)
			largest = max(largest, len(e.Data))
		case event.OutputSummary:
			t.Errorf("output.summary without a cap: %v", e.Meta)
		}
	}
	if !bytes.Equal(rec, stdout.Bytes()) {
		t.Errorf("recorded %d output bytes; the client got %d: not the same bytes in the same order", len(rec), stdout.Len())
	}
	if largest <= 16<<10 {
		t.Errorf("largest output event %d bytes; bulk output should grow chunks past ChunkBytes (16 KiB)", largest)
	}
	if b := event.Verify(evs); b != nil {
		t.Errorf("chain: %v", b)
	}
}
