//go:build e2e

package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/benchdoc"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// rssAfter is how long the daemons run before their RSS is read: start-up
// allocations done, the first monitor pings and heartbeats exchanged.
const rssAfter = 10 * time.Second

// BenchmarkIdle measures memory (VmRSS) and CPU (utime+stime) of the ACTIVE
// and the STANDBY node of one idle pair: heartbeats on two links every
// keepalive, two monitors pinged, nothing failing.
func BenchmarkIdle(b *testing.B) {
	netlab.RequirePrivileged(b)
	bin := clusterdBinary(b)
	window := benchdoc.EnvDuration(b, "HASUITE_BENCH_IDLE", 30*time.Second)
	results := []idleResult{{Node: "R1", Role: "ACTIVE", Window: window}, {Node: "R2", Role: "STANDBY", Window: window}}
	log := &trialLog{}
	err := func() error {
		lab, err := newLab(b.Context(), log)
		if err != nil {
			return err
		}
		defer lab.Close()
		return measureIdle(b.Context(), lab, bin, b.TempDir(), window, results)
	}()
	for i := range results {
		if err != nil {
			results[i].Error = fmt.Sprintf("%v\nlast lab log lines:\n%s", err, log.tail(20))
		}
		b.Logf("%s", results[i].summary())
		report.addIdle(results[i])
	}
}

func measureIdle(ctx context.Context, lab *netlab.Lab, bin, dir string, window time.Duration, results []idleResult) error {
	started := time.Now()
	r1p, r2p, err := pair(ctx, lab, bin, dir)
	if err != nil {
		return err
	}
	procs := []*netlab.Process{r1p, r2p}
	if err := sleep(ctx, time.Until(started.Add(rssAfter))); err != nil {
		return err
	}
	pids := make([][]int, len(procs))
	cpu0 := make([]time.Duration, len(procs))
	for i, p := range procs {
		pids[i] = netlab.ProcessTree(p.Pid())
		if results[i].RSS, err = netlab.RSS(pids[i]); err != nil {
			return err
		}
		if results[i].Anon, results[i].File, err = rssSplit(pids[i]); err != nil {
			return err
		}
		if cpu0[i], err = netlab.CPUTime(pids[i]); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := sleep(ctx, window); err != nil {
		return err
	}
	elapsed := time.Since(start)
	for i, p := range procs {
		cpu1, err := netlab.CPUTime(pids[i])
		if err != nil {
			return err
		}
		if p.Exited() {
			return fmt.Errorf("%s's clusterd exited while measured", results[i].Node)
		}
		results[i].Processes = len(pids[i])
		results[i].CPUPercent = 100 * (cpu1 - cpu0[i]).Seconds() / elapsed.Seconds()
		if results[i].RSSEnd, err = netlab.RSS(pids[i]); err != nil {
			return err
		}
		if results[i].AnonEnd, results[i].FileEnd, err = rssSplit(pids[i]); err != nil {
			return err
		}
	}
	// The roles must not have moved while measured.
	on1, err1 := hasAddress(lab.Node("r1"), clusterIP)
	on2, err2 := hasAddress(lab.Node("r2"), clusterIP)
	if err1 != nil || err2 != nil || !on1 || on2 {
		return fmt.Errorf("after the window the cluster IP is on r1 %v, on r2 %v (%v %v): the pair did not stay idle", on1, on2, err1, err2)
	}
	return nil
}

// rssSplit sums RssAnon and RssFile of /proc/PID/status over pids, in
// bytes: where a growing VmRSS (netlab.RSS) grows.
func rssSplit(pids []int) (anon, file int64, err error) {
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0, 0, err
		}
		a, errA := statusKB(string(b), "RssAnon:")
		f, errF := statusKB(string(b), "RssFile:")
		if err := errors.Join(errA, errF); err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
		}
		anon, file = anon+a, file+f
	}
	return anon, file, nil
}

// statusKB is the value of a /proc/PID/status line such as
// "RssAnon:	    8192 kB", in bytes.
func statusKB(status, key string) (int64, error) {
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("%s %q: want a number of kB", key, strings.TrimSpace(rest))
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s %w", key, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s line", key)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
