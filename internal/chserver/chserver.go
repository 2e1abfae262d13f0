// Package chserver starts a private clickhouse-server child process with a
// generated configuration under a directory of its own. `foureyes dev` and
// the integration tests use it; production points at an existing server.
package chserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/foureyes/foureyes/internal/freeport"
)

// Binary is the server executable looked up in PATH and in /usr/bin.
const Binary = "clickhouse-server"

// ErrNotInstalled is returned by Start when clickhouse-server is missing.
var ErrNotInstalled = errors.New("chserver: clickhouse-server is not installed; install it with: sudo apt-get install -y clickhouse-server clickhouse-client")

// Server is a running clickhouse-server child process.
type Server struct {
	// Addr is the native-protocol address (127.0.0.1:PORT).
	Addr string
	// HTTPAddr is the HTTP address, used only for readiness checks.
	HTTPAddr string
	// SecureAddr is the TLS native-protocol address when Options.TLS is
	// set, else empty.
	SecureAddr string
	// Dir holds the config, data and logs.
	Dir string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Options tune Start. The zero value picks free ports.
type Options struct {
	// TCPPort and HTTPPort; 0 picks a free port.
	TCPPort, HTTPPort int
	// StartTimeout bounds waiting for the server to answer. Default: 60s.
	StartTimeout time.Duration
	// TLS, when set, opens the secure native port (tcp_port_secure) with
	// this certificate and key; SecurePort 0 picks a free port.
	TLS        *TLS
	SecurePort int
	// Users are added to users.xml beside the "default" user, an
	// administrator reachable from loopback only.
	Users []User
	// AdminPassword is the "default" user's password. Default: none
	// (tests); `foureyes dev` sets one, so that other local users cannot
	// rewrite the recordings.
	AdminPassword string
}

// TLS is the server's certificate and key, PEM files.
type TLS struct {
	CertFile, KeyFile string
}

// Start writes a config under dir, kills a server left running by an earlier
// process with the same dir (pid file), starts clickhouse-server and waits
// until it answers.
func Start(ctx context.Context, dir string, opt Options) (*Server, error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		if _, serr := os.Stat("/usr/bin/" + Binary); serr != nil {
			return nil, ErrNotInstalled
		}
		bin = "/usr/bin/" + Binary
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("chserver: %w", err)
	}
	for _, d := range []string{"data", "tmp", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			return nil, fmt.Errorf("chserver: %w", err)
		}
	}
	killStale(filepath.Join(dir, "clickhouse.pid"))
	if opt.StartTimeout == 0 {
		opt.StartTimeout = 60 * time.Second
	}
	// Ports left 0 are picked free here; another process may take one
	// between the pick and the server's bind (the server then exits at
	// start), so a start with picked ports is tried again on new ones.
	picked := opt.TCPPort == 0 || opt.HTTPPort == 0 || opt.TLS != nil && opt.SecurePort == 0
	for attempt := 1; ; attempt++ {
		s, err := start(ctx, bin, dir, opt) // opt by value: each try picks its own ports
		if err == nil || !picked || attempt == startAttempts || !errors.Is(err, errExited) {
			return s, err
		}
	}
}

// startAttempts is how many times Start tries ports it picked.
const startAttempts = 3

// errExited: the server exited before it answered.
var errExited = errors.New("clickhouse-server exited during start")

// start starts the server in dir once, picking the ports opt leaves 0.
func start(ctx context.Context, bin, dir string, opt Options) (*Server, error) {
	var err error
	if opt.TCPPort == 0 {
		if opt.TCPPort, err = pickPort(); err != nil {
			return nil, err
		}
	}
	if opt.HTTPPort == 0 {
		if opt.HTTPPort, err = pickPort(); err != nil {
			return nil, err
		}
	}
	if opt.TLS != nil && opt.SecurePort == 0 {
		if opt.SecurePort, err = pickPort(); err != nil {
			return nil, err
		}
	}
	cfgPath := filepath.Join(dir, "config.xml")
	users, err := UsersXML(opt.AdminPassword, opt.Users)
	if err != nil {
		return nil, err
	}
	// users.xml holds password hashes: owner only.
	if err := writePrivate(filepath.Join(dir, "users.xml"), users); err != nil {
		return nil, err
	}
	if err := os.WriteFile(cfgPath, []byte(configXML(dir, opt)), 0o640); err != nil {
		return nil, fmt.Errorf("chserver: %w", err)
	}
	s := &Server{
		Addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(opt.TCPPort)),
		HTTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(opt.HTTPPort)),
		Dir:      dir,
		done:     make(chan struct{}),
	}
	logf, err := os.OpenFile(filepath.Join(dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("chserver: %w", err)
	}
	s.cmd = exec.Command(bin, "--config-file="+cfgPath, "--pid-file="+filepath.Join(dir, "clickhouse.pid"))
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// The server dies with us even on SIGKILL of the parent (Linux).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("chserver: start %s: %w", bin, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	if opt.TLS != nil {
		s.SecureAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(opt.SecurePort))
	}
	if err := s.waitReady(ctx, opt.StartTimeout); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls the HTTP /ping endpoint and the native port.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("chserver: %w (%v); see %s", errExited, s.err, filepath.Join(s.Dir, "log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
			c.Close()
			if ping(s.HTTPAddr) && s.answers(s.SecureAddr) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chserver: clickhouse-server did not answer within %v; see %s", timeout, filepath.Join(s.Dir, "log"))
		}
	}
}

// answers reports whether addr is empty or accepts connections.
func (s *Server) answers(addr string) bool {
	if addr == "" {
		return true
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("GET /ping HTTP/1.0\r\n\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 512)
	n, _ := c.Read(buf)
	return strings.Contains(string(buf[:n]), "200 OK")
}

// Stop terminates the server (SIGTERM, then SIGKILL after 10s) and waits.
func (s *Server) Stop() error {
	if s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	return nil
}

// Kill ends the server at once with SIGKILL (fault injection).
func (s *Server) Kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// Done is closed when the server process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

func killStale(pidFile string) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	// Only kill it if it is really a clickhouse server.
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !strings.Contains(string(cmdline), "clickhouse") {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 50; i++ {
		if syscall.Kill(pid, 0) != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	os.Remove(pidFile)
}

// pickPort picks a port for Start: freePort, replaced by tests.
var pickPort = freePort

// freePort returns a TCP port on loopback for the server to listen on
// (see internal/freeport for why not port 0).
func freePort() (int, error) {
	port, err := freeport.Port()
	if err != nil {
		return 0, fmt.Errorf("chserver: %w", err)
	}
	return port, nil
}

func configXML(dir string, opt Options) string {
	var secure string
	if opt.TLS != nil {
		// ClickHouse 18.16 reads the same openSSL section as current
		// releases; it serves TLS only on tcp_port_secure (no https_port).
		secure = fmt.Sprintf(`
    <tcp_port_secure>%d</tcp_port_secure>
    <openSSL>
        <server>
            <certificateFile>%s</certificateFile>
            <privateKeyFile>%s</privateKeyFile>
            <verificationMode>none</verificationMode>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <cacheSessions>true</cacheSessions>
            <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
        </server>
    </openSSL>`, opt.SecurePort, xmlEscape(opt.TLS.CertFile), xmlEscape(opt.TLS.KeyFile))
	}
	return fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>%[1]s/log/clickhouse-server.log</log>
        <errorlog>%[1]s/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>2</count>
    </logger>
    <http_port>%[3]d</http_port>
    <tcp_port>%[2]d</tcp_port>%[4]s
    <listen_host>127.0.0.1</listen_host>
    <path>%[1]s/data/</path>
    <tmp_path>%[1]s/tmp/</tmp_path>
    <users_config>%[1]s/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
`, dir, opt.TCPPort, opt.HTTPPort, secure)
}
