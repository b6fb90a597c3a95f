//go:build e2e

package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/benchdoc"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// idleCase is one daemon running groups as the only router, so master of
// all of them, doing nothing but advertising.
type idleCase struct {
	impl   implementation
	groups int
	timing timing
}

// BenchmarkIdle measures memory (VmRSS) and CPU (utime+stime) of an idle
// master: vrrpd with 1 and 100 groups at 1 s, keepalived with 1 (issue 3's
// aims: RSS under 15 MiB, CPU under 0.5 % of a core with 100 groups), and
// both with 1 group at 100 ms, where FIELD-NOTES has keepalived's figure.
// The cases run at once, each in its own lab: idle daemons barely compete.
func BenchmarkIdle(b *testing.B) {
	netlab.RequirePrivileged(b)
	impls := implementations(b)
	window := benchdoc.EnvDuration(b, "HASUITE_BENCH_IDLE", time.Minute)
	var cases []idleCase
	for _, impl := range impls {
		cases = append(cases, idleCase{impl, 1, timings[0]})
		if impl.Name == "vrrpd" {
			cases = append(cases, idleCase{impl, 100, timings[0]})
		}
		cases = append(cases, idleCase{impl, 1, timings[1]})
	}
	results := make([]idleResult, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			r := idleResult{Daemon: c.impl.Name, Groups: c.groups, Timing: c.timing, Window: window}
			if err := idleTrial(b.Context(), b, c, window, &r); err != nil {
				r.Error = err.Error()
			}
			results[i] = r
		})
	}
	wg.Wait()
	for _, r := range results {
		b.Logf("%s", r.summary())
		report.addIdle(r)
	}
}

func idleTrial(ctx context.Context, b *testing.B, c idleCase, window time.Duration, r *idleResult) error {
	log := &trialLog{}
	lab, err := newLab(ctx, log)
	if err != nil {
		return err
	}
	defer lab.Close()
	if err := measureIdle(ctx, b, lab, c, window, r); err != nil {
		return fmt.Errorf("%s with %d groups at %s: %w\nlast lab log lines:\n%s", c.impl.Name, c.groups, c.timing.Name, err, log.tail(20))
	}
	return nil
}

func measureIdle(ctx context.Context, b *testing.B, lab *netlab.Lab, c idleCase, window time.Duration, r *idleResult) error {
	groups := singleGroup()
	if c.groups > 1 {
		groups = manyGroups(c.groups)
	}
	vips := make([]string, len(groups))
	for i, g := range groups {
		vips[i] = g.VIP
	}
	r1 := lab.Node("r1")
	dir := b.TempDir()
	p, err := c.impl.start(ctx, r1, dir, c.timing, masterPriority, groups)
	if err != nil {
		return err
	}
	if err := netlab.Poll(ctx, patience, func() (bool, string) {
		if p.Exited() {
			return false, "the daemon exited"
		}
		n, err := countAddresses(r1, vips)
		if err != nil {
			return false, err.Error()
		}
		return n == len(vips), fmt.Sprintf("%d of %d VIPs on r1", n, len(vips))
	}); err != nil {
		return fmt.Errorf("never master of every group: %w", err)
	}
	// The second gratuitous ARP burst comes master-delay (5 s) after the
	// takeover in both daemons: start counting after it.
	select {
	case <-time.After(6 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	pids := netlab.ProcessTree(p.Pid())
	cpu0, err := netlab.CPUTime(pids)
	if err != nil {
		return err
	}
	start := time.Now()
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return ctx.Err()
	}
	cpu1, err := netlab.CPUTime(pids)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if r.RSS, err = netlab.RSS(pids); err != nil {
		return err
	}
	if p.Exited() {
		return fmt.Errorf("the daemon exited while measured")
	}
	r.Processes = len(pids)
	r.CPUPercent = 100 * (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	if n, _ := countAddresses(r1, vips); n != len(vips) {
		return fmt.Errorf("only %d of %d VIPs left on r1 after the window", n, len(vips))
	}
	return nil
}
