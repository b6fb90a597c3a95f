// Package fsm is one node's view of the two-node heartbeat cluster (guide
// chapter 3, spec CL-B*) as pure code: a Machine takes an Event and the
// current time and returns the Actions to perform. It does no I/O, reads
// no clock and starts no goroutine, so every rule is tested with explicit
// times, and two Machines are simulated over a lossy network in
// milliseconds.
//
// # How the engine drives a Machine
//
// The engine feeds one Machine, one event at a time: Start and Shutdown
// from the configuration, Heartbeat for every peer heartbeat that passed
// authentication and the replay window (with its boot id and sequence, so
// one overtaken on the other link is not acted on), TimerFired when
// NextDeadline passes, MonitorsChanged from the monitor pinger (which
// applies monitor-dead-interval, CL-B10), GatesDone, ResourcesStarted,
// ResourcesFailed and ResourcesStopped from the shell, Demotion from the
// bus, ManualStandby and ManualTakeover from the CLI. It executes the
// returned actions in order and re-arms its single timer to NextDeadline.
// View gives `show cluster status` what it needs; Reconfigure applies a
// reload.
//
// # States
//
// The published state (bus, CL-B22) is INIT during the startup wait,
// ACTIVE while this node claims the resources (from the moment it decides
// to acquire, through the gates and the start, until it decides to give
// them up), DOWN while it cannot serve (a monitor unreachable, or its
// last start failed), STANDBY otherwise. Stopped is before Start and
// after Shutdown. Separately, Phase says where the resources are
// (released, preparing, starting, held, stopping), and the heartbeat's
// Claim.Holds is true in every phase but released: the peer never
// acquires while it is set.
//
// # Rules
//
//   - CL-B04: a heartbeat goes out at Start, every keepalive, and at once
//     whenever the claim changes (a release is known to the peer within
//     the network delay, not a keepalive later).
//   - CL-B07 startup wait: INIT until the peer is heard or init-dead
//     passes. Heard: the usual choice below (both free: the primary
//     acquires, the secondary is standby; the peer already holds: it
//     keeps them unless auto-failback brings them back). Not heard: the
//     running node acquires, whatever its role.
//   - CL-B08 node failure: the peer is dead dead-interval after its last
//     heartbeat; the survivor acquires, and a holder finding the peer dead
//     just keeps the resources.
//   - Who holds them while both can serve (decide, evaluated alike on
//     both nodes from each other's heartbeats): an operator's standby or
//     takeover, then ipfail (CL-B11, CL-Q04: the node reaching strictly
//     more monitors; equal counts move nothing; a node never takes from a
//     peer reaching more, and never gives to a dead one), then the holder
//     keeps them (CL-B19) unless auto-failback moves them to a primary
//     that reaches all its monitors and is not demoted (CL-B20), then, if
//     nobody holds them, the node without a demotion, else the primary.
//     A monitor loss counts for ipfail only two keepalives after it is
//     seen, so a peer losing the same monitor a ping later is not handed
//     resources it cannot serve either.
//   - CL-B16 one holder: the giver withdraws first (ReleaseResources; its
//     heartbeats claim the resources until ResourcesStopped, then say so
//     at once); the taker acquires only when the peer's latest heartbeat
//     says it holds nothing, or the peer is dead or left. A lost release
//     heartbeat delays the takeover by one keepalive (every heartbeat
//     repeats the claim); a giver dying while it stops delays it by
//     dead-interval. A decision made while a start is in progress waits
//     for its answer; one made while the gates are pending cancels them.
//   - CL-B21 split brain: both claim the resources while they hear each
//     other. With auto-failback the primary keeps them; otherwise the
//     earlier acquirer, acquisitions within one keepalive of each other
//     counting as a tie that the primary wins. The peer's acquisition time
//     is its heartbeat's held-for subtracted from the time of arrival, so
//     no clock synchronisation is needed, and the two verdicts agree
//     unless the estimates straddle the tolerance by less than the
//     one-way delay; as a safety net the secondary yields if both still
//     hold a dead-interval later (not counting while the peer's heartbeats
//     say it is releasing: stop scripts may be slow). The loser releases at once; the winner
//     heartbeats at once so the loser learns it within the network delay.
//     Each episode is counted once (View.SplitBrainTotal) and reported
//     (SplitBrainDetected, View.SplitBrains).
//   - CL-B24 clean stop: Shutdown publishes Stopped, releases, goes on
//     heartbeating (claiming the resources) while they stop, then sends
//     the leaving heartbeat; a peer receiving it takes over at once.
//   - CL-B14 failed start: ResourcesFailed makes the node DOWN and its
//     heartbeats say FailedStart; the peer takes over. The node does not
//     try again while the peer can serve (no flapping, even with
//     auto-failback), only once the peer cannot (dead, left, or failed
//     too) and at least FailHoldDown after its failure, or on the
//     operator's takeover.
//   - Manual standby (hb_standby) gives the resources to a peer that can
//     serve (refused otherwise); manual takeover (hb_takeover) asks the
//     peer to hand them over. Both travel in heartbeats and hold until the
//     next failure (a node dead, left or failing to start, a monitor
//     lost); a newer command on the peer supersedes ours, and commands
//     given on both sides while they could not hear each other cancel
//     out when they meet.
//   - Demotion (a bus consumer not ready to serve) keeps the node from
//     taking the resources from a healthy peer (failback, a free choice)
//     but not from taking over a failed one; ipfail and the operator
//     override it.
package fsm
