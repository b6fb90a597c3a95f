//go:build e2e

package e2e

import (
	"testing"
	"time"

	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// TestVR_B08_B09_PreemptionOfAReturningRouter: R1 (150) is master, its link
// goes down (FAULT) and R2 (20) takes over; when R1's link comes back it is
// BACKUP and, with preempt true, takes over again (VR-B08) — only after
// preempt-delay if set (VR-B09) — and with preempt false stays BACKUP
// under the lower-priority master. Fast VRRPv3 timers: Master_Down is
// about 1.7 s, so "stays BACKUP for 4 s" spans two of them.
func TestVR_B08_B09_PreemptionOfAReturningRouter(t *testing.T) {
	bin := binary(t)
	tests := []struct {
		name         string
		preempt      string
		preemptDelay int
		// takesOver: R1 ends MASTER; backupFor: how long it must first stay
		// BACKUP once back.
		takesOver bool
		backupFor time.Duration
	}{
		{name: "preempt true", preempt: "true", takesOver: true},
		{name: "preempt false", preempt: "false", backupFor: 4 * time.Second},
		{name: "preempt-delay 6", preempt: "true", preemptDelay: 6, takesOver: true, backupFor: 2500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lab := newLab(t)
			host := lab.Node("host")
			g := groupSpec{ifname: "eth0", id: 99, vips: []string{vipCIDR}}.fast()
			g1, g2 := g, g
			g1.priority, g1.preempt, g1.preemptDelay = 150, tt.preempt, tt.preemptDelay
			g2.priority = 20
			// R2 first, so R1 comes in as a router joining a running group:
			// the delay applies from its start as well (VR-B09).
			r2 := startRouterConfig(t, bin, lab.Node("r2"), vrrpConfig(g2))
			r2.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)
			r1 := startRouterConfig(t, bin, lab.Node("r1"), vrrpConfig(g1))
			if tt.backupFor > 0 {
				r1.waitGroup(t, "eth0/99", vrrpv1.State_STATE_BACKUP)
				holdsFor(t, tt.backupFor, r1.isState(t.Context(), "eth0/99", vrrpv1.State_STATE_BACKUP))
			}
			if tt.takesOver {
				r1.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)
			} else {
				t.Log("without preemption R1 becomes master only when R2 stops; R2 then rejoins as BACKUP")
				if err := r2.proc.Stop(patience); err != nil {
					t.Fatal(err)
				}
				r1.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)
				r2.start(t)
			}
			r2.waitGroup(t, "eth0/99", vrrpv1.State_STATE_BACKUP)
			waitOnlyHolder(t, vip, r1.node, r1.node, r2.node)

			t.Log("R1's link goes down: R2 takes over")
			if err := r1.node.SetLinkDown("eth0"); err != nil {
				t.Fatal(err)
			}
			r1.waitGroup(t, "eth0/99", vrrpv1.State_STATE_FAULT)
			r2.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)

			t.Log("R1's link comes back")
			if err := r1.node.SetLinkUp("eth0"); err != nil {
				t.Fatal(err)
			}
			back := time.Now()
			if tt.backupFor > 0 {
				r1.waitGroup(t, "eth0/99", vrrpv1.State_STATE_BACKUP)
				holdsFor(t, tt.backupFor, r1.isState(t.Context(), "eth0/99", vrrpv1.State_STATE_BACKUP))
			}
			if !tt.takesOver {
				r2.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)
				waitOnlyHolder(t, vip, r2.node, r1.node, r2.node)
				host.WaitPing(t, vip, patience)
				return
			}
			r1.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)
			t.Logf("R1 master again %v after its link came back (preempt-delay %d s)", time.Since(back).Round(time.Millisecond), tt.preemptDelay)
			r2.waitGroup(t, "eth0/99", vrrpv1.State_STATE_BACKUP)
			waitOnlyHolder(t, vip, r1.node, r1.node, r2.node)
			host.WaitPing(t, vip, patience)
		})
	}
}
