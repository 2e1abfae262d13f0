package benche2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// Parameters of the measurements (issue 11).
const (
	bulkRounds  = 5     // interleaved runs per leg and variant
	echoSamples = 10000 // keystroke round trips per leg: p99.9 is the 10th worst
	echoBlock   = 500   // round trips per leg before the next leg's turn
	cipher      = "aes128-gcm@openssh.com"
)

// bulkBytes is the output of one bulk run: head -c 500000000 /dev/zero.
// BENCH_E2E_BYTES sets another size for a quick try.
var bulkBytes = 500000000

func init() {
	if v, err := strconv.Atoi(os.Getenv("BENCH_E2E_BYTES")); err == nil && v > 0 {
		bulkBytes = v
	}
}

// leg is one way to the sshd: direct, the bare relay, or foureyes.
type leg struct {
	name   string
	client func(tty bool, command string) *sshtest.Client
}

// env is one sitting: sshd, the relay, the foureyes pipeline and the legs.
type env struct {
	sshd  *sshtest.SSHD
	relay *Relay
	stack *stack
	legs  []leg // direct, relay, foureyes
}

// newEnv starts everything. The upstream key (the gateway's, also used by
// the direct client and the relay) is made first so that sshd trusts it.
func newEnv(b *testing.B) *env {
	b.Helper()
	dir := b.TempDir()
	for _, d := range []string{"gateway", "sshd", "stack"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	upKey, upPub := sshtest.Keygen(b, filepath.Join(dir, "gateway"), "upstream_ed25519")
	e := &env{sshd: startSSHD(b, upPub)}
	u, err := user.Current()
	if err != nil {
		b.Fatal(err)
	}
	e.relay, err = NewRelay(sshtest.NewSigner(b), e.sshd.Addr, &gossh.ClientConfig{
		User:            u.Username,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(sshtest.Signer(b, upKey))},
		HostKeyCallback: gossh.FixedHostKey(e.sshd.HostKey),
	}, []string{cipher})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.relay.Close() })
	e.stack = startStack(b, filepath.Join(dir, "stack"), filepath.Join(dir, "gateway"), e.sshd)

	opts := func(tty bool) []string {
		o := []string{"-c", cipher}
		if tty {
			o = append(o, "-tt")
		}
		return o
	}
	e.legs = []leg{
		{"direct", func(tty bool, command string) *sshtest.Client {
			return &sshtest.Client{Addr: e.sshd.Addr, User: u.Username, Key: upKey, Options: opts(tty), Args: []string{command}}
		}},
		{"relay", func(tty bool, command string) *sshtest.Client {
			return &sshtest.Client{Addr: e.relay.Addr(), User: u.Username, Key: upKey, Options: opts(tty), Args: []string{command}}
		}},
		{"foureyes", func(tty bool, command string) *sshtest.Client {
			return &sshtest.Client{Addr: e.stack.addr, User: "alice", Key: e.stack.aliceKey, Options: opts(tty), Args: []string{"real", "--", command}}
		}},
	}
	return e
}

// BenchmarkE2E runs the variant BENCH_E2E names (doc.go). Run it with
// -benchtime 1x: each variant is one complete sitting.
func BenchmarkE2E(b *testing.B) {
	mode := os.Getenv("BENCH_E2E")
	switch mode {
	case "", "flat", "taskset", "transfers":
	default:
		b.Fatalf("BENCH_E2E=%q; use flat, taskset, transfers or nothing", mode)
	}
	for range b.N {
		e := newEnv(b)
		if mode == "taskset" {
			e.pin(b)
		}
		if mode == "" || mode == "transfers" {
			e.shippedPriorities(b)
		}
		e.stack.drain(b)
		if mode == "transfers" {
			e.transfers(b)
		} else {
			e.compare(b, mode)
		}
	}
}

// bulkOnce runs c, reads its output and returns the time from the first
// output byte to the last (steady throughput; on these machines root's
// ~/.bashrc, which bash sources under sshd, takes seconds and would swamp
// the wall time) and the wall time of the whole ssh process.
func bulkOnce(b *testing.B, c *sshtest.Client) (transfer, wall time.Duration) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := c.Command(ctx)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 256<<10)
	n, err := io.ReadAtLeast(out, buf, 1)
	if err != nil {
		cmd.Wait()
		b.Fatalf("benche2e: ssh %v: no output: %v\n%s", c.Args, err, stderr.String())
	}
	first := time.Now()
	total := int64(n)
	for {
		m, err := out.Read(buf)
		total += int64(m)
		if err != nil {
			break
		}
	}
	transfer = time.Since(first)
	err = cmd.Wait()
	wall = time.Since(start)
	if err != nil {
		b.Fatalf("benche2e: ssh %v: %v\n%s", c.Args, err, stderr.String())
	}
	if total != int64(bulkBytes) {
		b.Fatalf("benche2e: ssh %v: %d bytes of output; want %d", c.Args, total, bulkBytes)
	}
	return transfer, wall
}

// compare measures bulk output (exec and tty) and echo on every leg.
func (e *env) compare(b *testing.B, mode string) {
	command := "head -c " + strconv.Itoa(bulkBytes) + " /dev/zero"
	loadBefore := loadavg()
	type key struct {
		variant string
		leg     int
	}
	runs := map[key][]time.Duration{}  // first byte to last
	walls := map[key][]time.Duration{} // whole ssh process
	cpus := map[key][]time.Duration{}  // machine CPU of the run (foureyes: with its drain)
	// The foureyes leg's CPU by process, per variant: gateway, broker,
	// ingest, clickhouse-server.
	parts := map[string][][4]time.Duration{}
	var drains []time.Duration
	for round := range bulkRounds {
		for _, variant := range []string{"exec", "tty"} {
			for i, l := range e.legs {
				// Rotate the order so no leg always follows foureyes' drain.
				i = (i + round) % len(e.legs)
				l = e.legs[i]
				busy, procs := machineBusy(b), e.stack.processCPU(b)
				d, w := bulkOnce(b, l.client(variant == "tty", command))
				runs[key{variant, i}] = append(runs[key{variant, i}], d)
				walls[key{variant, i}] = append(walls[key{variant, i}], w)
				if l.name == "foureyes" {
					drains = append(drains, e.stack.drain(b))
					after := e.stack.processCPU(b)
					var p [4]time.Duration
					for j := range p {
						p[j] = after[j] - procs[j]
					}
					parts[variant] = append(parts[variant], p)
				}
				cpus[key{variant, i}] = append(cpus[key{variant, i}], machineBusy(b)-busy)
			}
		}
	}
	loadAfter := loadavg()
	bulkDone := time.Now()
	echo := e.echo(b)
	fmt.Printf("echo phase took %v\n", time.Since(bulkDone).Round(time.Second))
	loadEnd := loadavg()

	fmt.Printf("\n### BENCH_E2E=%q, %s, nproc %d\n\n", mode, time.Now().UTC().Format("2006-01-02 15:04 MST"), nprocs())
	fmt.Printf("load average before / after bulk / after echo: %s / %s / %s\n\n", loadBefore, loadAfter, loadEnd)
	fmt.Printf("| bulk %d B, first byte to last | direct | bare relay | foureyes | foureyes/relay | foureyes/direct | relay/direct |\n|---|---|---|---|---|---|---|\n", bulkBytes)
	for _, variant := range []string{"exec", "tty"} {
		var med [3]time.Duration
		for i := range e.legs {
			med[i] = median(runs[key{variant, i}])
		}
		mbps := func(d time.Duration) float64 { return float64(bulkBytes) / d.Seconds() / 1e6 }
		fmt.Printf("| %s (median of %d) | %.2f s, %.0f MB/s | %.2f s, %.0f MB/s | %.2f s, %.0f MB/s | %.2f× | %.2f× | %.2f× |\n", variant, bulkRounds,
			med[0].Seconds(), mbps(med[0]), med[1].Seconds(), mbps(med[1]), med[2].Seconds(), mbps(med[2]),
			med[1].Seconds()/med[2].Seconds(), med[0].Seconds()/med[2].Seconds(), med[0].Seconds()/med[1].Seconds())
		for i, l := range e.legs {
			b.ReportMetric(mbps(med[i]), variant+"-"+l.name+"-MB/s")
			fmt.Printf("  %s %s: runs %v; wall times (ssh start to exit) %v, median %v\n", variant, l.name, runs[key{variant, i}], walls[key{variant, i}], median(walls[key{variant, i}]))
		}
		b.ReportMetric(med[1].Seconds()/med[2].Seconds(), variant+"-foureyes/relay")
		b.ReportMetric(med[0].Seconds()/med[2].Seconds(), variant+"-foureyes/direct")
	}
	fmt.Printf("\nfoureyes drain after each run (spool empty and every event in ClickHouse), median: %v\n", median(drains))

	// When the machine's cores are the bottleneck, a leg's throughput is
	// at most cores ÷ its CPU per byte: the ratio of two legs' machine
	// CPU per byte bounds the ratio of their throughputs, whatever the
	// code does with its time.
	fmt.Printf("\n| machine CPU per GB (every process; foureyes with its drain), median of %d | direct | bare relay | foureyes | bound on foureyes/relay (relay CPU ÷ foureyes CPU) |\n|---|---|---|---|---|\n", bulkRounds)
	for _, variant := range []string{"exec", "tty"} {
		var med [3]float64
		for i := range e.legs {
			med[i] = median(cpus[key{variant, i}]).Seconds() / (float64(bulkBytes) / 1e9)
		}
		fmt.Printf("| %s | %.2f s | %.2f s | %.2f s | %.2f× |\n", variant, med[0], med[1], med[2], med[1]/med[2])
		b.ReportMetric(med[1]/med[2], variant+"-cpu-bound-foureyes/relay")
	}
	fmt.Printf("\n| foureyes leg, CPU per GB by process (with the drain), median of %d | gateway | broker | ingest | clickhouse-server |\n|---|---|---|---|---|\n", bulkRounds)
	for _, variant := range []string{"exec", "tty"} {
		var cols [4]string
		for j := range cols {
			var ds []time.Duration
			for _, p := range parts[variant] {
				ds = append(ds, p[j])
			}
			cols[j] = fmt.Sprintf("%.2f s", median(ds).Seconds()/(float64(bulkBytes)/1e9))
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", variant, cols[0], cols[1], cols[2], cols[3])
	}

	fmt.Printf("\n| echo RTT, %d samples | p50 | p99 | p99.9 |\n|---|---|---|---|\n", echoSamples)
	direct := echo[0]
	for i, l := range e.legs {
		fmt.Printf("| %s | %s | %s | %s |\n", l.name, us(percentile(echo[i], 0.50)), us(percentile(echo[i], 0.99)), us(percentile(echo[i], 0.999)))
	}
	for i, l := range e.legs[1:] {
		s := echo[i+1]
		fmt.Printf("| %s added vs direct | %s | %s | %s |\n", l.name,
			us(percentile(s, 0.50)-percentile(direct, 0.50)), us(percentile(s, 0.99)-percentile(direct, 0.99)), us(percentile(s, 0.999)-percentile(direct, 0.999)))
		b.ReportMetric(float64((percentile(s, 0.99) - percentile(direct, 0.99)).Microseconds()), l.name+"-added-p99-µs")
		b.ReportMetric(float64((percentile(s, 0.999) - percentile(direct, 0.999)).Microseconds()), l.name+"-added-p99.9-µs")
	}
	fmt.Printf("\nthrottles %v (%.1f s), recording failures %v\n",
		e.stack.metric(b, "throttles_total"), e.stack.metric(b, "throttled_seconds_total"), e.stack.metric(b, "recording_failures_total"))
}

// echo measures keystroke round trips on each leg: a pty session whose
// remote `cat` runs in raw mode without echo, one byte written to the
// client's pty and the time until it comes back. The legs take turns in
// blocks of echoBlock.
func (e *env) echo(b *testing.B) [3][]time.Duration {
	const command = "stty raw -echo; echo START; exec cat"
	var clients [3]*sshtest.Client
	for i, l := range e.legs {
		c := l.client(false, command)
		c.Options = append(c.Options, "-t") // a pty, from the client's own pty
		c.Start(b)
		c.Expect("START", time.Minute)
		clients[i] = c
	}
	var out [3][]time.Duration
	keys := "abcdefghijklmnopqrstuvwxyz"
	for n := 0; n < echoSamples; n += echoBlock {
		for i, c := range clients {
			for j := range echoBlock {
				k := keys[(n+j)%len(keys) : (n+j)%len(keys)+1]
				start := time.Now()
				c.Send(k)
				c.Expect(k, time.Minute)
				out[i] = append(out[i], time.Since(start))
			}
		}
	}
	for _, c := range clients {
		c.Close() // cat is in raw mode: ^D would be data
	}
	e.stack.drain(b)
	return out
}

// pin puts ingest, the broker and ClickHouse on CPU 1 and the gateway,
// sshd and this process (the relay, and the ssh clients it starts) on
// CPU 0, as a bastion whose pipeline runs elsewhere.
func (e *env) pin(b *testing.B) {
	b.Helper()
	if nprocs() < 2 {
		b.Fatal("benche2e: BENCH_E2E=taskset needs 2 CPUs")
	}
	one := append([]int{e.stack.brokerPID, e.stack.ingestPID}, e.stack.clickhousePI...)
	zero := []int{e.stack.gatewayPID, e.sshd.PID, os.Getpid()}
	if len(e.stack.clickhousePI) == 0 {
		b.Fatal("benche2e: clickhouse-server's process not found")
	}
	for cpu, pids := range [][]int{zero, one} {
		for _, pid := range pids {
			out, err := exec.Command("taskset", "-a", "-p", "-c", strconv.Itoa(cpu), strconv.Itoa(pid)).CombinedOutput()
			if err != nil {
				b.Fatalf("benche2e: taskset %d: %v\n%s", pid, err, out)
			}
		}
	}
	fmt.Printf("pinned to CPU 0: gateway %d, sshd %d, this process %d; to CPU 1: broker, ingest, clickhouse-server %v\n", zero[0], zero[1], zero[2], one)
}

// machineBusy returns the CPU time all cores spent busy since boot (the
// first line of /proc/stat: user, nice, system, irq, softirq and steal;
// not idle or iowait), in USER_HZ ticks of 10 ms.
func machineBusy(b *testing.B) time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		b.Fatalf("benche2e: /proc/stat begins %q", line)
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			b.Fatalf("benche2e: /proc/stat field %d: %v", i, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// loadavg returns the 1-, 5- and 15-minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return err.Error()
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return string(b)
	}
	return strings.Join(f[:3], " ")
}

// nprocs returns the CPUs this process may run on.
func nprocs() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// us formats d in microseconds.
func us(d time.Duration) string { return fmt.Sprintf("%d µs", d.Microseconds()) }

// The shipped systemd units (deploy/) whose Nice= the benchmark applies
// to the processes they run, so that it measures the priorities an
// operator installs; CPUWeight= does the same under cgroup v2, where
// every unit has its own group, and needs systemd to apply.
const (
	ingestUnit     = "../../deploy/foureyes-ingest.service"
	clickhouseUnit = "../../deploy/clickhouse-server.service.d/foureyes.conf"
)

// shippedPriorities gives ingest and clickhouse-server the Nice= of their
// units. The broker stays as it is: it stands for the Kafka cluster,
// whose acknowledgements empty the gateway's spool.
func (e *env) shippedPriorities(b *testing.B) {
	b.Helper()
	if len(e.stack.clickhousePI) == 0 {
		b.Fatal("benche2e: clickhouse-server's process not found")
	}
	in, ch := unitNice(b, ingestUnit), unitNice(b, clickhouseUnit)
	renice(b, e.stack.ingestPID, in)
	for _, pid := range e.stack.clickhousePI {
		renice(b, pid, ch)
	}
	fmt.Printf("shipped priorities: ingest %d nice %d, clickhouse-server %v nice %d\n", e.stack.ingestPID, in, e.stack.clickhousePI, ch)
}

// unitNice returns the value of the Nice= line of a systemd unit file.
func unitNice(b *testing.B, path string) int {
	b.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Nice="); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				b.Fatalf("benche2e: %s: %q: %v", path, line, err)
			}
			return n
		}
	}
	b.Fatalf("benche2e: %s has no Nice= line", path)
	return 0
}

// renice sets the nice value of every thread of process pid: on Linux a
// nice value belongs to a thread, and setpriority(PRIO_PROCESS, pid)
// changes only the thread whose id is pid. Threads made later inherit it
// from the thread that makes them.
func renice(b *testing.B, pid, n int) {
	b.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, n); err != nil && err != syscall.ESRCH {
			b.Fatalf("benche2e: nice %d for thread %d of %d: %v", n, tid, pid, err)
		}
	}
}
