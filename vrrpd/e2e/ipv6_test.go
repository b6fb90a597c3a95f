//go:build e2e

package e2e

import (
	"fmt"
	"testing"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

const vip6 = "2001:db8:16::24"

// ipv6Config is a VRRPv3 group for an IPv6 VIP at 100 ms adverts.
func ipv6Config(priority int, mode string) string {
	return fmt.Sprintf(`interfaces {
	ethernet eth0 {
		vrrp {
			vrrp-group 99 {
				version 3
				advertise-interval 0.1
				priority %d
				%s
				virtual-address %s/64
			}
		}
	}
}
`, priority, mode, vip6)
}

// TestVR_B03_B18_IPv6Failover: two vrrpd elect over IPv6 (ff02::12, from
// their link-local addresses) in both MAC modes, and the LAN host reaches
// the IPv6 VIP before and after the master's cable is cut. In RFC 3768 mode
// this needs the peers' adverts read on the macvlan and sent from the
// parent's link-local address, which the macvlan carries too.
func TestVR_B03_B18_IPv6Failover(t *testing.T) {
	bin := binary(t)
	for _, mode := range []string{"", "rfc3768-compatibility"} {
		name := "legacy"
		if mode != "" {
			name = mode
		}
		t.Run(name, func(t *testing.T) {
			netlab.RequirePrivileged(t)
			lab := netlab.New(t, netlab.Topology{
				Bridges: []string{"lan"},
				Nodes: []netlab.NodeSpec{
					{Name: "host", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"2001:db8:16::100/64"}}}},
					{Name: "r1", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"2001:db8:16::2/64"}}}},
					{Name: "r2", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"2001:db8:16::3/64"}}}},
				},
			})
			host := lab.Node("host")
			r1 := startRouterConfig(t, bin, lab.Node("r1"), ipv6Config(150, mode))
			r2 := startRouterConfig(t, bin, lab.Node("r2"), ipv6Config(20, mode))
			r1.waitState(t, vrrpv1.State_STATE_MASTER)
			r2.waitState(t, vrrpv1.State_STATE_BACKUP)
			host.WaitPing(t, vip6, patience)

			if err := r1.node.CutPort("eth0"); err != nil {
				t.Fatal(err)
			}
			r2.waitState(t, vrrpv1.State_STATE_MASTER)
			host.WaitPing(t, vip6, patience)

			if err := r1.node.RestorePort("eth0"); err != nil {
				t.Fatal(err)
			}
			r1.waitState(t, vrrpv1.State_STATE_MASTER)
			r2.waitState(t, vrrpv1.State_STATE_BACKUP)
			host.WaitPing(t, vip6, patience)
		})
	}
}
