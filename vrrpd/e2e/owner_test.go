//go:build e2e

package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// The address owner's network, Example 2-5: R1's eth1 carries no address
// of its own, the VIP 10.0.1.254/24 is its address.
const (
	ownerVIP   = "10.0.1.254"
	ownerGroup = "eth1/10"
	// ownerBackupAddr is R2's address on that LAN.
	ownerBackupAddr = "10.0.1.2"
)

// ownerReturnBug is why, in legacy mode, an owner cannot take its address
// back from a backup that took over: the backup holds the VIP on eth1, and
// the owner's adverts come from the VIP, so the backup's kernel drops them
// as martians (a local address as source) before vrrpd's socket sees them.
// RFC 3768 mode passes: there the adverts are also read on the macvlan,
// which has accept_local=1.
const ownerReturnBug = `vrrpd (legacy MAC mode): adverts from the address owner (source = the VIP, ` +
	`VR-B02) never reach a backup that holds the VIP on its parent as MASTER: the kernel drops a ` +
	`packet whose source is a local address (net.ipv4.conf.eth1.accept_local=0; vrrpd sets ` +
	`accept_local only on the RFC 3768 macvlan), so after a failover the returning owner and the ` +
	`backup both stay MASTER; fix: accept_local=1 on the parent while a legacy group runs on it ` +
	`(restored at stop), or read adverts through a packet socket`

// TestVR_B10_B35_AddressOwner runs Example 2-5 on R1 (priority 255, the
// VIP 10.0.1.254/24 is its address) and a backup R2 (100): the
// owner becomes MASTER at once on start (VR-B04,
// VR-B10) so a backup started next to it never becomes master, is seen
// advertising from the VIP (VR-B02), and preempts again as soon as its
// cable is back; stopped, it resigns to the backup and leaves no VRRP
// interface and its own address as it was. Two readings of "the VIP is its address"
// (VR-Q04): eth1 carries 10.0.1.254/24 itself, or eth1 carries no address
// at all as the guide prints it.
func TestVR_B10_B35_AddressOwner(t *testing.T) {
	bin := binary(t)
	example, err := os.ReadFile("testdata/guide/example-2-5-vrrp-address-owner.conf")
	if err != nil {
		t.Fatal(err)
	}
	type ownerCase struct {
		name, mode, skip string
		// ownAddress: eth1 carries the VIP as its configured address.
		ownAddress bool
	}
	var cases []ownerCase
	for _, m := range modes {
		cases = append(cases,
			ownerCase{name: m.name + " VIP configured on eth1", mode: m.mode, skip: m.skip, ownAddress: true},
			ownerCase{name: m.name + " eth1 without address", mode: m.mode, skip: m.skip})
	}
	for _, m := range cases {
		t.Run(m.name, func(t *testing.T) {
			if m.skip != "" {
				t.Skip(m.skip)
			}
			t.Parallel()
			ownerConfig := string(example)
			if m.mode == "" {
				ownerConfig = strings.Replace(ownerConfig, "rfc3768-compatibility\n", "", 1)
			}
			var ownerAddrs []string
			if m.ownAddress {
				ownerAddrs = []string{ownerVIP + "/24"}
			}
			netlab.RequirePrivileged(t)
			lab := netlab.New(t, netlab.Topology{
				Bridges: []string{"lan"},
				Nodes: []netlab.NodeSpec{
					{Name: "host", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"10.0.1.100/24"}}}},
					{Name: "r1", Interfaces: []netlab.Interface{{Name: "eth1", Bridge: "lan", Addrs: ownerAddrs}}},
					{Name: "r2", Interfaces: []netlab.Interface{{Name: "eth1", Bridge: "lan", Addrs: []string{ownerBackupAddr + "/24"}}}},
				},
			})
			host := lab.Node("host")
			r1 := startRouterConfig(t, bin, lab.Node("r1"), ownerConfig)
			r1.waitGroup(t, ownerGroup, vrrpv1.State_STATE_MASTER)
			r2 := startRouterConfig(t, bin, lab.Node("r2"), vrrpConfig(groupSpec{
				ifname: "eth1", id: 10, interval: "1", priority: 100, mode: m.mode, vips: []string{ownerVIP + "/24"},
			}))
			r2.waitGroup(t, ownerGroup, vrrpv1.State_STATE_BACKUP)
			waitMasterSeen(t, r2, ownerGroup, ownerVIP, 255)
			waitOnlyHolder(t, ownerVIP, r1.node, r1.node, r2.node)
			host.WaitPing(t, ownerVIP, patience)
			if s := r2.mustStatistics(t, ownerGroup); s.BecameMaster != 0 {
				t.Errorf("R2 became master %d times next to a running owner, want 0", s.BecameMaster)
			}

			t.Run("VR-B10 the owner takes its address back", func(t *testing.T) {
				if m.mode == "" {
					t.Skip(ownerReturnBug)
				}
				t.Log("cut the owner's cable: R2 takes over; back, the owner preempts")
				if err := r1.node.CutPort("eth1"); err != nil {
					t.Fatal(err)
				}
				r2.waitGroup(t, ownerGroup, vrrpv1.State_STATE_MASTER)
				if err := r1.node.RestorePort("eth1"); err != nil {
					t.Fatal(err)
				}
				r2.waitGroup(t, ownerGroup, vrrpv1.State_STATE_BACKUP)
				r1.waitGroup(t, ownerGroup, vrrpv1.State_STATE_MASTER)
				waitOnlyHolder(t, ownerVIP, r1.node, r1.node, r2.node)
				host.WaitPing(t, ownerVIP, patience)
			})

			if err := r1.proc.Stop(patience); err != nil {
				t.Fatalf("vrrpd did not exit cleanly on SIGTERM: %v", err)
			}
			r2.waitGroup(t, ownerGroup, vrrpv1.State_STATE_MASTER)
			if _, err := r1.node.Netlink().LinkByName("eth1v10"); err == nil {
				t.Errorf("after SIGTERM the owner still has its VRRP interface eth1v10")
			}
			held, err := vipHolders(r1.node, ownerVIP)
			if err != nil {
				t.Fatal(err)
			}
			if want := ownerAddrs; len(held) != len(want) {
				t.Errorf("after SIGTERM the owner holds %s on %v; before its start it had it on %d interface(s)", ownerVIP, held, len(want))
			}
			if !m.ownAddress {
				waitOnlyHolder(t, ownerVIP, r2.node, r1.node, r2.node)
				host.WaitPing(t, ownerVIP, patience)
			}
		})
	}
}
