package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The foureyes binary is built once per test run, on first use, into a
// temporary directory that TestMain removes.
var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

// TestMain removes the built binary after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// foureyesBinary returns the path of the foureyes binary built from this
// working tree, building it on the first call.
func foureyesBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
		if err != nil {
			buildErr = fmt.Errorf("chaos: the go command is needed to build foureyes: %w", err)
			return
		}
		if buildDir, err = os.MkdirTemp("", "foureyes-chaos-"); err != nil {
			buildErr = fmt.Errorf("chaos: %w", err)
			return
		}
		buildPath = filepath.Join(buildDir, "foureyes")
		cmd := exec.Command(goBin, "build", "-o", buildPath, "github.com/foureyes/foureyes/cmd/foureyes")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("chaos: go build ./cmd/foureyes: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildPath
}
