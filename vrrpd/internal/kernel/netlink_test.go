package kernel

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// newLab builds one router, r1, whose eth0 is on a bridge (so CutPort pulls
// its cable) and opens a Netlink on its namespace, closed at cleanup.
func newLab(t *testing.T) (*netlab.Node, *Netlink) {
	t.Helper()
	lab := netlab.New(t, netlab.Topology{
		Bridges: []string{"lan"},
		Nodes: []netlab.NodeSpec{{
			Name: "r1",
			Interfaces: []netlab.Interface{{
				Name: "eth0", Bridge: "lan", MAC: parentMAC.String(), Addrs: []string{parentAddr.String()},
			}},
		}},
	})
	node := lab.Node("r1")
	return node, openAt(t, node)
}

func openAt(t *testing.T, node *netlab.Node) *Netlink {
	t.Helper()
	k, err := Open(filepath.Join("/run/netns", node.Namespace()), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func TestNetlinkScript(t *testing.T) {
	_, k := newLab(t)
	runScript(t, k)
}

func TestNetlinkVRRPInterface_VRB18(t *testing.T) {
	node, k := newLab(t)
	before := sysctls(t, node, "eth0", parentSysctls)
	if err := k.EnsureVMAC(t.Context(), vmac99); err != nil {
		t.Fatal(err)
	}
	l, err := node.Netlink().LinkByName("eth0v99")
	if err != nil {
		t.Fatal(err)
	}
	mv, ok := l.(*netlink.Macvlan)
	if !ok {
		t.Fatalf("eth0v99 is a %s, want a macvlan", l.Type())
	}
	parent, err := node.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if mv.Mode != netlink.MACVLAN_MODE_PRIVATE || mv.HardwareAddr.String() != "00:00:5e:00:01:63" ||
		mv.ParentIndex != parent.Attrs().Index || mv.Alias != "vrrpd:uplink" || mv.Flags&net.FlagUp == 0 {
		t.Errorf("eth0v99: mode %v, MAC %s, parent index %d (eth0 %d), alias %q, flags %v; want private, vMAC, eth0, vrrpd:uplink, up",
			mv.Mode, mv.HardwareAddr, mv.ParentIndex, parent.Attrs().Index, mv.Alias, mv.Flags)
	}
	if err := k.EnsureVMAC(t.Context(), vmac99); err != nil {
		t.Fatal(err)
	}
	again, err := node.Netlink().LinkByName("eth0v99")
	if err != nil {
		t.Fatal(err)
	}
	if again.Attrs().Index != mv.Index {
		t.Errorf("a second EnsureVMAC replaced eth0v99 (index %d, was %d)", again.Attrs().Index, mv.Index)
	}
	vip6 := netip.MustParsePrefix("2001:db8::24/64")
	if err := k.AddVIP(t.Context(), "eth0v99", vip6); err != nil {
		t.Fatal(err)
	}
	addrs, err := node.Netlink().AddrList(mv, netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(addrs, func(a netlink.Addr) bool { return prefix(a.IPNet) == vip6 })
	if i < 0 {
		t.Fatalf("IPv6 VIP %s missing from eth0v99: %v", vip6, addrs)
	}
	if addrs[i].Flags&unix.IFA_F_NODAD == 0 {
		t.Errorf("IPv6 VIP %s flags %#x, want nodad", vip6, addrs[i].Flags)
	}
	if got := sysctls(t, node, "eth0v99", macvlanSysctls); !maps.Equal(got, macvlanSysctls) {
		t.Errorf("eth0v99 sysctls %v, want %v", got, macvlanSysctls)
	}
	if got := sysctls(t, node, "eth0", parentSysctls); !maps.Equal(got, parentSysctls) {
		t.Errorf("eth0 sysctls %v, want %v", got, parentSysctls)
	}
	if err := k.DeleteVMAC(t.Context(), "eth0v99"); err != nil {
		t.Fatal(err)
	}
	if got := sysctls(t, node, "eth0", parentSysctls); !maps.Equal(got, before) {
		t.Errorf("eth0 sysctls after the last VRRP interface went: %v, want the original %v", got, before)
	}
}

func TestNetlinkLeftoversAfterCrash(t *testing.T) {
	node, k := newLab(t)
	vip := netip.MustParsePrefix("172.16.0.24/24")
	if err := k.EnsureVMAC(t.Context(), vmac99); err != nil {
		t.Fatal(err)
	}
	if err := k.AddVIP(t.Context(), "eth0v99", vip); err != nil {
		t.Fatal(err)
	}
	k.Close() // the crashed vrrpd: nothing cleaned up

	restarted := openAt(t, node)
	left, err := restarted.Leftovers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 {
		t.Fatalf("leftovers %v, want eth0v99 alone", left)
	}
	got := left[0]
	if got.Name != "eth0v99" || got.Parent != "eth0" || got.MAC.String() != vmac99.MAC.String() ||
		got.Description != "uplink" || !slices.Contains(got.Addresses, vip) {
		t.Errorf("leftover %+v, want eth0v99 on eth0 with the vMAC, description uplink and %s", got, vip)
	}
	if err := restarted.DeleteVMAC(t.Context(), "eth0v99"); err != nil {
		t.Fatal(err)
	}
	if left, err := restarted.Leftovers(t.Context()); err != nil || len(left) != 0 {
		t.Errorf("leftovers after cleaning: %v, %v; want none", left, err)
	}
}

func TestNetlinkRefusesForeignInterface_VRQ16(t *testing.T) {
	node, k := newLab(t)
	parent, err := node.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	foreign := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: "eth0v7", ParentIndex: parent.Attrs().Index, HardwareAddr: VirtualMAC(7, false)},
		Mode:      netlink.MACVLAN_MODE_BRIDGE,
	}
	if err := node.Netlink().LinkAdd(foreign); err != nil {
		t.Fatal(err)
	}
	checkRefusesForeign(t, k, "eth0v7")
}

func TestNetlinkEvents_VRB30(t *testing.T) {
	node, k := newLab(t)
	checkEvents(t, k, func(running bool) error {
		if running {
			return node.RestorePort("eth0")
		}
		return node.CutPort("eth0")
	})
}

func TestNetlinkInterface_VRB02(t *testing.T) {
	node, k := newLab(t)
	if err := k.AddVIP(t.Context(), "eth0", netip.MustParsePrefix("172.16.0.30/24")); err != nil {
		t.Fatal(err)
	}
	netlab.WaitFor(t, 10*time.Second, func() (bool, string) {
		ifc, err := k.Interface(t.Context(), "eth0")
		if err != nil {
			return false, err.Error()
		}
		ok := ifc.AdminUp && ifc.Running && ifc.MAC.String() == parentMAC.String() &&
			ifc.PrimaryIPv4 == parentAddr.Addr() && ifc.LinkLocalIPv6.IsLinkLocalUnicast()
		return ok, fmt.Sprintf("%+v", ifc)
	})
	if err := node.CutPort("eth0"); err != nil {
		t.Fatal(err)
	}
	netlab.WaitFor(t, 10*time.Second, func() (bool, string) {
		ifc, err := k.Interface(t.Context(), "eth0")
		if err != nil {
			return false, err.Error()
		}
		return ifc.AdminUp && !ifc.Running, fmt.Sprintf("%+v", ifc)
	})
	if _, err := k.Interface(t.Context(), "nope0"); !errors.Is(err, ErrNoInterface) {
		t.Errorf("Interface(nope0): err = %v, want ErrNoInterface", err)
	}
}

func sysctls(t *testing.T, node *netlab.Node, ifname string, keys map[string]string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for key := range keys {
		value, err := node.Sysctl(fmt.Sprintf("net.ipv4.conf.%s.%s", ifname, key))
		if err != nil {
			t.Fatal(err)
		}
		got[key] = value
	}
	return got
}

// TestNetlinkARPAnswersWithVMAC_VRB13 checks what the sysctls are for: a
// host asking for a VIP on the VRRP interface learns the vMAC, not the
// parent's MAC (the parent hears the same broadcast request).
func TestNetlinkARPAnswersWithVMAC_VRB13(t *testing.T) {
	lab := netlab.New(t, netlab.Topology{
		Bridges: []string{"lan"},
		Nodes: []netlab.NodeSpec{
			{Name: "r1", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", MAC: parentMAC.String(), Addrs: []string{parentAddr.String()}}}},
			{Name: "host", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.100/24"}}}},
		},
	})
	k := openAt(t, lab.Node("r1"))
	if err := k.EnsureVMAC(t.Context(), vmac99); err != nil {
		t.Fatal(err)
	}
	vip := netip.MustParsePrefix("172.16.0.24/24")
	if err := k.AddVIP(t.Context(), "eth0v99", vip); err != nil {
		t.Fatal(err)
	}
	host := lab.Node("host")
	host.WaitPing(t, vip.Addr().String(), 10*time.Second)
	neighbours, err := host.Netlink().NeighList(0, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range neighbours {
		if n.IP.Equal(vip.Addr().AsSlice()) {
			if n.HardwareAddr.String() != vmac99.MAC.String() {
				t.Errorf("host resolved %s to %s, want the vMAC %s", vip.Addr(), n.HardwareAddr, vmac99.MAC)
			}
			return
		}
	}
	t.Errorf("host has no neighbour entry for %s: %v", vip.Addr(), neighbours)
}

// TestNetlinkVRRPInterfaceLinkLocal_VRB03: the VRRP interface makes no
// link-local address of its own (it would be the same on every router) and,
// for an IPv6 group, carries the parent's, so adverts can leave it from
// there.
func TestNetlinkVRRPInterfaceLinkLocal_VRB03(t *testing.T) {
	tests := []struct {
		name string
		ll   netip.Addr
	}{
		{"IPv4 group: none", netip.Addr{}},
		{"IPv6 group: the parent's", netip.MustParseAddr("fe80::1:2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node, k := newLab(t)
			v := vmac99
			v.LinkLocal = tt.ll
			if err := k.EnsureVMAC(t.Context(), v); err != nil {
				t.Fatal(err)
			}
			l, err := node.Netlink().LinkByName(v.Name)
			if err != nil {
				t.Fatal(err)
			}
			// Long enough for the kernel to have made an automatic one.
			time.Sleep(200 * time.Millisecond)
			addrs, err := node.Netlink().AddrList(l, netlink.FAMILY_V6)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range addrs {
				got = append(got, a.IP.String())
			}
			var want []string
			if tt.ll.IsValid() {
				want = []string{tt.ll.String()}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s has IPv6 addresses %v, want %v", v.Name, got, want)
			}
		})
	}
}
