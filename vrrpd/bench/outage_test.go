//go:build e2e

package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/benchdoc"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// failure is how the master goes away in an outage trial.
type failure struct {
	Name string
	// Bound names the interval the outage is compared with.
	Bound string
	// inflict makes r1 (master, daemon p) fail.
	inflict func(r1 *netlab.Node, p *netlab.Process) error
}

var failures = []failure{
	{
		// A crash of the node: SIGKILL is not one (FIELD-NOTES), the
		// kernel keeps answering for the VIPs.
		Name: "links cut (crash)", Bound: "Master_Down",
		inflict: func(r1 *netlab.Node, _ *netlab.Process) error { return r1.CutPort("eth0") },
	},
	{
		// A killed daemon leaves its VIPs; cutting the links too is the
		// node dying right after its daemon.
		Name: "SIGKILL, then cut", Bound: "Master_Down",
		inflict: func(r1 *netlab.Node, p *netlab.Process) error {
			if err := killTree(p); err != nil {
				return err
			}
			return r1.CutPort("eth0")
		},
	},
	{
		// SIGTERM: the master resigns with a priority-0 advert, the backup
		// takes over after its skew time (VR-B12).
		Name: "clean stop (SIGTERM)", Bound: "Skew_Time",
		inflict: func(_ *netlab.Node, p *netlab.Process) error { return p.Signal(syscall.SIGTERM) },
	},
}

// BenchmarkOutage measures, for each daemon, timing and failure, the
// longest gap in the LAN host's replies from the VIP across a failover
// (issue 3, Benchmarks). Trials of vrrpd and keepalived alternate so that
// drift of the machine hits both alike.
func BenchmarkOutage(b *testing.B) {
	netlab.RequirePrivileged(b)
	impls := implementations(b)
	trials := benchdoc.EnvInt(b, "HASUITE_BENCH_TRIALS", 5)
	cases := slices.Clone(timings)
	if os.Getenv("HASUITE_BENCH_VMAC") == "1" {
		for _, tm := range timings {
			cases = append(cases, tm.withVMAC())
		}
	}
	for _, tm := range cases {
		for _, f := range failures {
			results := map[string]*outageResult{}
			for _, impl := range impls {
				results[impl.Name] = &outageResult{Daemon: impl.Name, Timing: tm, Failure: f.Name, Bound: f.Bound}
			}
			for i := range trials {
				for _, impl := range impls {
					r := results[impl.Name]
					m, err := outageTrial(b.Context(), b, impl, tm, f)
					if err != nil {
						b.Logf("%s %s %s trial %d: %v", impl.Name, tm.Name, f.Name, i+1, err)
						r.Errors = append(r.Errors, err.Error())
						continue
					}
					r.Samples = append(r.Samples, m.outage)
					r.FromAdvert = append(r.FromAdvert, m.fromAdvert)
					r.Claimed = append(r.Claimed, m.claimed)
				}
			}
			for _, impl := range impls {
				r := results[impl.Name]
				b.Logf("%-10s %-10s %-22s %s", impl.Name, tm.Name, f.Name, r.summary())
				report.addOutage(*r)
			}
		}
	}
}

// measured is one outage trial's figures.
type measured struct {
	// outage is the pinger's longest gap between replies: what users see.
	outage time.Duration
	// fromAdvert is from the master's last advert before the failure (its
	// priority-0 advert on a clean stop) to the first reply from the new master,
	// both as captured on the host: the figure free of the failure's phase,
	// to compare with Master_Down (Skew_Time).
	fromAdvert time.Duration
	// claimed is from the same advert to the new master's first advert.
	claimed time.Duration
}

// outageTrial builds a fresh lab (a killed daemon leaves VIPs behind, so
// nothing carries over), elects r1, and measures what the host sees when
// r1 fails at a random phase of the advert interval.
func outageTrial(ctx context.Context, b *testing.B, impl implementation, tm timing, f failure) (measured, error) {
	log := &trialLog{}
	lab, err := newLab(ctx, log)
	if err != nil {
		return measured{}, err
	}
	defer lab.Close()
	m, err := runOutage(ctx, b, lab, impl, tm, f)
	if err != nil {
		return measured{}, fmt.Errorf("%w\nlast lab log lines:\n%s", err, log.tail(20))
	}
	return m, nil
}

func runOutage(ctx context.Context, b *testing.B, lab *netlab.Lab, impl implementation, tm timing, f failure) (measured, error) {
	host, r1, r2 := lab.Node("host"), lab.Node("r1"), lab.Node("r2")
	dir := b.TempDir()
	procs := map[string]*netlab.Process{}
	for _, r := range []struct {
		node     *netlab.Node
		priority int
	}{{r1, masterPriority}, {r2, backupPriority}} {
		rdir := filepath.Join(dir, r.node.Name())
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return measured{}, err
		}
		p, err := impl.start(ctx, r.node, rdir, tm, r.priority, singleGroup())
		if err != nil {
			return measured{}, err
		}
		procs[r.node.Name()] = p
	}
	err := netlab.Poll(ctx, patience, func() (bool, string) {
		for name, p := range procs {
			if p.Exited() {
				return false, name + " exited"
			}
		}
		on1, err1 := hasAddress(r1, vip)
		on2, err2 := hasAddress(r2, vip)
		if err1 != nil || err2 != nil {
			return false, fmt.Sprint(err1, err2)
		}
		if !on1 || on2 {
			return false, fmt.Sprintf("VIP on r1 %v, on r2 %v", on1, on2)
		}
		if err := host.Ping(ctx, vip); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	if err != nil {
		return measured{}, fmt.Errorf("r1 never became the only master: %w", err)
	}
	capt, err := host.Capture("eth0", func(frame []byte) bool {
		_, isAdvert := parseAdvert(frame)
		return isAdvert || isReplyFromVIP(frame)
	})
	if err != nil {
		return measured{}, err
	}
	defer capt.Stop()
	// The backup has heard the master by now; a few more adverts settle it
	// (and the capture holds at least one).
	time.Sleep(2*tm.Interval + 50*time.Millisecond)

	pinger, err := host.StartPinger(vip, pingInterval)
	if err != nil {
		return measured{}, err
	}
	defer pinger.Stop()
	if err := netlab.Poll(ctx, patience, func() (bool, string) {
		s := pinger.Stats()
		return s.Received >= 20, s.String()
	}); err != nil {
		return measured{}, fmt.Errorf("the VIP does not answer a steady ping: %w", err)
	}

	// A random phase of the advert interval, or every trial would measure
	// the same point of the master-down timer (FIELD-NOTES).
	time.Sleep(rand.N(tm.Interval))
	if err := f.inflict(r1, procs["r1"]); err != nil {
		return measured{}, err
	}
	// Until the kill has completed and the port is cut, r1's kernel may
	// still answer: wait for r2 to hold the VIP, then for its replies.
	if err := netlab.Poll(ctx, tm.MasterDown()+10*time.Second, func() (bool, string) {
		on2, err := hasAddress(r2, vip)
		return on2 && err == nil, fmt.Sprintf("r2 holds the VIP: %v (%v)", on2, err)
	}); err != nil {
		return measured{}, fmt.Errorf("r2 never took over after %s: %w", f.Name, err)
	}
	before := pinger.Stats().Received
	if err := netlab.Poll(ctx, 10*time.Second, func() (bool, string) {
		s := pinger.Stats()
		return s.Received >= before+10, s.String()
	}); err != nil {
		return measured{}, fmt.Errorf("the VIP never answered again after %s: %w", f.Name, err)
	}
	stats := pinger.Stop()
	if err := capt.Stop(); err != nil {
		return measured{}, err
	}
	link, err := r2.Netlink().LinkByName("eth0")
	if err != nil {
		return measured{}, err
	}
	fromAdvert, claimed, err := sinceLastAdvert(capt.Frames(), link.Attrs().HardwareAddr)
	if err != nil {
		return measured{}, err
	}
	return measured{outage: stats.LongestGap, fromAdvert: fromAdvert, claimed: claimed}, nil
}

// sinceLastAdvert is from r1's last advert the host heard, or its first
// priority-0 advert, to the first echo reply from the new master (from its
// MAC newMaster, or after its first advert): the figure free of the
// failure's phase.
// claimed is from the same advert to the new master's first advert: how
// much of the figure is detection, the rest being the takeover (VIPs,
// gratuitous ARP) and the next ping.
func sinceLastAdvert(frames []netlab.Frame, newMaster net.HardwareAddr) (recovery, claimed time.Duration, err error) {
	var lastAdvert, resigned, recovered, takeover time.Time
	for _, f := range frames {
		if a, ok := parseAdvert(f.Data); ok {
			switch {
			case a.src == r2Addr:
				if takeover.IsZero() {
					takeover = f.Time
				}
			case a.src != r1Addr:
			case a.priority == 0 && resigned.IsZero():
				resigned = f.Time
			case a.priority != 0:
				// The last one the host hears: a cut or a kill ends them.
				lastAdvert = f.Time
			}
			continue
		}
		// The new master's reply: its own MAC in legacy mode; in RFC 3768
		// mode both share the virtual MAC, and r1 answers no more once r2
		// advertises (cut off, or resigned).
		if recovered.IsZero() && (bytes.Equal(f.Data[6:12], newMaster) || !takeover.IsZero()) {
			recovered = f.Time
		}
	}
	from := lastAdvert
	if !resigned.IsZero() {
		from = resigned
	}
	if from.IsZero() || recovered.IsZero() || takeover.IsZero() {
		return 0, 0, fmt.Errorf("the host's capture holds no advert from r1 (%v), no advert from r2 (%v) or no reply from r2 (%v)",
			from, takeover, recovered)
	}
	return recovered.Sub(from), takeover.Sub(from), nil
}

// isReplyFromVIP matches an ICMP echo reply from the VIP in an Ethernet
// frame.
func isReplyFromVIP(frame []byte) bool {
	const eth = 14
	if len(frame) < eth+20 || binary.BigEndian.Uint16(frame[12:14]) != 0x0800 || frame[eth+9] != 1 {
		return false
	}
	ihl := int(frame[eth]&0x0f) * 4
	src, _ := netip.AddrFromSlice(frame[eth+12 : eth+16])
	return len(frame) > eth+ihl && frame[eth+ihl] == 0 && src == vipAddr
}

var vipAddr = netip.MustParseAddr(vip)
