//go:build e2e

package e2e

import (
	"bytes"
	encbin "encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// trConfig is one RFC 3768 group on r1's eth0, fast VRRPv3 adverts (so a
// capture of a few takes a fraction of a second), with interfaceBlock as
// its `interface { }` contents.
func trConfig(interfaceBlock string) string {
	return fmt.Sprintf(`interfaces {
	ethernet eth0 {
		vrrp {
			vrrp-group 99 {
				version 3
				advertise-interval 0.1
				priority 150
				rfc3768-compatibility
				interface {
					%s
				}
				virtual-address %s
			}
		}
	}
}
`, interfaceBlock, vipCIDR)
}

// trLab is a LAN with a host and r1, whose mon0 is a cable to the node ids
// (an IDS port to mirror to).
func trLab(t *testing.T) *netlab.Lab {
	netlab.RequirePrivileged(t)
	return netlab.New(t, netlab.Topology{
		Bridges: []string{"lan"},
		Nodes: []netlab.NodeSpec{
			{Name: "host", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.100/24"}}}},
			{Name: "r1", Interfaces: []netlab.Interface{
				{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.2/24"}},
				{Name: "mon0", Peer: netlab.Endpoint{Node: "ids", Interface: "eth0"}},
			}},
			{Name: "ids", Interfaces: []netlab.Interface{{Name: "eth0", Peer: netlab.Endpoint{Node: "r1", Interface: "mon0"}}}},
		},
	})
}

// trMonitor runs `vrrpd monitor interfaces vrrp --count N args...` in r1's
// namespace, where the daemon runs and tcpdump must capture.
func trMonitor(t *testing.T, r *router, count int, args ...string) (string, error) {
	t.Helper()
	full := append([]string{"--run-dir", r.runDir, "monitor", "interfaces", "vrrp", "--count", fmt.Sprint(count)}, args...)
	return r.node.Run(t.Context(), r.bin, full...)
}

// TestVR_O10_O11_MonitorInterfaceTraffic captures the master's own adverts
// on its VRRP interface: the summary, the detail (with the vMAC), a saved
// pcap file, the flow rates, and the errors for an interface that is not a
// VRRP interface.
func TestVR_O10_O11_MonitorInterfaceTraffic(t *testing.T) {
	bin := binary(t)
	lab := trLab(t)
	r1 := startRouterConfig(t, bin, lab.Node("r1"), trConfig(""))
	r1.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)

	t.Run("summary", func(t *testing.T) {
		out, err := trMonitor(t, r1, 3, vmacIf, "traffic", "filter", "vrrp")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("monitor interfaces vrrp eth0v99 traffic filter vrrp:\n%s", out)
		if !strings.HasPrefix(out, "Capturing traffic on eth0v99 ...\n") {
			t.Errorf("output does not start with the guide's line:\n%s", out)
		}
		if n := strings.Count(out, "VRRPv3, Advertisement, vrid 99, prio 150"); n != 3 {
			t.Errorf("%d adverts captured, want 3:\n%s", n, out)
		}
	})
	t.Run("detail shows the vMAC", func(t *testing.T) {
		out, err := trMonitor(t, r1, 1, vmacIf, "traffic", "detail", "filter", "vrrp")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "00:00:5e:00:01:63 > 01:00:5e:00:00:12") || !strings.Contains(out, "vrid 99") {
			t.Errorf("detail lacks the vMAC source or the advert:\n%s", out)
		}
	})
	t.Run("save", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "adverts.pcap")
		if out, err := trMonitor(t, r1, 2, vmacIf, "traffic", "save", file, "filter", "vrrp"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// A pcap file header, then two records.
		if len(data) < 24 || encbin.LittleEndian.Uint32(data) != 0xa1b2c3d4 {
			t.Errorf("%s is not a pcap file (%d bytes)", file, len(data))
		}
	})
	t.Run("flow", func(t *testing.T) {
		out, err := trMonitor(t, r1, 1, vmacIf, "flow")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("monitor interfaces vrrp eth0v99 flow:\n%s", out)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		// Ten adverts a second leave the VRRP interface.
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "Flow statistics on eth0v99") || strings.Fields(lines[2])[3] == "0.0" {
			t.Errorf("flow output:\n%s\nwant a title, a header and one line with adverts going out", out)
		}
	})
	t.Run("not a VRRP interface", func(t *testing.T) {
		for _, args := range [][]string{{"eth0", "traffic"}, {"eth0", "flow"}} {
			out, err := trMonitor(t, r1, 1, args...)
			if err == nil || !strings.Contains(out, `no VRRP interface "eth0"`) || strings.Contains(out, "Capturing") {
				t.Errorf("%v: err = %v, output:\n%s\nwant the daemon's refusal and no capture", args, err, out)
			}
		}
	})
}

// trEchoRequestTo matches an IPv4 ICMP echo request to dst.
func trEchoRequestTo(dst netip.Addr) func([]byte) bool {
	return func(frame []byte) bool {
		if len(frame) < 35 || encbin.BigEndian.Uint16(frame[12:14]) != 0x0800 {
			return false
		}
		ip := frame[14:]
		ihl := int(ip[0]&0x0f) * 4
		return ip[9] == 1 && bytes.Equal(ip[16:20], dst.AsSlice()) && len(ip) > ihl && ip[ihl] == 8
	}
}

// TestVR_C20_MirrorFollowsTheConfiguration: `interface { mirror mon0 }`
// copies what reaches the VIP to the IDS port; a reload that removes it
// stops the copy without disturbing the group.
func TestVR_C20_MirrorFollowsTheConfiguration(t *testing.T) {
	bin := binary(t)
	lab := trLab(t)
	r1 := startRouterConfig(t, bin, lab.Node("r1"), trConfig("mirror mon0"))
	r1.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)
	vipAddr := netip.MustParseAddr(vip)
	mirrored, err := lab.Node("ids").Capture("eth0", trEchoRequestTo(vipAddr))
	if err != nil {
		t.Fatal(err)
	}
	host := lab.Node("host")
	host.WaitPing(t, vip, patience)
	mirrored.WaitPacket(t, patience, trEchoRequestTo(vipAddr))

	before, err := r1.group(t.Context(), "eth0/99")
	if err != nil {
		t.Fatal(err)
	}
	r1.writeConfig(t, trConfig(""))
	if out, code := r1.cli(t.Context(), "reload"); code != 0 {
		t.Fatalf("reload exited %d: %s", code, out)
	}
	// reload returns once applied: from now on nothing is mirrored (by
	// kernel timestamp, so a frame of the first pings read late does not
	// count).
	removed := time.Now()
	host.WaitPing(t, vip, patience)
	for _, f := range mirrored.Frames() {
		if f.Time.After(removed) {
			t.Errorf("echo request mirrored at %s, after the reload removed the mirror at %s", f.Time.Format(time.StampMicro), removed.Format(time.StampMicro))
		}
	}
	after, err := r1.group(t.Context(), "eth0/99")
	if err != nil {
		t.Fatal(err)
	}
	if after.State != vrrpv1.State_STATE_MASTER || !after.GetLastTransition().AsTime().Equal(before.GetLastTransition().AsTime()) {
		t.Errorf("removing the mirror disturbed the group: %v then %v", before, after)
	}
}
