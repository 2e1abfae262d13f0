package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foureyes/foureyes/internal/chserver"
	"github.com/foureyes/foureyes/internal/freeport"
	"github.com/foureyes/foureyes/internal/sshtarget"
	"github.com/foureyes/foureyes/internal/sshtest"
	"github.com/segmentio/kafka-go"
	gossh "golang.org/x/crypto/ssh"
)

// stackOptions vary a scenario's stack. Zero fields take the defaults
// written next to them.
type stackOptions struct {
	gateways      int           // gateway processes; default 1
	ingests       int           // ingest processes; default 1
	chunkBytes    int           // gateway.chunk_bytes; default 1024 (many events per session)
	spoolMaxBytes int64         // gateway.spool_max_bytes; default: the config default
	bestEffort    bool          // recording_policies: best_effort for the host; default strict
	batchRows     int           // ingest.batch_rows; default 100000
	partitions    int           // kafka.partitions; default 6
	database      string        // clickhouse.database; default foureyes
	outage        time.Duration // fault duration; default CHAOS_OUTAGE or defaultOutage
	slowConverge  time.Duration // added to the convergence deadline
}

// convergeTimeout returns the deadline for the pipeline to settle.
func (o stackOptions) convergeTimeout() time.Duration {
	return convergeTimeout + o.outage + o.slowConverge
}

func (o stackOptions) withDefaults() stackOptions {
	if o.gateways == 0 {
		o.gateways = 1
	}
	if o.ingests == 0 {
		o.ingests = 1
	}
	if o.chunkBytes == 0 {
		o.chunkBytes = 1024
	}
	if o.batchRows == 0 {
		o.batchRows = 100000
	}
	if o.partitions == 0 {
		o.partitions = 6
	}
	if o.database == "" {
		o.database = "foureyes"
	}
	return o
}

// stack is one scenario's pipeline: ClickHouse, a broker process, gateway
// and ingest processes, the upstream host and the test's database view.
// Its methods are called from the test goroutine.
type stack struct {
	t    testing.TB
	opt  stackOptions
	dir  string
	home string // the upstream host's working directory (stop files)

	aliceKey string // the admin's private key
	target   *sshtarget.Target

	chDir         string
	chTCP, chHTTP int
	ch            *chserver.Server // nil while stopped

	brokerAddr, brokerDir, brokerLog string
	broker                           *child // nil while stopped

	gateways []*gatewayProc
	ingests  []*ingestProc
	db       *database

	gatewayStarts int              // every start opens one "gateway" stream
	sessions      []*sessionResult // every scripted session, in start order
	tags          int
	logs          []string // printed on failure
}

// gatewayProc is one gateway: its configuration and its current process.
type gatewayProc struct {
	id, addr, metrics, dataDir, config, log string
	proc                                    *child // nil while stopped
}

// ingestProc is one ingest: its configuration and its current process.
type ingestProc struct {
	name, config, log string
	proc              *child // nil while stopped
}

// newStack starts ClickHouse, the broker, the gateways (which create the
// topic) and the ingests, and runs a warm-up session through every gateway
// until it is queryable, so that a fault hits a pipeline known to work.
func newStack(t testing.TB, opt stackOptions) *stack {
	t.Helper()
	sshtest.RequireSSH(t)
	opt = opt.withDefaults()
	if opt.outage == 0 {
		opt.outage = outage(t, defaultOutage)
	}
	s := &stack{t: t, opt: opt, dir: t.TempDir()}
	t.Cleanup(s.printLogsOnFailure) // registered first: runs after every process is gone
	s.home = s.mkdir("home")
	keys := s.mkdir("keys")
	var alice gossh.PublicKey
	s.aliceKey, alice = sshtest.Keygen(t, keys, "alice")

	// Gateways' upstream client keys exist before the host that trusts them.
	var clientKeys []gossh.PublicKey
	for i := range opt.gateways {
		g := &gatewayProc{id: fmt.Sprintf("gw-%c", 'a'+i)}
		g.dataDir = s.mkdir(g.id)
		_, pub := sshtest.Keygen(t, g.dataDir, "upstream_ed25519")
		clientKeys = append(clientKeys, pub)
		g.addr, g.metrics = freeAddr(t), freeAddr(t)
		g.config = filepath.Join(s.dir, g.id+".yaml")
		g.log = s.logPath(g.id + ".log")
		s.gateways = append(s.gateways, g)
	}
	s.startTarget(clientKeys)

	s.chDir = filepath.Join(s.dir, "clickhouse")
	s.startClickHouse()
	t.Cleanup(func() {
		if s.ch != nil {
			s.ch.Stop()
		}
	})
	s.logs = append(s.logs, filepath.Join(s.chDir, "log", "clickhouse-server.err.log"))
	s.db = &database{addr: s.ch.Addr, name: opt.database}
	t.Cleanup(s.db.close)

	s.brokerAddr, s.brokerDir, s.brokerLog = freeAddr(t), s.mkdir("kafka"), s.logPath("broker.log")
	s.startBroker()

	vals := configValues{
		ChunkBytes: opt.chunkBytes, SpoolMaxBytes: opt.spoolMaxBytes, BestEffort: opt.bestEffort,
		Broker: s.brokerAddr, Partitions: opt.partitions,
		ClickHouse: s.ch.Addr, Database: opt.database,
		Group: group, BatchRows: opt.batchRows,
		AliceKey:  strings.TrimSpace(string(gossh.MarshalAuthorizedKey(alice))),
		Target:    s.target.Addr(),
		TargetKey: strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.target.HostKey()))),
	}
	for _, g := range s.gateways {
		v := vals
		v.GatewayID, v.Listen, v.DataDir, v.Metrics = g.id, g.addr, g.dataDir, g.metrics
		writeConfig(t, g.config, v)
		s.startGateway(g)
	}
	waitTopic(t, s.brokerAddr, opt.partitions)

	ingestCfg := filepath.Join(s.dir, "ingest.yaml")
	v := vals
	v.GatewayID, v.Listen, v.DataDir = "unused", "127.0.0.1:1", s.dir
	writeConfig(t, ingestCfg, v)
	for i := range opt.ingests {
		in := &ingestProc{name: fmt.Sprintf("ingest-%d", i+1), config: ingestCfg}
		in.log = s.logPath(in.name + ".log")
		s.ingests = append(s.ingests, in)
		s.startIngest(in)
	}

	var warm []*sessionResult
	for _, g := range s.gateways {
		warm = append(warm, s.runBulk(g, 100))
	}
	s.waitRecorded(warm...)
	return s
}

// sessionTimeout bounds any one scripted session: a hang guard.
func (s *stack) sessionTimeout() time.Duration { return 5*time.Minute + 2*s.opt.outage }

// mkdir creates a directory under the stack's directory.
func (s *stack) mkdir(name string) string {
	p := filepath.Join(s.dir, name)
	if err := os.MkdirAll(p, 0o700); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// logPath names a log file and remembers it for printLogsOnFailure.
func (s *stack) logPath(name string) string {
	p := filepath.Join(s.dir, name)
	s.logs = append(s.logs, p)
	return p
}

// printLogsOnFailure prints the tail of every log of a failed test.
func (s *stack) printLogsOnFailure() {
	if !s.t.Failed() {
		return
	}
	for _, p := range s.logs {
		s.t.Logf("--- %s (last 40 lines) ---\n%s", p, tail(p, 40))
	}
}

// startTarget starts the upstream host "demo", trusting the gateways' keys.
func (s *stack) startTarget(keys []gossh.PublicKey) {
	f, err := os.Create(s.logPath("target.log"))
	if err != nil {
		s.t.Fatal(err)
	}
	s.target, err = sshtarget.Start(sshtarget.Options{
		Name:           "demo",
		AuthorizedKeys: keys,
		Dir:            s.home,
		Logger:         slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		f.Close()
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		s.target.Close()
		f.Close()
	})
}

// startClickHouse starts clickhouse-server on the stack's directory and,
// after the first start, on the same ports.
func (s *stack) startClickHouse() {
	s.t.Helper()
	s.ch = startClickHouse(s.t, s.chDir, s.chTCP, s.chHTTP)
	s.chTCP, s.chHTTP = port(s.t, s.ch.Addr), port(s.t, s.ch.HTTPAddr)
}

// startClickHouse starts clickhouse-server in dir on the given ports (0:
// free ones). Without the server the test is skipped, except under
// CI=true, where it fails.
func startClickHouse(tb testing.TB, dir string, tcp, http int) *chserver.Server {
	tb.Helper()
	srv, err := chserver.Start(context.Background(), dir, chserver.Options{TCPPort: tcp, HTTPPort: http})
	if errors.Is(err, chserver.ErrNotInstalled) && os.Getenv("CI") != "true" {
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

// stopClickHouse stops clickhouse-server (SIGTERM, then SIGKILL after 10s).
func (s *stack) stopClickHouse() {
	s.ch.Stop()
	s.ch = nil
}

// startBroker starts the broker process on the stack's port and data
// directory and waits until it accepts connections.
func (s *stack) startBroker() {
	s.t.Helper()
	s.broker = startChild(s.t, "broker", s.brokerLog, "broker", "--data", s.brokerDir, "--addr", s.brokerAddr)
	waitListening(s.t, s.broker, s.brokerAddr)
}

// stopBroker stops the broker with SIGTERM (it persists its state).
func (s *stack) stopBroker() {
	s.t.Helper()
	s.broker.stop(s.t)
	s.broker = nil
}

// startGateway starts g's process and waits until it accepts SSH
// connections.
func (s *stack) startGateway(g *gatewayProc) {
	s.t.Helper()
	g.proc = startChild(s.t, g.id, g.log, "gateway", "--config", g.config, "--log-level", "info")
	s.gatewayStarts++
	waitListening(s.t, g.proc, g.addr)
}

// stopGateways stops every running gateway with SIGTERM: sessions end, the
// gateway streams end, and the spool is drained to Kafka.
func (s *stack) stopGateways() {
	s.t.Helper()
	for _, g := range s.gateways {
		if g.proc != nil {
			g.proc.stop(s.t)
			g.proc = nil
		}
	}
}

// startIngest starts in's process.
func (s *stack) startIngest(in *ingestProc) {
	s.t.Helper()
	in.proc = startChild(s.t, in.name, in.log, "ingest", "--config", in.config, "--log-level", "info")
}

// gatewaySpoolEvents returns the number of events g's spool holds that
// Kafka has not acknowledged, from its metrics endpoint.
func gatewaySpoolEvents(g *gatewayProc) (float64, error) {
	return scrapeMetric(g.metrics, "foureyes_spool_events")
}

// scrapeMetric reads one unlabelled sample from a /metrics endpoint.
func scrapeMetric(addr, name string) (float64, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, fmt.Errorf("chaos: scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("chaos: scrape %s: %w", addr, err)
	}
	return 0, fmt.Errorf("chaos: scrape %s: no sample %s", addr, name)
}

// waitListening waits until addr accepts TCP connections, failing early
// with the log tail when c exits.
func waitListening(tb testing.TB, c *child, addr string) {
	tb.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			if !c.exited() { // else another process answered on c's port
				return
			}
		}
		if c.exited() {
			tb.Fatalf("chaos: %s exited before listening on %s (%v):\n%s", c.name, addr, c.err, tail(c.logPath, 40))
		}
		if time.Now().After(deadline) {
			tb.Fatalf("chaos: %s not listening on %s within %v:\n%s", c.name, addr, readyTimeout, tail(c.logPath, 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitTopic waits until the gateway created the topic with its partitions.
func waitTopic(tb testing.TB, broker string, partitions int) {
	tb.Helper()
	client := &kafka.Client{Addr: kafka.TCP(broker), Timeout: 5 * time.Second}
	waitFor(tb, "topic "+topic+" created", readyTimeout, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		switch {
		case err != nil:
			return false, err.Error()
		case len(md.Topics) != 1:
			return false, fmt.Sprintf("%d topics", len(md.Topics))
		case md.Topics[0].Error != nil:
			return false, md.Topics[0].Error.Error()
		}
		return len(md.Topics[0].Partitions) == partitions, fmt.Sprintf("%d partitions", len(md.Topics[0].Partitions))
	})
}

// groupAssignments returns, per member of the ingest group, the number of
// partitions of the topic assigned to it.
func groupAssignments(broker, group string) ([]int, error) {
	client := &kafka.Client{Addr: kafka.TCP(broker), Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		return nil, err
	}
	if len(resp.Groups) != 1 {
		return nil, fmt.Errorf("chaos: %d groups described", len(resp.Groups))
	}
	if err := resp.Groups[0].Error; err != nil {
		return nil, err
	}
	var out []int
	for _, m := range resp.Groups[0].Members {
		n := 0
		for _, tp := range m.MemberAssignments.Topics {
			if tp.Topic == topic {
				n += len(tp.Partitions)
			}
		}
		out = append(out, n)
	}
	return out, nil
}

// groupLag returns how many messages of the topic the consumer group has
// not committed yet, summed over the partitions. Ingest commits only what
// ClickHouse acknowledged, so 0 means everything in Kafka is stored.
func groupLag(broker, group string) (int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(broker), Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, err
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return 0, fmt.Errorf("chaos: topic %s: %d topics (%v)", topic, len(md.Topics), md.Topics)
	}
	var reqs []kafka.OffsetRequest
	var parts []int
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
		parts = append(parts, p.ID)
	}
	ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return 0, err
	}
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return 0, err
	}
	if committed.Error != nil {
		return 0, committed.Error
	}
	done := map[int]int64{}
	for _, p := range committed.Topics[topic] {
		if p.Error != nil {
			return 0, fmt.Errorf("chaos: committed offset of partition %d: %w", p.Partition, p.Error)
		}
		done[p.Partition] = p.CommittedOffset
	}
	if n := len(ends.Topics[topic]); n != len(parts) {
		return 0, fmt.Errorf("chaos: end offsets of %d of %d partitions", n, len(parts))
	}
	var lag int64
	for _, p := range ends.Topics[topic] {
		if p.Error != nil {
			return 0, fmt.Errorf("chaos: end offset of partition %d: %w", p.Partition, p.Error)
		}
		// A partition the group never committed reports -1: all of it is lag.
		lag += p.LastOffset - max(done[p.Partition], 0)
	}
	return lag, nil
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

// count returns the distinct events stored, failing the test on error.
func (s *stack) count() uint64 {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	n, err := s.db.count(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}
