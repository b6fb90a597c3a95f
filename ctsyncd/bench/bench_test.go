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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain writes docs/benchmarks.md once every benchmark has reported;
// a partial run (-bench Commit) only prints its tables.
func TestMain(m *testing.M) {
	loadBefore := loadAverage()
	code := m.Run()
	if report.empty() {
		os.Exit(code)
	}
	machine := describeMachine()
	machine.LoadBefore, machine.LoadAfter = loadBefore, loadAverage()
	text := report.render(machine)
	fmt.Print("\n" + text)
	if !report.complete() {
		fmt.Println("bench: partial run, docs/benchmarks.md left as it was")
		os.Exit(code)
	}
	if err := updateDoc(text); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Println("bench: ctsyncd figures written to docs/benchmarks.md")
	os.Exit(code)
}

// trials is how many times each case runs.
func trials(b *testing.B) int { return envInt(b, "HASUITE_BENCH_TRIALS", 3) }

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

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

// commandVersion is the first line a command prints for its version.
func commandVersion(path string, args ...string) string {
	out, _ := exec.Command(path, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return filepath.Base(path) + " (version unknown)"
	}
	return line
}

type machine struct {
	Date time.Time
	// LoadBefore and LoadAfter are /proc/loadavg's 1-minute figure when
	// the run started and ended: other work on the machine shows there.
	LoadBefore, LoadAfter string
	CPUs                  int
	CPUModel              string
	Kernel                string
}

// describeMachine is the line saying where the figures come from.
func describeMachine() machine {
	m := machine{Date: time.Now().UTC(), CPUs: runtime.NumCPU(), Kernel: "unknown", CPUModel: "unknown"}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = cpuModel(string(b))
	}
	return m
}

// loadAverage is the 1-minute load average.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

func cpuModel(cpuinfo string) string {
	for line := range strings.Lines(cpuinfo) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
