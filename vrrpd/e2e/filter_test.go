//go:build e2e

package e2e

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// TestVR_B15_BackupDropsTrafficForTheVIP: a LAN host whose ARP entry for
// the VIP still names the backup (stale) must not reach the VIP through
// it, although the backup forwards IP: a backup accepts nothing addressed
// to the virtual router. After vrrpd stops, its rules are gone.
func TestVR_B15_BackupDropsTrafficForTheVIP(t *testing.T) {
	bin := binary(t)
	netlab.RequirePrivileged(t)
	forwarding := map[string]string{"net.ipv4.ip_forward": "1"}
	lab := netlab.New(t, netlab.Topology{
		Bridges: []string{"lan"},
		Nodes: []netlab.NodeSpec{
			{Name: "host", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.100/24"}}}},
			{Name: "r1", Sysctls: forwarding, Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.2/24"}}}},
			{Name: "r2", Sysctls: forwarding, Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.3/24"}}}},
		},
	})
	host := lab.Node("host")
	r1 := startRouter(t, bin, lab.Node("r1"), 150, "")
	r2 := startRouter(t, bin, lab.Node("r2"), 20, "")
	r1.waitState(t, vrrpv1.State_STATE_MASTER)
	r2.waitState(t, vrrpv1.State_STATE_BACKUP)
	host.WaitPing(t, vip, patience)

	backupMAC, err := net.ParseMAC(linkMAC(t, r2.node, "eth0"))
	if err != nil {
		t.Fatal(err)
	}
	hostEth0, err := host.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	stale := &netlink.Neigh{LinkIndex: hostEth0.Attrs().Index, IP: net.ParseIP(vip), HardwareAddr: backupMAC, State: netlink.NUD_PERMANENT}
	if err := host.Netlink().NeighSet(stale); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err := host.Ping(ctx, vip)
		cancel()
		if err == nil {
			t.Fatalf("ping %d to the VIP through the backup was answered: the backup forwarded it", i)
		}
	}
	rules, err := r2.node.Run(t.Context(), "iptables", "-w", "-t", "raw", "-L", "VRRPD", "-v", "-n", "-x")
	if err != nil {
		t.Fatalf("list the backup's state filter: %v: %s", err, rules)
	}
	if !strings.Contains(rules, vip) {
		t.Errorf("the backup's chain VRRPD has no rule for %s:\n%s", vip, rules)
	}

	// The same stale entry reaches the VIP once the backup is master.
	if err := r1.proc.Stop(patience); err != nil {
		t.Fatal(err)
	}
	r2.waitState(t, vrrpv1.State_STATE_MASTER)
	host.WaitPing(t, vip, patience)

	if err := r2.proc.Stop(patience); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*router{r1, r2} {
		if out, err := r.node.Run(t.Context(), "iptables", "-w", "-t", "raw", "-S"); err != nil || strings.Contains(out, "VRRPD") {
			t.Errorf("after stop %s's raw table still has vrrpd's rules (err %v):\n%s", r.node.Name(), err, out)
		}
	}
}
