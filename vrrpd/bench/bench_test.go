//go:build e2e

// Package bench is `make bench` for vrrpd (issue 3, Benchmarks): in one
// run and the same netlab topology (two routers and a LAN host on a
// bridge) it measures vrrpd against keepalived — the failover outage a LAN
// host pinging the VIP every 5 ms sees, idle memory and CPU, and stability
// at 10 ms adverts on a loaded machine — and writes the figures between the
// markers of docs/benchmarks.md.
//
// Benchmarks, not tests: nothing here asserts a timing; the aims are
// printed next to the figures. Each Benchmark runs its cases once (b.N is
// ignored; a case lasts seconds). Knobs: HASUITE_BENCH_TRIALS (outage
// trials per case, default 5), HASUITE_BENCH_STABILITY (minutes, default 1),
// HASUITE_BENCH_IDLE (CPU window, default 60s), HASUITE_BENCH_VMAC=1 (the
// outage cases again in RFC 3768 mode).
package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hasuite/hasuite/pkg/benchdoc"
)

// TestMain writes docs/benchmarks.md once every benchmark has reported;
// a partial run (-bench Outage) only prints its tables.
func TestMain(m *testing.M) {
	os.Exit(benchdoc.Main(m, docSection, benchdoc.Report{Empty: report.empty, Complete: report.complete, Render: report.render}))
}

// implementations are vrrpd from $HASUITE_BIN and Debian's keepalived;
// keepalived missing is an error, since the figures mean nothing alone.
func implementations(b *testing.B) []implementation {
	b.Helper()
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		b.Fatal("HASUITE_BIN is not set: run `make bench`, or `go build -o bin/ ./vrrpd` and set HASUITE_BIN=$PWD/bin")
	}
	bin := filepath.Join(dir, "vrrpd")
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("no vrrpd binary: %v (run `make build`)", err)
	}
	if _, err := os.Stat(keepalivedPath); err != nil {
		b.Fatalf("keepalived is the reference and is not installed: %v (run `make deps` or apt-get install keepalived)", err)
	}
	report.setVersions(benchdoc.CommandVersion(bin, "--version"), benchdoc.CommandVersion(keepalivedPath, "--version"))
	return []implementation{vrrpdImpl(bin, false), keepalivedImpl(false)}
}
