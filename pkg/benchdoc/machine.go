package benchdoc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Machine is where a run's figures come from, for the line that opens a
// daemon's section.
type Machine struct {
	Date time.Time
	// LoadBefore and LoadAfter are /proc/loadavg's 1-minute figure when
	// the run started and ended: other work on the machine shows there.
	LoadBefore, LoadAfter string
	CPUs                  int
	CPUModel              string
	Kernel                string
}

// Measured opens a section's first line: when, on what, under which load.
func (m Machine) Measured() string {
	return fmt.Sprintf("Measured %s on %d CPUs (%s), kernel %s, load average %s at the start and %s at the end",
		m.Date.Format("2006-01-02 15:04 MST"), m.CPUs, m.CPUModel, m.Kernel, m.LoadBefore, m.LoadAfter)
}

// DescribeMachine is this machine now; Main fills in the load averages.
func DescribeMachine() Machine {
	return describeMachine(os.ReadFile, time.Now(), runtime.NumCPU())
}

func describeMachine(readFile func(string) ([]byte, error), now time.Time, cpus int) Machine {
	m := Machine{Date: now.UTC(), CPUs: cpus, Kernel: "unknown", CPUModel: "unknown"}
	if b, err := readFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := readFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = cpuModel(string(b))
	}
	return m
}

// cpuModel is /proc/cpuinfo's first "model name" (x86 has one, most ARM
// kernels none).
func cpuModel(cpuinfo string) string {
	for line := range strings.Lines(cpuinfo) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// LoadAverage is the 1-minute load average, "unknown" if unreadable.
func LoadAverage() string { return loadAverage(os.ReadFile) }

func loadAverage(readFile func(string) ([]byte, error)) string {
	b, err := readFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

// CommandVersion is the first line a command prints for its version, for
// the report to name what it measured.
func CommandVersion(path string, args ...string) string {
	out, _ := exec.Command(path, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return filepath.Base(path) + " (version unknown)"
	}
	return line
}
