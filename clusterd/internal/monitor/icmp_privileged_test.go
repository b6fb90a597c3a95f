package monitor

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// TestPrivilegedCL_B09_B10_TwoMonitorsOneCut pings two monitor hosts from
// node r, whose route to the first prefers the cluster IP as source: the
// requests must still leave from r's own address (CL-B09). Then the second
// monitor's link is cut, and it alone goes Unreachable (CL-B10).
func TestPrivilegedCL_B09_B10_TwoMonitorsOneCut(t *testing.T) {
	netlab.RequirePrivileged(t)
	lab := netlab.New(t, netlab.Topology{
		Bridges: []string{"lan"},
		Nodes: []netlab.NodeSpec{
			{Name: "r", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"10.6.0.1/24"}}}},
			{Name: "m1", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"10.6.0.55/24"}}}},
			{Name: "m2", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"10.6.0.56/24"}}}},
		},
	})
	r, m1, m2 := lab.Node("r"), lab.Node("m1"), lab.Node("m2")
	own, clusterIP := netip.MustParseAddr("10.6.0.1"), netip.MustParseAddr("10.6.0.100")
	mon1, mon2 := netip.MustParseAddr("10.6.0.55"), netip.MustParseAddr("10.6.0.56")

	// The cluster IP, and a route that makes it the kernel's source choice.
	eth0, err := r.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("10.6.0.100/24")
	addr.Label = "eth0:0"
	if err := r.Netlink().AddrAdd(eth0, addr); err != nil {
		t.Fatal(err)
	}
	if err := r.Netlink().RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: &net.IPNet{IP: mon1.AsSlice(), Mask: net.CIDRMask(32, 32)},
		Src: clusterIP.AsSlice(), Scope: netlink.SCOPE_LINK}); err != nil {
		t.Fatal(err)
	}

	capture, err := m1.Capture("eth0", func(f []byte) bool {
		return len(f) >= 35 && binary.BigEndian.Uint16(f[12:14]) == 0x0800 && f[23] == 1 && f[34] == 8 // ICMP echo request
	})
	if err != nil {
		t.Fatal(err)
	}
	// Without the exclusion the kernel's choice, the cluster IP, is used:
	// the route above does what the test needs.
	nsPath := filepath.Join("/run/netns", r.Namespace())
	plain, err := OpenICMP(nsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if src, err := plain.Source(mon1); err != nil || src != clusterIP {
		t.Errorf("without exclusions Source(%s) = %v, %v; want the route's %s", mon1, src, err, clusterIP)
	}
	plain.Close()

	prober, err := OpenICMP(nsPath, func() []netip.Addr { return []netip.Addr{clusterIP} })
	if err != nil {
		t.Fatal(err)
	}
	if src, err := prober.Source(mon1); err != nil || src != own {
		t.Errorf("Source(%s) = %v, %v; want %s, not the cluster IP", mon1, src, err, own)
	}
	p, err := New(prober, Config{Monitors: []netip.Addr{mon1, mon2}, Interval: 100 * time.Millisecond, DeadInterval: 600 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()

	waitStatus := func(want string) {
		t.Helper()
		netlab.WaitFor(t, 20*time.Second, func() (bool, string) {
			got := render(p.Status())
			return got == want, fmt.Sprintf("status %q, want %q", got, want)
		})
	}
	waitStatus("10.6.0.55=Reachable 10.6.0.56=Reachable")
	frames := capture.Frames()
	if len(frames) == 0 {
		t.Fatal("m1 saw no echo request")
	}
	for _, f := range frames {
		if src, _ := netip.AddrFromSlice(f.Data[26:30]); src != own {
			t.Errorf("echo request to m1 from %s, want %s (CL-B09)", src, own)
		}
	}

	m2eth0, err := m2.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Netlink().LinkSetDown(m2eth0); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	waitStatus("10.6.0.55=Reachable 10.6.0.56=Unreachable")
	t.Logf("monitor 2 unreachable %v after the cut (dead interval 600 ms)", time.Since(cut).Round(time.Millisecond))

	if err := m2.Netlink().LinkSetUp(m2eth0); err != nil {
		t.Fatal(err)
	}
	waitStatus("10.6.0.55=Reachable 10.6.0.56=Reachable")
	if st := p.Status(); st.Reachable() != 2 || slices.ContainsFunc(st.Monitors, func(m MonitorStatus) bool { return m.LastReply.IsZero() }) {
		t.Errorf("status %+v", st)
	}
}
