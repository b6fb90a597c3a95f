package benchdoc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRun pins what a bench's TestMain prints and writes: the lines are
// what `make bench` users read.
func TestRun(t *testing.T) {
	tests := []struct {
		name            string
		daemon          string
		code            int
		empty, complete bool
		updateErr       error
		wantCode        int
		wantOut         string
		wantErr         string
		wantUpdate      bool
	}{
		{name: "nothing measured", empty: true, code: 3, wantCode: 3},
		{name: "partial run", daemon: "clusterd", wantOut: "\nSECTION 0.10 1.90\nbench: partial run, docs/benchmarks.md left as it was\n"},
		{name: "partial run keeps a failure's code", code: 1, wantCode: 1,
			wantOut: "\nSECTION 0.10 1.90\nbench: partial run, docs/benchmarks.md left as it was\n"},
		{name: "vrrpd's section", daemon: "", complete: true, wantUpdate: true,
			wantOut: "\nSECTION 0.10 1.90\nbench: figures written to docs/benchmarks.md\n"},
		{name: "ctsyncd's section", daemon: "ctsyncd", complete: true, wantUpdate: true,
			wantOut: "\nSECTION 0.10 1.90\nbench: ctsyncd figures written to docs/benchmarks.md\n"},
		{name: "complete run keeps a failure's code", daemon: "clusterd", code: 1, complete: true, wantCode: 1, wantUpdate: true,
			wantOut: "\nSECTION 0.10 1.90\nbench: clusterd figures written to docs/benchmarks.md\n"},
		{name: "update fails", daemon: "clusterd", complete: true, updateErr: errors.New("no clusterd section"), wantCode: 1,
			wantUpdate: true, wantOut: "\nSECTION 0.10 1.90\n", wantErr: "bench: no clusterd section\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			// The load average is read before the benchmarks and after.
			loads := []string{"0.10", "1.90"}
			ran, updated := false, false
			h := host{
				stdout: &out, stderr: &errOut,
				describe: func() Machine { return Machine{CPUs: 2} },
				load: func() string {
					l := loads[0]
					loads = loads[1:]
					return l
				},
				update: func(daemon, section string) error {
					updated = true
					if daemon != tt.daemon || section != "SECTION 0.10 1.90\n" {
						t.Errorf("update(%q, %q), want daemon %q and the rendered section", daemon, section, tt.daemon)
					}
					return tt.updateErr
				},
			}
			r := Report{
				Empty:    func() bool { return tt.empty },
				Complete: func() bool { return tt.complete },
				Render: func(m Machine) string {
					if !ran || m.CPUs != 2 {
						t.Errorf("Render(%+v) before the benchmarks ran, or not with the machine described", m)
					}
					return fmt.Sprintf("SECTION %s %s\n", m.LoadBefore, m.LoadAfter)
				},
			}
			code := run(func() int { ran = true; return tt.code }, tt.daemon, r, h)
			if code != tt.wantCode {
				t.Errorf("code %d, want %d", code, tt.wantCode)
			}
			if out.String() != tt.wantOut || errOut.String() != tt.wantErr {
				t.Errorf("printed %q and %q on stderr, want %q and %q", out.String(), errOut.String(), tt.wantOut, tt.wantErr)
			}
			if updated != tt.wantUpdate {
				t.Errorf("updated the document: %v, want %v", updated, tt.wantUpdate)
			}
		})
	}
}

// TestEnv: a knob is its default when unset; anything but a positive
// value is refused with an error saying what to give.
func TestEnv(t *testing.T) {
	trials := func(s string) (any, error) { return envInt("HASUITE_BENCH_TRIALS", s, 5) }
	idle := func(s string) (any, error) { return envDuration("HASUITE_BENCH_IDLE", s, time.Minute) }
	const badTrials = "HASUITE_BENCH_TRIALS=%q: want a positive integer"
	const badIdle = "HASUITE_BENCH_IDLE=%q: want a positive duration such as 30s"
	for _, tt := range []struct {
		knob    func(string) (any, error)
		s       string
		want    any
		wantErr string // a format for s
	}{
		{trials, "", 5, ""},
		{trials, "3", 3, ""},
		{trials, "0", nil, badTrials},
		{trials, "-2", nil, badTrials},
		{trials, "three", nil, badTrials},
		{trials, "2.5", nil, badTrials},
		{idle, "", time.Minute, ""},
		{idle, "90s", 90 * time.Second, ""},
		{idle, "0s", nil, badIdle},
		{idle, "-1s", nil, badIdle},
		{idle, "60", nil, badIdle},
	} {
		got, err := tt.knob(tt.s)
		switch {
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("%q: got %v, %v; want %v", tt.s, got, err, tt.want)
		case tt.wantErr != "" && (err == nil || err.Error() != fmt.Sprintf(tt.wantErr, tt.s)):
			t.Errorf("%q: error %v, want %q", tt.s, err, fmt.Sprintf(tt.wantErr, tt.s))
		}
	}

	t.Setenv("HASUITE_BENCHDOC_INT", "7")
	t.Setenv("HASUITE_BENCHDOC_DURATION", "2s")
	if got := EnvInt(t, "HASUITE_BENCHDOC_INT", 1); got != 7 {
		t.Errorf("EnvInt = %d, want 7 from the environment", got)
	}
	if got := EnvDuration(t, "HASUITE_BENCHDOC_DURATION", time.Minute); got != 2*time.Second {
		t.Errorf("EnvDuration = %v, want 2s from the environment", got)
	}
}
