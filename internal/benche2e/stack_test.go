package benche2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/ingest"
	"github.com/foureyes/foureyes/internal/chserver"
	"github.com/foureyes/foureyes/internal/freeport"
	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// configTemplate is the gateway's and ingest's configuration: one host,
// the benchmark's sshd, whose exec output is stored whole
// (exec_output_cap 0: the default 1 MiB cap would summarise a bulk exec
// instead of recording it, and the benchmark is about recording).
var configTemplate = template.Must(template.New("bench").Parse(`# Written by internal/benche2e.
gateway:
  id: bench
  listen: {{.Listen}}
  data_dir: {{.DataDir}}
  spool_max_bytes: {{.SpoolMax}} # the default, written out for the transfers check
kafka:
  brokers: ["{{.Broker}}"]
  topic: bench.events
  partitions: 3
clickhouse:
  addr: {{.ClickHouse}}
  database: foureyes
retention:
  classes: {logs: 3d}
roles:
  admin: {connect: [real]}
users:
  - {name: alice, keys: ["{{.AliceKey}}"], roles: [admin]}
hosts:
  - {name: real, address: "{{.Host}}", login: "{{.Login}}", host_key: "{{.HostKey}}"}
recording_policies:
  - {hosts: [real], exec_output_cap: 0}
metrics:
  listen: {{.Metrics}}
`))

type configValues struct {
	Listen, DataDir, Broker, ClickHouse string
	AliceKey, Host, Login, HostKey      string
	Metrics                             string
	SpoolMax                            int64
}

// spoolMaxBytes is gateway.spool_max_bytes (the default, 1 GiB).
const spoolMaxBytes = 1 << 30

// stack is the foureyes pipeline as separate processes: clickhouse-server,
// `foureyes broker`, `foureyes gateway` and `foureyes ingest`.
type stack struct {
	dir          string
	addr         string // the gateway's SSH address
	metrics      string // the gateway's /metrics address
	aliceKey     string // alice's private key file
	db           driver.Conn
	chDir        string
	gatewayPID   int
	brokerPID    int
	ingestPID    int
	clickhousePI []int // clickhouse-server's process (found by its config path)
}

// startStack starts the pipeline with host h (sshd) as host "real". The
// gateway's upstream key is dataDir/upstream_ed25519, made before sshd
// started so that sshd trusts it.
func startStack(tb testing.TB, dir, dataDir string, h *sshtest.SSHD) *stack {
	tb.Helper()
	sshtest.RequireSSH(tb)
	s := &stack{dir: dir}
	aliceKey, alicePub := sshtest.Keygen(tb, dir, "alice")
	s.aliceKey = aliceKey

	s.chDir = filepath.Join(dir, "clickhouse")
	ch, err := chserver.Start(context.Background(), s.chDir, chserver.Options{})
	if errors.Is(err, chserver.ErrNotInstalled) && os.Getenv("CI") != "true" {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ch.Stop() })
	s.clickhousePI = pidsWith(s.chDir)

	broker := freeAddr(tb)
	s.brokerPID = startChild(tb, dir, "broker", "broker", "--data", filepath.Join(dir, "kafka"), "--addr", broker)
	waitDial(tb, "broker", broker, nil, filepath.Join(dir, "broker.log"))

	u, err := user.Current()
	if err != nil {
		tb.Fatal(err)
	}
	s.addr, s.metrics = freeAddr(tb), freeAddr(tb)
	v := configValues{
		Listen: s.addr, DataDir: dataDir, Broker: broker, ClickHouse: ch.Addr,
		AliceKey: authorized(alicePub), Host: h.Addr, Login: u.Username, HostKey: authorized(h.HostKey),
		Metrics: s.metrics, SpoolMax: spoolMaxBytes,
	}
	gwCfg := writeConfig(tb, filepath.Join(dir, "gateway.yaml"), v)
	v.Listen, v.Metrics = "127.0.0.1:1", freeAddr(tb)
	inCfg := writeConfig(tb, filepath.Join(dir, "ingest.yaml"), v)

	s.gatewayPID = startChild(tb, dir, "gateway", "gateway", "--config", gwCfg, "--log-level", "warn")
	waitDial(tb, "gateway", s.addr, nil, filepath.Join(dir, "gateway.log"))
	s.ingestPID = startChild(tb, dir, "ingest", "ingest", "--config", inCfg, "--log-level", "warn")

	if s.db, err = ingest.Connect(context.Background(), config.ClickHouse{Addr: ch.Addr, Database: "default"}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.db.Close() })
	s.waitSchema(tb)
	return s
}

// waitSchema waits until ingest created the events table.
func (s *stack) waitSchema(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var n uint8
		if err := s.db.QueryRow(context.Background(), "EXISTS TABLE foureyes.events").Scan(&n); err == nil && n == 1 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("benche2e: ingest made no events table in 2 minutes:\n%s", tail(filepath.Join(s.dir, "ingest.log"), 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// authorized returns k as one authorized_keys line without the newline.
func authorized(k gossh.PublicKey) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
}

// writeConfig renders v to path after the config package accepted it.
func writeConfig(tb testing.TB, path string, v configValues) string {
	tb.Helper()
	var b strings.Builder
	if err := configTemplate.Execute(&b, v); err != nil {
		tb.Fatal(err)
	}
	if _, err := config.Parse([]byte(b.String())); err != nil {
		tb.Fatalf("benche2e: generated config: %v\n%s", err, b.String())
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// startChild runs `foureyes ARGS` with its output in dir/NAME.log; the
// process dies with the test process and is stopped when tb ends. It
// returns the process id.
func startChild(tb testing.TB, dir, name string, args ...string) int {
	tb.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(foureyesBinary(tb), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if name == "gateway" {
		// BENCH_E2E_GATEWAY_ENV adds VAR=VALUE words to the gateway's
		// environment only (e.g. GOMAXPROCS=4), for A/B runs.
		cmd.Env = append(os.Environ(), strings.Fields(os.Getenv("BENCH_E2E_GATEWAY_ENV"))...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		tb.Fatalf("benche2e: start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	tb.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return cmd.Process.Pid
}

// The foureyes binary is built once per run into a temporary directory.
var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// TestMain removes the built binary after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildPath != "" {
		os.RemoveAll(filepath.Dir(buildPath))
	}
	os.Exit(code)
}

// foureyesBinary builds ./cmd/foureyes on first use.
func foureyesBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("benche2e: the go command is needed to build foureyes: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "foureyes-benche2e-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "foureyes")
		if out, err := exec.Command(goBin, "build", "-o", buildPath, "github.com/foureyes/foureyes/cmd/foureyes").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("benche2e: go build ./cmd/foureyes: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildPath
}

// processCPU returns the CPU time so far of the gateway, the broker,
// ingest and clickhouse-server, in that order.
func (s *stack) processCPU(tb testing.TB) [4]time.Duration {
	out := [4]time.Duration{pidCPU(tb, s.gatewayPID), pidCPU(tb, s.brokerPID), pidCPU(tb, s.ingestPID)}
	for _, pid := range s.clickhousePI {
		out[3] += pidCPU(tb, pid)
	}
	return out
}

// metric reads one unlabelled sample from the gateway's /metrics.
func (s *stack) metric(tb testing.TB, name string) float64 {
	tb.Helper()
	v, err := s.scrape(name)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// scrape is metric returning an error, for goroutines.
func (s *stack) scrape(name string) (float64, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		return 0, fmt.Errorf("benche2e: scrape gateway metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "foureyes_"+name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("benche2e: no metric foureyes_%s", name)
}

// drain waits until the gateway's spool holds nothing unsent and
// ClickHouse holds at least as many events as Kafka acknowledged: every
// event of the runs so far is stored. It returns how long that took.
func (s *stack) drain(tb testing.TB) time.Duration {
	tb.Helper()
	start := time.Now()
	deadline := start.Add(10 * time.Minute)
	for {
		if s.metric(tb, "spool_events") == 0 {
			published := s.metric(tb, "published_events_total")
			if s.eventRows(tb) >= uint64(published) {
				return time.Since(start)
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("benche2e: pipeline not drained after 10 minutes (spool %v events, %v published, %d in ClickHouse):\n%s",
				s.metric(tb, "spool_events"), s.metric(tb, "published_events_total"), s.eventRows(tb), tail(filepath.Join(s.dir, "ingest.log"), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventRows returns the rows of the events table.
func (s *stack) eventRows(tb testing.TB) uint64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n uint64
	if err := s.db.QueryRow(ctx, "SELECT count() FROM foureyes.events").Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// pidsWith returns the processes whose command line contains s.
func pidsWith(s string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// freeAddr returns a loopback address for a child process to listen on
// (see internal/freeport for why not port 0).
func freeAddr(tb testing.TB) string {
	tb.Helper()
	return freeport.MustAddr(tb)
}

// port returns the port of host:port.
func port(tb testing.TB, addr string) int {
	tb.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// dialable reports whether addr accepts a TCP connection.
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
