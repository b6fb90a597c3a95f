//go:build e2e

package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// BenchmarkStability runs v3 at 10 ms for HASUITE_BENCH_STABILITY minutes
// (default 1; the aim is 10) with every core busy running `yes`,
// vrrpd and keepalived side by side in two labs, and counts from the LAN
// host's capture how often the backup claimed the VIP: each is a spurious
// transition, since the master never fails.
func BenchmarkStability(b *testing.B) {
	netlab.RequirePrivileged(b)
	// Both daemons also with real-time scheduling: under load a normal
	// priority loses the CPU for longer than Master_Down (36 ms).
	impls := implementations(b)
	impls = append(impls, vrrpdImpl(impls[0].bin, true), keepalivedImpl(true))
	window := stabilityWindow(b)
	tm := timings[2]

	type ready struct {
		lab  *netlab.Lab
		log  *trialLog
		capt *netlab.Capture
		err  error
	}
	labs := make([]ready, len(impls))
	var wg sync.WaitGroup
	for i, impl := range impls {
		wg.Go(func() {
			r := &labs[i]
			r.log = &trialLog{}
			if r.lab, r.err = newLab(b.Context(), r.log); r.err != nil {
				return
			}
			r.capt, r.err = electAndCapture(b.Context(), b, r.lab, impl, tm)
		})
	}
	wg.Wait()
	defer func() {
		for _, r := range labs {
			if r.lab != nil {
				r.lab.Close()
			}
		}
	}()

	stopLoad, err := startLoad(b.Context(), runtime.NumCPU())
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	select {
	case <-time.After(window):
	case <-b.Context().Done():
	}
	stopLoad()
	elapsed := time.Since(start)

	for i, impl := range impls {
		res := stabilityResult{Daemon: impl.Name, Timing: tm, Window: elapsed, Load: runtime.NumCPU()}
		r := labs[i]
		if r.err == nil {
			r.err = analyse(r.lab, r.capt, tm, &res)
		}
		if r.err != nil {
			res.Error = fmt.Sprintf("%v\nlast lab log lines:\n%s", r.err, r.log.tail(20))
		}
		b.Logf("%s", res.summary())
		report.addStability(res)
	}
}

// stabilityWindow is HASUITE_BENCH_STABILITY: minutes, or a Go duration.
func stabilityWindow(b *testing.B) time.Duration {
	s := os.Getenv("HASUITE_BENCH_STABILITY")
	if s == "" {
		return time.Minute
	}
	if m, err := strconv.ParseFloat(s, 64); err == nil && m > 0 {
		return time.Duration(m * float64(time.Minute))
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		b.Fatalf("HASUITE_BENCH_STABILITY=%q: want minutes (10) or a duration (90s)", s)
	}
	return d
}

// electAndCapture starts the daemon on both routers, waits for r1 to be
// the only master and starts capturing adverts on the host.
func electAndCapture(ctx context.Context, b *testing.B, lab *netlab.Lab, impl implementation, tm timing) (*netlab.Capture, error) {
	r1, r2 := lab.Node("r1"), lab.Node("r2")
	dir := b.TempDir()
	for _, r := range []struct {
		node     *netlab.Node
		priority int
	}{{r1, masterPriority}, {r2, backupPriority}} {
		rdir := filepath.Join(dir, r.node.Name())
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return nil, err
		}
		if _, err := impl.start(ctx, r.node, rdir, tm, r.priority, singleGroup()); err != nil {
			return nil, err
		}
	}
	if err := netlab.Poll(ctx, patience, func() (bool, string) {
		on1, err1 := hasAddress(r1, vip)
		on2, err2 := hasAddress(r2, vip)
		return on1 && !on2 && err1 == nil && err2 == nil, fmt.Sprintf("VIP on r1 %v, on r2 %v (%v %v)", on1, on2, err1, err2)
	}); err != nil {
		return nil, fmt.Errorf("r1 never became the only master: %w", err)
	}
	time.Sleep(time.Second)
	return lab.Node("host").Capture("eth0", func(frame []byte) bool {
		_, ok := parseAdvert(frame)
		return ok
	})
}

// advert is what the stability count needs of a VRRP frame.
type advert struct {
	src      netip.Addr
	priority uint8
}

// parseAdvert reads an Ethernet frame holding IPv4 protocol 112.
func parseAdvert(frame []byte) (advert, bool) {
	const eth = 14
	if len(frame) < eth+20 || binary.BigEndian.Uint16(frame[12:14]) != 0x0800 || frame[eth+9] != 112 {
		return advert{}, false
	}
	ihl := int(frame[eth]&0x0f) * 4
	if len(frame) < eth+ihl+3 {
		return advert{}, false
	}
	src, _ := netip.AddrFromSlice(frame[eth+12 : eth+16])
	return advert{src: src, priority: frame[eth+ihl+2]}, true
}

var (
	r1Addr = netip.MustParseAddr("172.16.0.2")
	r2Addr = netip.MustParseAddr("172.16.0.3")
)

// analyse counts the backup's takeovers (its adverts, in runs separated
// by more than a Master_Down) and the master's longest silence, and checks
// the VIP ended where it started.
func analyse(lab *netlab.Lab, capt *netlab.Capture, tm timing, res *stabilityResult) error {
	if err := capt.Stop(); err != nil {
		return err
	}
	var last1, last2 time.Time
	for _, f := range capt.Frames() {
		a, _ := parseAdvert(f.Data)
		switch a.src {
		case r1Addr:
			res.MasterAdverts++
			if !last1.IsZero() {
				res.LongestSilence = max(res.LongestSilence, f.Time.Sub(last1))
			}
			last1 = f.Time
			if a.priority == 0 {
				res.Resignations++
			}
		case r2Addr:
			if last2.IsZero() || f.Time.Sub(last2) > tm.MasterDown() {
				res.Takeovers++
			}
			last2 = f.Time
		}
	}
	on1, err1 := hasAddress(lab.Node("r1"), vip)
	on2, err2 := hasAddress(lab.Node("r2"), vip)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if !on1 || on2 {
		return fmt.Errorf("at the end the VIP is on r1 %v, on r2 %v", on1, on2)
	}
	if res.MasterAdverts == 0 {
		return fmt.Errorf("the host captured no advert from r1")
	}
	return nil
}

// startLoad runs n `yes >/dev/null` (one per core) until stop is called;
// they only burn CPU, in the benchmark's own namespace.
func startLoad(ctx context.Context, n int) (stop func(), err error) {
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	for range n {
		c := exec.CommandContext(ctx, "yes")
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("start the load (yes): %w", err)
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}
