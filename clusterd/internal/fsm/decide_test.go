package fsm

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	p := func(holds bool, reach int) side { return side{role: Primary, holds: holds, reachable: reach, total: 2} }
	s := func(holds bool, reach int) side {
		return side{role: Secondary, holds: holds, reachable: reach, total: 2}
	}
	edit := func(x side, f func(*side)) side { f(&x); return x }
	tests := []struct {
		name         string
		local, peer  side
		autoFailback bool
		want         Holder
	}{
		{"CL-B07 nobody holds: the primary (here)", p(false, 2), s(false, 2), false, HolderLocal},
		{"CL-B07 nobody holds: the primary (peer)", s(false, 2), p(false, 2), false, HolderPeer},
		{"CL-B19 the secondary holding keeps them", s(true, 2), p(false, 2), false, HolderLocal},
		{"CL-B20 auto-failback to a primary reaching all", s(true, 2), p(false, 2), true, HolderPeer},
		{"CL-B20 no failback to a primary missing a monitor (both miss it)", s(true, 1), p(false, 1), true, HolderLocal},
		{"CL-B20 no failback to a demoted primary", s(true, 2), edit(p(false, 2), func(x *side) { x.demoted = true }), true, HolderLocal},
		{"CL-B11 more monitors wins over holding", p(true, 1), s(false, 2), false, HolderPeer},
		{"CL-B11 more monitors wins over failback", s(false, 2), p(true, 1), true, HolderLocal},
		{"CL-Q04 equal monitors: the holder keeps", p(true, 0), s(false, 0), false, HolderLocal},
		{"CL-B11 ipfail ignores demotion", edit(s(false, 2), func(x *side) { x.demoted = true }), p(true, 1), false, HolderLocal},
		{"nobody holds: the node without demotion", edit(p(false, 2), func(x *side) { x.demoted = true }), s(false, 2), false, HolderPeer},
		{"manual standby here beats monitors", edit(p(true, 2), func(x *side) { x.standby = true }), s(false, 1), false, HolderPeer},
		{"manual takeover on the peer", p(true, 2), edit(s(false, 2), func(x *side) { x.takeover = true }), true, HolderPeer},
		{"manual takeover here", edit(s(false, 2), func(x *side) { x.takeover = true }), p(true, 2), true, HolderLocal},
		{"manual standby on the peer", s(false, 2), edit(p(true, 2), func(x *side) { x.standby = true }), true, HolderLocal},
		{"conflicting intents fall through to the rules", edit(s(false, 2), func(x *side) { x.takeover = true }), edit(p(true, 2), func(x *side) { x.takeover = true }), false, HolderPeer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := decide(tt.local, tt.peer, tt.autoFailback)
			if got != tt.want {
				t.Errorf("decide = %v (%s), want %v", got, why, tt.want)
			}
			// Symmetry: the peer, deciding on the same facts, agrees.
			mirror, _ := decide(tt.peer, tt.local, tt.autoFailback)
			if want := map[Holder]Holder{HolderLocal: HolderPeer, HolderPeer: HolderLocal}[got]; mirror != want {
				t.Errorf("the peer decides %v on the same facts, want %v", mirror, want)
			}
		})
	}
}

func TestSplitWinner(t *testing.T) {
	base := t0
	tests := []struct {
		name         string
		role         Role
		local, peer  time.Duration // acquisition times after base
		autoFailback bool
		want         Role
	}{
		{"auto-failback: primary", Secondary, 0, time.Hour, true, Primary},
		{"earlier acquirer: here", Secondary, 0, time.Minute, false, Secondary},
		{"earlier acquirer: the peer", Secondary, time.Minute, 0, false, Primary},
		{"tie within tolerance: primary", Secondary, 0, 150 * ms, false, Primary},
		{"just outside the tolerance", Secondary, 0, 201 * ms, false, Secondary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := splitWinner(tt.role, base.Add(tt.local), base.Add(tt.peer), tt.autoFailback, 200*ms)
			if got != tt.want {
				t.Errorf("winner %v (%s), want %v", got, why, tt.want)
			}
			mirror, _ := splitWinner(tt.role.other(), base.Add(tt.peer), base.Add(tt.local), tt.autoFailback, 200*ms)
			if mirror != got {
				t.Errorf("the peer's verdict %v differs from ours %v", mirror, got)
			}
		})
	}
}
