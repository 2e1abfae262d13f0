package gateway

import (
	"context"
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/foureyes/foureyes/config"
	"github.com/foureyes/foureyes/internal/benche2e"
	"github.com/foureyes/foureyes/internal/sshtest"
)

// sftpBenchBytes is the file BenchmarkSFTP moves each way: 1 GiB, or
// SFTP_BENCH_MIB MiB.
func sftpBenchBytes() int64 {
	if v, err := strconv.Atoi(os.Getenv("SFTP_BENCH_MIB")); err == nil && v > 0 {
		return int64(v) << 20
	}
	return 1 << 30
}

// BenchmarkSFTP measures SFTP upload and download of one file with the
// real sftp client (aes128-gcm on every leg), directly to an OpenSSH
// sshd, through a bare relay (the ceiling: internal/benche2e.Relay) and
// through the gateway to the same sshd, which parses the
// stream and hashes every byte each way. It reports MB/s and, for the
// gateway, the bytes the recording spooled per GiB transferred (what
// Kafka and ClickHouse then carry, give or take their framing) and this
// process's CPU seconds per GB (the gateway and recorder run here; ssh,
// sftp and sshd do not), which is robust on a loaded machine. The
// collector is set as the gateway process sets it (benchGC).
//
//	go test -run '^$' -bench SFTP -benchtime 1x ./gateway/
func BenchmarkSFTP(b *testing.B) {
	sshtest.RequireSFTP(b)
	f := newFixture(b, fixtureOptions{sshd: true, noPublish: true})
	benchGC(b)
	sshdHost, _ := f.cfg.Host("real")
	size := sftpBenchBytes()
	dir := b.TempDir()
	src := filepath.Join(dir, "src.bin")
	writeBenchFile(b, src, size)
	cipher := []string{"-c", "aes128-gcm@openssh.com"}
	relay := sftpBenchRelay(b, f, sshdHost)
	legs := []struct {
		name string
		c    *sshtest.Client
	}{
		{"direct", &sshtest.Client{Addr: sshdHost.Address, User: sshdHost.Login, Key: f.dir + "/data/upstream_ed25519", Options: cipher}},
		{"relay", &sshtest.Client{Addr: relay.Addr(), User: "any", Key: f.keys["alice"], Options: cipher}},
		{"gateway", &sshtest.Client{Addr: f.addr, User: "alice" + TargetSep + "real", Key: f.keys["alice"], Options: cipher}},
	}
	for _, op := range []string{"upload", "download"} {
		for _, leg := range legs {
			b.Run(op+"/"+leg.name, func(b *testing.B) {
				var total, cpu time.Duration
				spool := spoolSize(b, filepath.Join(f.dir, "spool"))
				for i := 0; i < b.N; i++ {
					batch := "put " + src + " " + filepath.Join(dir, "dst.bin") + "\n"
					if op == "download" {
						batch = "get " + src + " /dev/null\n"
					}
					start, c0 := time.Now(), processCPU(b)
					sftpBatch(b, leg.c, batch)
					total += time.Since(start)
					cpu += processCPU(b) - c0
				}
				b.ReportMetric(float64(size)*float64(b.N)/total.Seconds()/1e6, "MB/s")
				b.ReportMetric(cpu.Seconds()/(float64(size)*float64(b.N)/1e9), "proc-cpu-s/GB")
				if leg.name == "gateway" {
					grown := spoolSize(b, filepath.Join(f.dir, "spool")) - spool
					b.ReportMetric(float64(grown)/(float64(size)*float64(b.N)/(1<<30)), "spool_B/GiB")
				}
			})
		}
	}
}

// sftpBenchRelay starts the bare relay of internal/benche2e in front of
// the fixture's sshd (aes128-gcm on both legs; it records and checks
// nothing): the ceiling of any bastion relaying SFTP on this machine.
func sftpBenchRelay(b *testing.B, f *fixture, h *config.Host) *benche2e.Relay {
	r, err := benche2e.NewRelay(sshtest.NewSigner(b), h.Address, &gossh.ClientConfig{
		User:            h.Login,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(sshtest.Signer(b, f.dir+"/data/upstream_ed25519"))},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), // the fixture's own sshd on loopback; a benchmark
	}, []string{"aes128-gcm@openssh.com"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

// sftpBatch runs one sftp batch and fails b if it fails.
func sftpBatch(b *testing.B, c *sshtest.Client, batch string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := c.SFTPCommand(ctx)
	cmd.Stdin = strings.NewReader(batch)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("sftp %q: %v\n%s", batch, err, out)
	}
}

// writeBenchFile writes size bytes of a repeated random MiB to path.
func writeBenchFile(b *testing.B, path string, size int64) {
	block := make([]byte, 1<<20)
	rand.Read(block)
	fh, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer fh.Close()
	for n := int64(0); n < size; n += int64(len(block)) {
		if _, err := fh.Write(block[:min(int64(len(block)), size-n)]); err != nil {
			b.Fatal(err)
		}
	}
}

// spoolSize returns the bytes of the files under dir.
func spoolSize(b *testing.B, dir string) int64 {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}
