//go:build e2e

package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
)

func TestZZProbe(t *testing.T) {
	netlab.RequirePrivileged(t)
	b := &testing.B{}
	_ = b
	log := &trialLog{}
	ctx := t.Context()
	lab, err := newLab(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	e := &env{lab: lab, r1: lab.Node("r1"), r2: lab.Node("r2"), dir: t.TempDir(), log: log}
	e.gen1, _ = newGenerator(e.r1)
	for _, setting := range strings.Split(os.Getenv("PROBE_SETTINGS"), ";") {
		t.Setenv("HASUITE_BENCH_CTSYNCD_ENV", setting)
		t.Logf("===== setting %q", setting)
		_ = e.flushBoth(ctx)
		func() {
			p0, err := ctsyncdDaemon.start(ctx, lab, e.trialDir(), false)
			if err != nil {
				t.Fatal(err)
			}
			p := p0.(*ctsyncdPair)
			defer p.stop()
			dump := func(label string) {
				for _, n := range []*ctsyncdNode{p.r1, p.r2} {
					pid := n.syncd.Pid()
					st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
					sm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
					var keep []string
					for l := range strings.Lines(string(st) + string(sm)) {
						for _, k := range []string{"VmRSS", "RssAnon", "RssFile", "VmHWM", "Anonymous:", "Pss_File", "Threads"} {
							if strings.HasPrefix(l, k) {
								keep = append(keep, strings.TrimSpace(l))
							}
						}
					}
					t.Logf("%s %s: %s", label, n.node.Name(), strings.Join(keep, " | "))
				}
			}
			dump("idle")
			took, err := e.gen1.insert(ctx, 0, large)
			t.Logf("insert %v %v", took, err)
			at, got, err := waitCount(ctx, bound, 5*time.Millisecond, large, p.external)
			t.Logf("got %d at %v err %v", got, at, err)
			dump("at100k")
			time.Sleep(2 * time.Second)
			dump("after2s")
			time.Sleep(6 * time.Second)
			dump("after8s")
			for _, n := range []*ctsyncdNode{p.r1, p.r2} {
				var last string
				for _, l := range n.syncd.Lines() {
					if strings.Contains(l, "gc ") {
						last = l
					}
				}
				t.Logf("%s last gc: %s", n.node.Name(), last)
			}
			if os.Getenv("PROBE_COMMIT") != "" {
				d, err := p.takeover(ctx)
				t.Logf("takeover own %v err %v", d, err)
				time.Sleep(time.Second)
				dump("aftercommit")
			}
			for _, n := range []*ctsyncdNode{p.r1, p.r2} {
				for _, l := range n.syncd.Lines() {
					if os.Getenv("PROBE_GC") != "" && strings.Contains(l, "gc ") || strings.Contains(l, "commit") || strings.Contains(l, "scvg") {
						t.Logf("%s: %s", n.node.Name(), l)
					}
				}
			}
		}()
	}
	_ = context.Background
}
