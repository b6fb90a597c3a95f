//go:build e2e

package bench

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/benchdoc"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestRender pins the generated section's layout with made-up figures.
func TestRender(t *testing.T) {
	ms := time.Millisecond
	r := &results{vrrpd: "vrrpd version test", keepalived: "Keepalived v2.2.7"}
	for _, d := range []struct {
		name  string
		extra time.Duration
	}{{"vrrpd", 0}, {"keepalived", 2 * ms}} {
		r.addOutage(outageResult{Daemon: d.name, Timing: timings[0], Failure: failures[0].Name, Bound: failures[0].Bound,
			Samples:    []time.Duration{3000*ms + d.extra, 3200 * ms, 3400 * ms},
			FromAdvert: []time.Duration{3612 * ms, 3614*ms + d.extra, 3616 * ms},
			Claimed:    []time.Duration{3609 * ms, 3610 * ms, 3611 * ms}})
		r.addOutage(outageResult{Daemon: d.name, Timing: timings[2], Failure: failures[2].Name, Bound: failures[2].Bound,
			Samples: []time.Duration{10 * ms}, FromAdvert: []time.Duration{60 * ms}, Claimed: []time.Duration{7 * ms},
			Errors: []string{"the VIP never answered again\nlog lines"}})
	}
	r.addIdle(idleResult{Daemon: "vrrpd", Groups: 100, Timing: timings[0], Window: 30 * time.Second, Processes: 1, RSS: 14 << 20, CPUPercent: 0.6})
	r.addIdle(idleResult{Daemon: "keepalived", Groups: 1, Timing: timings[0], Error: "never master"})
	r.addStability(stabilityResult{Daemon: "vrrpd", Timing: timings[2], Window: time.Minute, Load: 2, MasterAdverts: 6000,
		LongestSilence: 21 * ms, Takeovers: 0})
	got := r.render(benchdoc.Machine{Date: time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC), CPUs: 2, CPUModel: "Test CPU", Kernel: "6.18", LoadBefore: "0.10", LoadAfter: "1.90"})

	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("render differs from %s (run with -update if intended):\n%s", golden, got)
	}
	if !strings.HasPrefix(got, beginMarker) || !strings.HasSuffix(got, endMarker+"\n") {
		t.Errorf("render does not sit between the markers")
	}
}

// TestRepeatedRuns: under -count the outage trials add up, the other cases
// keep the latest run, so the tables hold each case once.
func TestRepeatedRuns(t *testing.T) {
	r := &results{}
	for run := range 3 {
		r.addOutage(outageResult{Daemon: "vrrpd", Timing: timings[0], Failure: failures[0].Name,
			Samples: []time.Duration{time.Duration(run)}, FromAdvert: []time.Duration{1}, Claimed: []time.Duration{1}})
		r.addIdle(idleResult{Daemon: "vrrpd", Groups: 1, Timing: timings[0], RSS: int64(run)})
		r.addStability(stabilityResult{Daemon: "vrrpd", Takeovers: run})
	}
	if len(r.outages) != 1 || len(r.outages[0].Samples) != 3 {
		t.Errorf("outages = %+v, want one case with 3 samples", r.outages)
	}
	if len(r.idle) != 1 || r.idle[0].RSS != 2 {
		t.Errorf("idle = %+v, want the last run only", r.idle)
	}
	if len(r.stability) != 1 || r.stability[0].Takeovers != 2 {
		t.Errorf("stability = %+v, want the last run only", r.stability)
	}
}
