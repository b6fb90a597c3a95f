//go:build e2e

// Package bench is `make bench` for ctsyncd (issue 5, Benchmarks): two
// routers in a netlab, each with its own conntrack table, joined by a
// dedicated sync link, run either conntrackd (Debian's conntrack-tools, the
// reference) or ctsyncd (followed by vrrpd for its takeover), in the same run
// and the same kind of namespaces. A generator inserts entries into R1's
// table with batched ctnetlink requests (ctsyncd/internal/ctnl's committer,
// as fast as the kernel takes them) and the benchmarks measure:
//
//   - replication: the time until R2's external cache holds N entries
//     (10k, 100k), beside the time the kernel took to accept them;
//   - commit: the time R2 takes to write 100k entries from its external
//     cache into its kernel on takeover, beside the kernel's own batched
//     insert rate on an empty namespace (the limit);
//   - footprint: RSS holding 100k entries, CPU at 5k new connections per
//     second for 10 s (each entry deleted a second after its creation);
//   - a 100k burst with default settings: the time until R2 is complete,
//     bounded at 60 s (conntrackd's default event buffer overruns).
//
// Benchmarks, not tests: nothing here asserts a timing; the aims of the
// issue are printed next to the figures, with the reference figures of
// FIELD-NOTES. Each Benchmark runs its trials once (b.N is ignored). While
// ctsyncd is not built, its half of every benchmark skips and the report
// says so. Knobs: HASUITE_BENCH_TRIALS (trials per case, default 3),
// HASUITE_BENCH_BURST_TRIALS (default 1: a conntrackd burst lasts ~30 s),
// HASUITE_BENCH_CTSYNCD_ENV (VAR=VALUE words given to ctsyncd alone, e.g.
// "GOMEMLIMIT=24MiB GODEBUG=gctrace=1"; the report names them).
package bench

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hasuite/hasuite/pkg/benchdoc"
)

// TestMain writes docs/benchmarks.md once every benchmark has reported;
// a partial run (-bench Commit) only prints its tables.
func TestMain(m *testing.M) {
	os.Exit(benchdoc.Main(m, docSection, benchdoc.Report{Empty: report.empty, Complete: report.complete, Render: report.render}))
}

// trials is how many times each case runs.
func trials(b *testing.B) int { return benchdoc.EnvInt(b, "HASUITE_BENCH_TRIALS", 3) }

// hasuiteBinary is $HASUITE_BIN/name, or "" when it is not there.
func hasuiteBinary(name string) string {
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		return ""
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}
