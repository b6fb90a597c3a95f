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
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain writes docs/benchmarks.md once every benchmark has reported;
// a partial run (-bench Outage) only prints its tables.
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
	fmt.Println("bench: clusterd figures written to docs/benchmarks.md")
	os.Exit(code)
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
	report.setVersion(commandVersion(bin, "--version"))
	return dir
}

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
