package fsm

import (
	"fmt"
	"time"
)

// side is one node's facts as this node knows them, for decide: its own
// from the machine, the peer's from its last heartbeat.
type side struct {
	role             Role
	holds            bool
	reachable, total int
	standby          bool
	takeover         bool
	demoted          bool
}

// decide returns who should hold the resources when both nodes can serve
// (alive, not failed), and why, worded from the local node's side. Both
// nodes evaluate it on the same facts (each other's heartbeats), so they
// agree once the heartbeats agree. In order:
//
//  1. an operator's standby or takeover (unless the two conflict);
//  2. ipfail (CL-B11, CL-Q04): the node reaching strictly more monitors,
//     when both count the same number (a rolling reload that adds or
//     removes a monitor makes the counts incomparable until both nodes
//     run the same list and have verified it, so it moves nothing);
//  3. the current holder keeps them (non-revertive, CL-B19), except that
//     with auto-failback a primary reaching all its monitors and not
//     demoted gets them back (CL-B20);
//  4. nobody holds them (startup, a handover settling): the node without
//     a demotion, else the primary (CL-B07).
//
// Both holding is a split brain, resolved by splitWinner before decide.
func decide(local, peer side, autoFailback bool) (Holder, string) {
	preferLocal := local.takeover || peer.standby
	preferPeer := peer.takeover || local.standby
	switch {
	case preferLocal && !preferPeer && local.takeover:
		return HolderLocal, "operator takeover on this node"
	case preferLocal && !preferPeer:
		return HolderLocal, "operator standby on the peer"
	case preferPeer && !preferLocal && local.standby:
		return HolderPeer, "operator standby on this node"
	case preferPeer && !preferLocal:
		return HolderPeer, "operator takeover on the peer"
	}
	if local.reachable != peer.reachable && local.total == peer.total {
		counts := fmt.Sprintf("(%d of %d monitors reachable here, %d of %d on the peer)",
			local.reachable, local.total, peer.reachable, peer.total)
		if local.reachable > peer.reachable {
			return HolderLocal, "this node reaches more monitors than the peer " + counts
		}
		return HolderPeer, "the peer reaches more monitors than this node " + counts
	}
	var holder, primary side
	var holderWho Holder
	switch {
	case local.holds && !peer.holds:
		holder, holderWho = local, HolderLocal
	case peer.holds && !local.holds:
		holder, holderWho = peer, HolderPeer
	}
	primaryWho := HolderLocal
	primary = local
	if peer.role == Primary {
		primary, primaryWho = peer, HolderPeer
	}
	if holderWho != HolderNone {
		if autoFailback && holder.role == Secondary && primary.reachable == primary.total && !primary.demoted {
			return primaryWho, "auto-failback to the primary"
		}
		if holderWho == HolderLocal {
			return HolderLocal, "this node holds the resources"
		}
		return HolderPeer, "the peer holds the resources"
	}
	if local.demoted != peer.demoted {
		if local.demoted {
			return HolderPeer, "this node is demoted (a bus consumer is not ready)"
		}
		return HolderLocal, "the peer is demoted"
	}
	if primaryWho == HolderLocal {
		return HolderLocal, "the primary takes the resources"
	}
	return HolderPeer, "the primary takes the resources"
}

// splitWinner resolves a split brain (CL-B21): with auto-failback the
// primary keeps the resources; otherwise the node that acquired them
// earlier, where acquisitions within tolerance of each other tie and the
// primary keeps them. The acquisition times are local estimates (the
// peer's is its heartbeat's held-for subtracted from the time of arrival),
// so the tolerance must exceed the estimate's error (one-way delay) for
// both nodes to reach the same verdict.
func splitWinner(localRole Role, localAt, peerAt time.Time, autoFailback bool, tolerance time.Duration) (Role, string) {
	if autoFailback {
		return Primary, "auto-failback: the primary keeps them"
	}
	d := peerAt.Sub(localAt) // > 0: this node acquired first
	switch {
	case d > tolerance:
		return localRole, fmt.Sprintf("this node acquired them %v earlier", d.Round(time.Millisecond))
	case d < -tolerance:
		return localRole.other(), fmt.Sprintf("the peer acquired them %v earlier", (-d).Round(time.Millisecond))
	}
	return Primary, fmt.Sprintf("acquired within %v of each other: the primary keeps them", tolerance)
}
