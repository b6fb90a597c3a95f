package benchdoc

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"
)

// Report is what Main needs of a bench's results; the fields are the
// bench's own methods, so its results type stays its own.
type Report struct {
	Empty    func() bool // nothing was measured (-run without -bench)
	Complete func() bool // every benchmark reported: the section may replace the old one
	Render   func(Machine) string
}

// Main is a bench's TestMain, returning the exit code: it runs the
// benchmarks, prints daemon's section and, if the run was complete, writes
// it into docs/benchmarks.md; a partial run (-bench Outage) only prints its
// tables.
func Main(m *testing.M, daemon string, r Report) int {
	return run(m.Run, daemon, r, host{
		stdout: os.Stdout, stderr: os.Stderr,
		describe: DescribeMachine, load: LoadAverage, update: Update,
	})
}

// host is what run reads and writes outside the bench, for the tests.
type host struct {
	stdout, stderr io.Writer
	describe       func() Machine
	load           func() string
	update         func(daemon, section string) error
}

func run(runBenchmarks func() int, daemon string, r Report, h host) int {
	loadBefore := h.load()
	code := runBenchmarks()
	if r.Empty() {
		return code
	}
	machine := h.describe()
	machine.LoadBefore, machine.LoadAfter = loadBefore, h.load()
	text := r.Render(machine)
	fmt.Fprint(h.stdout, "\n"+text)
	if !r.Complete() {
		fmt.Fprintln(h.stdout, "bench: partial run, docs/benchmarks.md left as it was")
		return code
	}
	if err := h.update(daemon, text); err != nil {
		fmt.Fprintln(h.stderr, "bench:", err)
		return 1
	}
	fmt.Fprintln(h.stdout, "bench: "+named(daemon)+"figures written to docs/benchmarks.md")
	return code
}

// EnvInt is the knob in the environment variable name: a positive integer,
// def when unset. Anything else ends the benchmark.
func EnvInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	n, err := envInt(name, os.Getenv(name), def)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func envInt(name, s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a positive integer", name, s)
	}
	return n, nil
}

// EnvDuration is like EnvInt for a positive duration ("30s").
func EnvDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	tb.Helper()
	d, err := envDuration(name, os.Getenv(name), def)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func envDuration(name, s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 30s", name, s)
	}
	return d, nil
}
