//go:build e2e

package bench

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/pkg/benchdoc"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// madeUp is a report with made-up figures for every table.
func madeUp(ctsyncdSkipped bool) *results {
	ms := time.Millisecond
	r := &results{}
	r.setVersion("conntrackd", "conntrackd 1.4.7")
	repl := func(d string, n int, defaults bool, insert, replicated time.Duration, got, overruns int, rss1, rss2 int64) replTrial {
		// File pages: a tenth of conntrackd's RSS, half of ctsyncd's.
		file := int64(10)
		if d == "ctsyncd" {
			file = 2
		}
		return replTrial{Insert: insert, Replicated: replicated, Got: got, Overruns: overruns, RSS1: rss1, RSS2: rss2,
			File1: rss1 / file, File2: rss2 / file}
	}
	r.addReplication(replResult{Daemon: "conntrackd", N: small, Trials: []replTrial{
		repl("conntrackd", small, false, 60*ms, 61*ms, small, 0, 0, 0), repl("conntrackd", small, false, 58*ms, 60*ms, small, 0, 0, 0)}})
	r.addReplication(replResult{Daemon: "conntrackd", N: large, Trials: []replTrial{
		repl("conntrackd", large, false, 560*ms, 600*ms, large, 0, 56<<20, 50<<20)},
		Errors: []string{"R2's external cache holds 99000 of 100000 entries after 1m0s\nlog"}})
	r.addReplication(replResult{Daemon: "conntrackd", N: large, Defaults: true, Trials: []replTrial{
		repl("conntrackd", large, true, 900*ms, 31000*ms, large, 236, 0, 0)}})
	r.addCommit(commitResult{Daemon: kernelRow, N: large, Trials: []commitTrial{{Span: 200 * ms, Wall: 200 * ms}, {Span: 220 * ms, Wall: 220 * ms}}})
	r.addCommit(commitResult{Daemon: kernelListenerRow, N: large, Trials: []commitTrial{{Span: 400 * ms, Wall: 400 * ms}}})
	r.addCommit(commitResult{Daemon: "conntrackd", N: large, Trials: []commitTrial{{Span: 820 * ms, Wall: 860 * ms, Own: 863 * ms}}})
	r.addChurn(churnResult{Daemon: "conntrackd", Trials: []churnTrial{{CPU1: 5.9, CPU2: 2.7, Window: 10 * time.Second, Created: 50000}}})
	if ctsyncdSkipped {
		r.skip("ctsyncd", "ctsyncd binary not built yet")
	} else {
		r.setVersion("ctsyncd", "ctsyncd version test")
		r.addReplication(replResult{Daemon: "ctsyncd", N: small, Trials: []replTrial{repl("ctsyncd", small, false, 60*ms, 70*ms, small, 0, 0, 0)}})
		r.addReplication(replResult{Daemon: "ctsyncd", N: large, Trials: []replTrial{repl("ctsyncd", large, false, 560*ms, 900*ms, large, 0, 20<<20, 24<<20)}})
		r.addReplication(replResult{Daemon: "ctsyncd", N: large, Defaults: true, Trials: []replTrial{repl("ctsyncd", large, true, 560*ms, 60*time.Second, 70000, 3, 0, 0)}})
		r.addCommit(commitResult{Daemon: "ctsyncd", N: large, Trials: []commitTrial{{Span: 300 * ms, Wall: 700 * ms, Own: 310 * ms}}})
		r.addChurn(churnResult{Daemon: "ctsyncd", Errors: []string{"ctsyncd pair: gave up"}})
	}
	for _, b := range benchmarks {
		r.ran(b)
	}
	return r
}

// TestRender pins the generated section's layout with made-up figures,
// with ctsyncd measured and with ctsyncd not built yet.
func TestRender(t *testing.T) {
	for _, tt := range []struct {
		golden  string
		skipped bool
	}{{"report.golden", false}, {"report-ctsyncd-skipped.golden", true}} {
		t.Run(tt.golden, func(t *testing.T) {
			r := madeUp(tt.skipped)
			if !r.complete() {
				t.Error("a report of every benchmark is not complete")
			}
			got := r.render(benchdoc.Machine{Date: time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC), CPUs: 2, CPUModel: "Test CPU",
				Kernel: "6.18", LoadBefore: "0.10", LoadAfter: "1.90"})
			golden := filepath.Join("testdata", tt.golden)
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
		})
	}
}

// TestRepeatedRuns: under -count the trials of a case add up, so the
// tables hold each case once.
func TestRepeatedRuns(t *testing.T) {
	r := &results{}
	for range 3 {
		r.addReplication(replResult{Daemon: "conntrackd", N: small, Trials: []replTrial{{Got: small}}})
		r.addReplication(replResult{Daemon: "conntrackd", N: large, Defaults: true, Trials: []replTrial{{Got: large}}})
		r.addCommit(commitResult{Daemon: "conntrackd", Trials: []commitTrial{{}}})
		r.addChurn(churnResult{Daemon: "conntrackd", Errors: []string{"x"}})
	}
	if len(r.repl) != 2 || len(r.repl[0].Trials) != 3 || len(r.repl[1].Trials) != 3 {
		t.Errorf("replication = %+v, want two cases of 3 trials", r.repl)
	}
	if len(r.commits) != 1 || len(r.commits[0].Trials) != 3 || len(r.churns) != 1 || len(r.churns[0].Errors) != 3 {
		t.Errorf("commits = %+v, churns = %+v, want one case each with 3 trials", r.commits, r.churns)
	}
	if r.complete() {
		t.Error("complete before every benchmark ran")
	}
}

// TestConntrackdOutput reads the figures out of conntrackd's statistics
// (`-s` as R2 answered it in this bench, `-s runtime` with R1's overrun
// count after a default-settings burst) and log as 1.4.7 prints them.
func TestConntrackdOutput(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	s := read("conntrackd-stats.txt")
	if n, ok := externalCurrent(s); !ok || n != 1200 {
		t.Errorf("externalCurrent = %d, %v; want 1200 (not the internal cache's 0)", n, ok)
	}
	if n, ok := statField(s, packetsRecvRE); !ok || n != 166 {
		t.Errorf("packets received = %d, %v; want 166", n, ok)
	}
	if n, ok := statField(read("conntrackd-runtime.txt"), overrunRE); !ok || n != 236 {
		t.Errorf("overruns = %d, %v; want 236", n, ok)
	}
	if d, ok := commitTook(read("conntrackd.log")); !ok || d != 863639*time.Microsecond {
		t.Errorf("commitTook = %v, %v; want the last commit's 863.639ms", d, ok)
	}
	if _, ok := externalCurrent("cache internal:\ncurrent active connections: 4\n"); ok {
		t.Error("externalCurrent read the internal cache")
	}
	if _, ok := commitTook("initialization completed\n"); ok {
		t.Error("commitTook found a commit in a log without one")
	}
	if got := conntrackdVersion("Connection tracking userspace daemon v1.4.7. Licensed under GPLv2."); got != "conntrackd 1.4.7" {
		t.Errorf("conntrackdVersion = %q", got)
	}
}

// TestConntrackdConfig: the pitfalls of two daemons side by side
// (FIELD-NOTES) are handled, and defaults leaves only the netlink event
// buffer at its default.
func TestConntrackdConfig(t *testing.T) {
	tuned, defaults := conntrackdConfig("/d/r1", r1Sync, false), conntrackdConfig("/d/r1", r1Sync, true)
	for _, want := range []string{"Systemd no", "LockFile /d/r1/conntrackd.lock", "Path /d/r1/conntrackd.ctl",
		"LogFile /d/r1/conntrackd.log", "IPv4_interface " + r1Sync, "Interface eth1", "HashLimit 524288"} {
		if !strings.Contains(tuned, want) || !strings.Contains(defaults, want) {
			t.Errorf("config lacks %q", want)
		}
	}
	if !strings.Contains(tuned, "NetlinkBufferSize 2097152") || strings.Contains(defaults, "NetlinkBuffer") {
		t.Errorf("the netlink buffer: tuned\n%s\ndefaults\n%s", tuned, defaults)
	}
}

// TestCtsyncdConfig: the configs the ctsyncd half writes pass ctsyncd's
// own validation.
func TestCtsyncdConfig(t *testing.T) {
	for _, defaults := range []bool{false, true} {
		c, err := config.Parse("ctsyncd.conf", []byte(ctsyncdConfig(defaults)))
		if err != nil {
			t.Errorf("defaults %v: %v\n%s", defaults, err, ctsyncdConfig(defaults))
		} else if c == nil {
			t.Errorf("defaults %v: no config", defaults)
		}
	}
}

// TestCtsyncdJSON reads the ctsyncd half's figures out of the --json of
// show conntrack-sync statistics and status as ctsyncd/internal/show
// renders them (copies of its goldens).
func TestCtsyncdJSON(t *testing.T) {
	load := func(name string) map[string]any {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	st := load("ctsyncd-statistics.json")
	if n, err := jsonInt(jsonPath(st, "main", "external", "current")); err != nil || n != 4 {
		t.Errorf("external current = %d, %v; want 4", n, err)
	}
	if n, err := jsonInt(jsonPath(st, "main", "replication", "overruns")); err != nil || n != 0 {
		t.Errorf("overruns = %d, %v; want 0", n, err)
	}
	status := load("ctsyncd-status.json")
	if alive, _ := jsonPath(status, "status", "peer", "alive").(bool); !alive {
		t.Error("status.peer.alive not read")
	}
	if s, _ := jsonPath(status, "status", "lastCommit", "duration").(string); s != "0.003400s" {
		t.Errorf("lastCommit.duration = %q", s)
	} else if d, err := time.ParseDuration(s); err != nil || d != 3400*time.Microsecond {
		t.Errorf("ParseDuration(%q) = %v, %v", s, d, err)
	}
	if n, err := jsonInt(jsonPath(status, "status", "lastCommit", "entries")); err != nil || n != 4 {
		t.Errorf("lastCommit.entries = %d, %v; want 4", n, err)
	}
	if jsonPath(status, "status", "nothing", "here") != nil {
		t.Error("a missing path is not nil")
	}
}

// TestFlows: every flow is a distinct connection, its reply the mirror of
// its original direction, and the generator's batches are what the kernel
// needs (confirmed, established).
func TestFlows(t *testing.T) {
	const n = 3 * flowsPerAddr
	seen := make(map[ct.Key]int, n)
	i := 0
	for e := range flows(0, n) {
		k := e.Key()
		if j, dup := seen[k]; dup {
			t.Fatalf("flows %d and %d are the same connection %+v", j, i, k)
		}
		seen[k] = i
		if e.Reply.Src != e.Orig.Dst || e.Reply.Dst != e.Orig.Src || e.Reply.SrcPort != e.Orig.DstPort || e.Reply.DstPort != e.Orig.SrcPort {
			t.Fatalf("flow %d: reply %+v is not the mirror of %+v", i, e.Reply, e.Orig)
		}
		if e.Status&ct.StatusConfirmed == 0 || e.TCP.State != ct.TCPEstablished || e.Timeout == 0 {
			t.Fatalf("flow %d: %+v", i, e)
		}
		i++
	}
	if i != n {
		t.Errorf("%d flows, want %d", i, n)
	}
	keys := 0
	for k := range flowKeys(flowsPerAddr, 10) {
		var e ct.Entry
		flow(&e, flowsPerAddr+keys)
		if k != e.Key() {
			t.Errorf("key %d = %+v, want %+v", keys, k, e.Key())
		}
		keys++
	}
	if keys != 10 {
		t.Errorf("%d keys, want 10", keys)
	}
}

// TestVrrpdConfig: the VRRP group the ctsyncd half runs vrrpd with passes
// `vrrpd validate` (skips without a vrrpd binary in $HASUITE_BIN).
func TestVrrpdConfig(t *testing.T) {
	bin := hasuiteBinary("vrrpd")
	if bin == "" {
		t.Skip("no vrrpd in $HASUITE_BIN")
	}
	for _, priority := range []int{100, 200} {
		path := filepath.Join(t.TempDir(), "vrrpd.conf")
		if err := os.WriteFile(path, []byte(benchVrrpdConfig(priority)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "validate", path).CombinedOutput(); err != nil {
			t.Errorf("vrrpd validate: %v\n%s", err, out)
		}
	}
}

// TestStatusKB reads the RSS split out of /proc/PID/status lines.
func TestStatusKB(t *testing.T) {
	const status = "Name:\tctsyncd\nVmRSS:\t   35840 kB\nRssAnon:\t   22528 kB\nRssFile:\t   13312 kB\n"
	for _, tt := range []struct {
		key     string
		want    int64
		wantErr bool
	}{
		{"RssFile:", 13312 << 10, false},
		{"RssAnon:", 22528 << 10, false},
		{"RssShmem:", 0, true},
	} {
		got, err := statusKB(status, tt.key)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("statusKB(%s) = %d, %v; want %d, error %v", tt.key, got, err, tt.want, tt.wantErr)
		}
	}
	if _, err := statusKB("RssFile:\t12 MB\n", "RssFile:"); err == nil {
		t.Error("a value not in kB was read")
	}
}

// TestComplete: a run that left a row out (a sub-benchmark filter such as
// -bench /ctsyncd) is partial, so docs/benchmarks.md keeps its figures; a
// daemon that skipped does not make it partial.
func TestComplete(t *testing.T) {
	for _, tt := range []struct {
		name string
		drop func(r *results)
		want bool
	}{
		{"every row", func(*results) {}, true},
		{"no conntrackd churn", func(r *results) {
			r.churns = slices.DeleteFunc(r.churns, func(x churnResult) bool { return x.Daemon == "conntrackd" })
		}, false},
		{"no conntrackd replication", func(r *results) {
			r.repl = slices.DeleteFunc(r.repl, func(x replResult) bool { return x.Daemon == "conntrackd" })
		}, false},
		{"no kernel row", func(r *results) {
			r.commits = slices.DeleteFunc(r.commits, func(x commitResult) bool { return x.Daemon == kernelRow })
		}, false},
		{"no ctsyncd burst", func(r *results) {
			r.repl = slices.DeleteFunc(r.repl, func(x replResult) bool { return x.Daemon == "ctsyncd" && x.Defaults })
		}, false},
		{"a benchmark not run", func(r *results) { delete(r.done, "churn") }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := madeUp(false)
			tt.drop(r)
			if got := r.complete(); got != tt.want {
				t.Errorf("complete() = %v, want %v", got, tt.want)
			}
		})
	}
	if !madeUp(true).complete() {
		t.Error("a run with ctsyncd skipped is partial")
	}
}
