package engine

import (
	"net/netip"
	"testing"

	"github.com/hasuite/hasuite/vrrpd/internal/fsm"
)

// TestVR_B15_B34_StartDropsLeftoverVIPsButNotTheOwnersAddress: a vrrpd
// killed as master leaves the VIP on the interface (FIELD-NOTES), so a
// group starts by removing it, or as BACKUP it would answer next to the
// master (VR-B15); an owner's VIP already on its interface is the admin's
// address (VR-Q04): the owner keeps it, also after its own shutdown
// (VR-B34), while a VIP it added itself goes.
func TestVR_B15_B34_StartDropsLeftoverVIPsButNotTheOwnersAddress(t *testing.T) {
	const vip = "172.16.0.24/24"
	tests := []struct {
		name     string
		priority int
		// before: the VIP is on eth0 before the engine starts.
		before bool
		want   fsm.State
		// whileRunning, afterShutdown: the VIP is on eth0.
		whileRunning, afterShutdown bool
	}{
		{name: "backup drops a leftover", priority: 100, before: true, want: fsm.Backup},
		{name: "owner keeps its address", priority: 255, before: true, want: fsm.Master, whileRunning: true, afterShutdown: true},
		{name: "owner removes the VIP it added", priority: 255, want: fsm.Master, whileRunning: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRouter(t, newLAN(), 1, nil)
			if tt.before {
				if err := r.kern.AddVIP(t.Context(), "eth0", netip.MustParsePrefix(vip)); err != nil {
					t.Fatal(err)
				}
			}
			r.apply(t, oneGroup(t, tt.priority, ""))
			r.waitState(t, key99, tt.want)
			if got := r.hasVIP(vip); got != tt.whileRunning {
				t.Errorf("VIP on eth0 while %s: %v, want %v\n%s", tt.want, got, tt.whileRunning, r.kern)
			}
			if err := r.eng.Shutdown(t.Context()); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if got := r.hasVIP(vip); got != tt.afterShutdown {
				t.Errorf("VIP on eth0 after shutdown: %v, want %v\n%s", got, tt.afterShutdown, r.kern)
			}
		})
	}
}
