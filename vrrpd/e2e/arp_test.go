//go:build e2e

package e2e

import (
	"testing"
	"time"

	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// vmac is group 99's virtual MAC (VR-B18).
const vmac = "00:00:5e:00:01:63"

// TestVR_B14_B18_HostARPEntryAcrossFailover: what the LAN host's ARP cache
// says about the VIP when the master's cable is cut. In RFC 3768 mode the
// entry is the virtual MAC before and after, and the host keeps reaching
// the VIP without relearning anything (VR-B18). In legacy mode the entry
// is the master's own MAC, and the new master's gratuitous ARP rewrites it
// to its MAC while the host sends nothing (VR-B14).
func TestVR_B14_B18_HostARPEntryAcrossFailover(t *testing.T) {
	bin := binary(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			if m.skip != "" {
				t.Skip(m.skip)
			}
			t.Parallel()
			lab := newLab(t)
			host := lab.Node("host")
			r1, r2 := guidePair(t, bin, lab, m.mode)
			before, after := linkMAC(t, r1.node, "eth0"), linkMAC(t, r2.node, "eth0")
			if m.mode != "" {
				before, after = vmac, vmac
			}
			waitNeighbour(t, host, vip, before)

			if m.mode == "" {
				t.Log("legacy: cut R1's cable; the host stays silent, only R2's gratuitous ARP can move its entry")
				if err := r1.node.CutPort("eth0"); err != nil {
					t.Fatal(err)
				}
				r2.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)
				waitNeighbour(t, host, vip, after)
				host.WaitPing(t, vip, patience)
				return
			}

			pinger, err := host.StartPinger(vip, 20*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			t.Log("RFC 3768: cut R1's cable while the host pings the VIP")
			if err := r1.node.CutPort("eth0"); err != nil {
				t.Fatal(err)
			}
			r2.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)
			host.WaitPing(t, vip, patience)
			stats := pinger.Stop()
			t.Logf("pings across the failover: %v", stats)
			if got, err := neighbour(host, vip); err != nil || got != after {
				t.Errorf("host's ARP entry for %s after failover: %q (%v), want the virtual MAC %s", vip, got, err, after)
			}
		})
	}
}
