package benchdoc

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// fakeProc reads files from a map, the others do not exist.
func fakeProc(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
}

func TestDescribeMachine(t *testing.T) {
	now := time.Date(2026, 11, 23, 14, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name  string
		files map[string]string
		want  Machine
	}{
		{"x86", map[string]string{
			"/proc/sys/kernel/osrelease": "6.18.0-1-amd64\n",
			"/proc/cpuinfo":              "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 2.00GHz\nprocessor\t: 1\nmodel name\t: Test CPU @ 2.00GHz\n",
		}, Machine{Kernel: "6.18.0-1-amd64", CPUModel: "Test CPU @ 2.00GHz"}},
		{"no model name (ARM)", map[string]string{
			"/proc/sys/kernel/osrelease": "6.12.0\n",
			"/proc/cpuinfo":              "processor\t: 0\nBogoMIPS\t: 108.00\nCPU implementer\t: 0x41\n",
		}, Machine{Kernel: "6.12.0", CPUModel: "unknown"}},
		{"no /proc", nil, Machine{Kernel: "unknown", CPUModel: "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.Date, tt.want.CPUs = now.UTC(), 4
			if got := describeMachine(fakeProc(tt.files), now, 4); got != tt.want {
				t.Errorf("describeMachine = %+v, want %+v", got, tt.want)
			}
		})
	}
	if m := DescribeMachine(); m.CPUs < 1 || m.Date.Location() != time.UTC {
		t.Errorf("DescribeMachine = %+v, want this machine's CPUs and a UTC date", m)
	}
}

func TestLoadAverage(t *testing.T) {
	tests := []struct {
		loadavg *string
		want    string
	}{
		{new("0.52 0.58 0.59 1/1034 12345\n"), "0.52"},
		{new(""), "unknown"},
		{nil, "unknown"},
	}
	for _, tt := range tests {
		files := map[string]string{}
		if tt.loadavg != nil {
			files["/proc/loadavg"] = *tt.loadavg
		}
		if got := loadAverage(fakeProc(files)); got != tt.want {
			t.Errorf("loadAverage with %v = %q, want %q", files, got, tt.want)
		}
	}
}

func TestCommandVersion(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"first line", []string{"-c", "echo '  tool v1.2'; echo second"}, "tool v1.2"},
		{"on stderr", []string{"-c", "echo 'tool v3' >&2; exit 1"}, "tool v3"},
		{"prints nothing", []string{"-c", "exit 0"}, "sh (version unknown)"},
	}
	for _, tt := range tests {
		if got := CommandVersion(sh, tt.args...); got != tt.want {
			t.Errorf("%s: CommandVersion = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := CommandVersion("/nonexistent/tool", "--version"); got != "tool (version unknown)" {
		t.Errorf("missing command: CommandVersion = %q, want %q", got, "tool (version unknown)")
	}
}

// TestMeasured pins the line every section opens with; the benches' goldens
// hold it too.
func TestMeasured(t *testing.T) {
	m := Machine{Date: time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC), CPUs: 2, CPUModel: "Test CPU", Kernel: "6.18",
		LoadBefore: "0.10", LoadAfter: "1.90"}
	want := "Measured 2026-11-23 13:00 UTC on 2 CPUs (Test CPU), kernel 6.18, load average 0.10 at the start and 1.90 at the end"
	if got := m.Measured(); got != want {
		t.Errorf("Measured = %q, want %q", got, want)
	}
}
