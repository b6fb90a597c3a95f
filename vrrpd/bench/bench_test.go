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
	"fmt"
	"os"
	"path/filepath"
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
	fmt.Println("bench: figures written to docs/benchmarks.md")
	os.Exit(code)
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
	report.setVersions(commandVersion(bin, "--version"), commandVersion(keepalivedPath, "--version"))
	return []implementation{vrrpdImpl(bin, false), keepalivedImpl(false)}
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
	m := machine{Date: time.Now().UTC(), CPUs: numCPU(), Kernel: "unknown", CPUModel: "unknown"}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = string(trimNL(b))
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

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}
