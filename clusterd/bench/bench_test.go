//go:build e2e

// Package bench is `make bench` for clusterd (issue 4, Benchmarks): two
// real clusterd nodes in a netlab with the guide's stateful-failover
// timers (keepalive 500 ms, dead 2000 ms), it measures the outage a client
// pinging the cluster IP every 5 ms sees when the primary is killed or
// stopped, where that time goes (from R2's capture), and the memory and
// idle CPU of the ACTIVE and the STANDBY node; it writes the figures
// between clusterd's markers in docs/benchmarks.md.
//
// Benchmarks, not tests: nothing here asserts a timing; the aim is printed
// next to the figures. Each Benchmark runs its cases once (b.N is ignored;
// a case lasts seconds). Knobs: HASUITE_BENCH_TRIALS (outage trials per
// failure, default 5), HASUITE_BENCH_IDLE (CPU window, default 30s).
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

// envBin is $HASUITE_BIN, holding a clusterd binary; it also records the
// binary's version for the report.
func envBin(b *testing.B) string {
	b.Helper()
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		b.Fatal("HASUITE_BIN is not set: run `make bench`, or `go build -o bin/ ./clusterd` and set HASUITE_BIN=$PWD/bin")
	}
	bin := filepath.Join(dir, "clusterd")
	if _, err := os.Stat(bin); err != nil {
		b.Fatalf("no clusterd binary: %v (run `make build`)", err)
	}
	report.setVersion(benchdoc.CommandVersion(bin, "--version"))
	return dir
}
