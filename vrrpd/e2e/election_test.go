//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// routerAddr is router i's (0-based) primary address on the LAN: r1 is
// 172.16.0.2, r2 .3, r3 .4, so a later router has the higher address.
func routerAddr(i int) string { return fmt.Sprintf("172.16.0.%d", i+2) }

// newLabN is newLab's LAN (host 172.16.0.100) with n routers r1..rn.
func newLabN(t *testing.T, n int) *netlab.Lab {
	netlab.RequirePrivileged(t)
	nodes := []netlab.NodeSpec{
		{Name: "host", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.100/24"}}}},
	}
	for i := range n {
		nodes = append(nodes, netlab.NodeSpec{
			Name:       fmt.Sprintf("r%d", i+1),
			Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{routerAddr(i) + "/24"}}},
		})
	}
	return netlab.New(t, netlab.Topology{Bridges: []string{"lan"}, Nodes: nodes})
}

// TestVR_B04_B06_Election: two or three routers on one LAN elect the
// highest priority, and on a priority tie the highest primary address
// (VR-B06); the others stay BACKUP and know who the master is; only the
// master holds the VIP and the LAN host reaches it (VR-B13, VR-B15).
//
// The address breaks a tie only between two masters: a BACKUP accepts a
// master of its own priority whatever its address (RFC 3768 §6.4.2), so
// routers started together on a tie keep whichever timer fired first. The
// tie cases therefore start every router alone on its cut cable, each its
// own master (bridge ports isolated: link up, no traffic between routers),
// and lets them meet.
func TestVR_B04_B06_Election(t *testing.T) {
	bin := binary(t)
	tests := []struct {
		name string
		// priorities of r1, r2, r3...: the addresses rise in that order.
		priorities []int
		master     int
		// guide is true for a case on the guide's v2 timers; the others
		// use fast VRRPv3 timers.
		guide bool
		// split starts the routers unable to hear each other, so each is
		// master when they meet.
		split bool
	}{
		{name: "two routers by priority", priorities: []int{150, 20}, master: 0, guide: true},
		{name: "two routers tie by address", priorities: []int{100, 100}, master: 1, guide: true, split: true},
		{name: "three routers by priority", priorities: []int{100, 200, 150}, master: 1},
		{name: "three routers masters meet", priorities: []int{100, 200, 150}, master: 1, split: true},
		{name: "three routers tie by address", priorities: []int{100, 100, 100}, master: 2, split: true},
		{name: "three routers tie at the top", priorities: []int{120, 120, 50}, master: 1, split: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lab := newLabN(t, len(tt.priorities))
			host := lab.Node("host")
			var routers []*router
			var nodes []*netlab.Node
			for i, p := range tt.priorities {
				g := groupSpec{ifname: "eth0", id: 99, priority: p, vips: []string{vipCIDR}}
				if !tt.guide {
					g = g.fast()
				}
				node := lab.Node(fmt.Sprintf("r%d", i+1))
				nodes = append(nodes, node)
				if tt.split {
					isolatePort(t, lab, node.Name(), "eth0", true)
				}
				routers = append(routers, startRouterConfig(t, bin, node, vrrpConfig(g)))
			}
			if tt.split {
				for _, r := range routers {
					r.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)
				}
				for _, n := range nodes {
					isolatePort(t, lab, n.Name(), "eth0", false)
				}
			}
			master := routers[tt.master]
			master.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)
			for i, r := range routers {
				if i == tt.master {
					continue
				}
				r.waitGroup(t, "eth0/99", vrrpv1.State_STATE_BACKUP)
				waitMasterSeen(t, r, "eth0/99", routerAddr(tt.master), uint32(tt.priorities[tt.master]))
			}
			waitOnlyHolder(t, vip, master.node, nodes...)
			host.WaitPing(t, vip, patience)
			waitNeighbour(t, host, vip, linkMAC(t, master.node, "eth0"))
		})
	}
}

// isolatePort sets the bridge port leading to node's ifname isolated or
// not: isolated ports keep their link but reach only ports that are not
// isolated (here the host's), so routers on isolated ports cannot hear
// each other.
func isolatePort(t *testing.T, lab *netlab.Lab, node, ifname string, on bool) {
	t.Helper()
	ns, err := netns.GetFromName(lab.SwitchNamespace())
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	port, err := h.LinkByName(node + "-" + ifname)
	if err == nil {
		err = h.LinkSetIsolated(port, on)
	}
	if err != nil {
		t.Fatalf("set bridge port of %s:%s isolated=%v: %v", node, ifname, on, err)
	}
}

// waitMasterSeen waits until backup r's group key names addr with
// priority as the master (Master router / Master priority of show vrrp
// detail).
func waitMasterSeen(t *testing.T, r *router, key, addr string, priority uint32) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		g, err := r.group(t.Context(), key)
		if err != nil {
			return false, err.Error()
		}
		m := g.GetMaster()
		return m.GetAddress() == addr && m.GetPriority() == priority,
			fmt.Sprintf("%s sees master %s priority %d", r.node.Name(), m.GetAddress(), m.GetPriority())
	})
}

// linkMAC is the hardware address of the node's interface.
func linkMAC(t *testing.T, node *netlab.Node, ifname string) string {
	t.Helper()
	l, err := node.Netlink().LinkByName(ifname)
	if err != nil {
		t.Fatalf("%s: %v", node.Name(), err)
	}
	return l.Attrs().HardwareAddr.String()
}

// neighbour is the MAC the node's ARP cache maps addr to, "" if none.
func neighbour(node *netlab.Node, addr string) (string, error) {
	neighs, err := node.Netlink().NeighList(0, netlink.FAMILY_V4)
	if err != nil {
		return "", err
	}
	ip := net.ParseIP(addr)
	for _, n := range neighs {
		if n.IP.Equal(ip) && n.HardwareAddr != nil && n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) == 0 {
			return n.HardwareAddr.String(), nil
		}
	}
	return "", nil
}

// waitNeighbour waits until the node's ARP cache maps addr to mac.
func waitNeighbour(t *testing.T, node *netlab.Node, addr, mac string) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		got, err := neighbour(node, addr)
		if err != nil {
			return false, err.Error()
		}
		return got == mac, fmt.Sprintf("%s's ARP entry for %s is %q, want %s", node.Name(), addr, got, mac)
	})
}
