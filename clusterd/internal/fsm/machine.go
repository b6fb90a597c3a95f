package fsm

import (
	"fmt"
	"maps"
	"time"
)

// maxSplitBrains is how many split-brain events View keeps.
const maxSplitBrains = 16

// Machine is one node's view of the two-node cluster. Create it with New;
// it is not safe for concurrent use: the engine's loop owns it.
type Machine struct {
	cfg Config

	state State
	// running: between Start and the leaving heartbeat; shutdown: a
	// Shutdown is releasing the resources before leaving.
	running, shutdown bool
	// initUntil ends the startup wait; zero outside it.
	initUntil time.Time

	phase Phase
	// releaseAfterStart: the resources are to be released as soon as the
	// start in progress answers.
	releaseAfterStart bool
	acquiredAt        time.Time

	heartbeatAt time.Time
	sent        Claim // the last claim sent, HeldFor zeroed
	sentAny     bool

	reachable, total int
	// A monitor loss counts for ipfail only from settleAt on, and until
	// then as settleReachable: the peer may lose the same monitor up to a
	// ping and a heartbeat later (CL-Q04).
	settleAt        time.Time
	settleReachable int
	// A monitor gain in the peer's heartbeat counts only from
	// peerSettleAt on, and until then as peerSettleReachable: when both
	// regain the same monitor, this node's own ping reply may come after
	// the peer's heartbeat saying so (CL-Q04).
	peerSettleAt        time.Time
	peerSettleReachable int
	demoted             bool
	// Operator intents (ManualStandby, ManualTakeover), kept until the
	// next failure.
	standby, takeover bool

	failed      bool
	failure     string
	holdDownAt  time.Time // zero once passed
	holdDownEnd bool      // the hold-down since the last failure is over

	peer peerView

	// splitBrain: both nodes hold the resources (an episode in progress).
	splitBrain bool
	sbYieldAt  time.Time
	sbTotal    int
	sbEvents   []SplitBrain
	lastTr     Transition
	lastTrAt   time.Time
	out        []Action
}

// peerView is what the machine knows about the peer.
type peerView struct {
	heard, alive, left bool
	lastHeard          time.Time
	links              map[string]time.Time
	claim              Claim
	boot               string
	seq                uint64
	acquiredAt         time.Time // local estimate
	roleMismatch       bool
	// downReason says why the peer is not alive, for reasons.
	downReason string
}

// New returns a stopped Machine for cfg.
func New(cfg Config) (*Machine, error) {
	if err := validate(cfg); err != nil {
		return nil, err
	}
	return &Machine{cfg: cfg}, nil
}

// Config returns the configuration in force.
func (m *Machine) Config() Config { return m.cfg }

// State returns the published state.
func (m *Machine) State() State { return m.state }

// Phase returns where this node's resources are.
func (m *Machine) Phase() Phase { return m.phase }

// NextDeadline returns the earliest armed deadline, or false if none. The
// engine re-arms its timer to it after every Handle and sends TimerFired
// when it passes.
func (m *Machine) NextDeadline() (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if m.running {
		consider(m.heartbeatAt)
		consider(m.initUntil)
		consider(m.holdDownAt)
		consider(m.sbYieldAt)
		consider(m.settleAt)
		consider(m.peerSettleAt)
		if m.peer.alive {
			consider(m.peerDeadAt())
		}
	}
	return next, !next.IsZero()
}

func (m *Machine) peerDeadAt() time.Time { return m.peer.lastHeard.Add(m.cfg.DeadInterval) }

// Handle applies ev at time now and returns the actions to execute, in
// order. The returned slice is the caller's.
func (m *Machine) Handle(now time.Time, ev Event) []Action {
	m.out = nil
	switch ev := ev.(type) {
	case Start:
		m.start(now)
	case Shutdown:
		if m.running {
			m.shutdown = true
		}
	case Heartbeat:
		if m.running {
			m.heartbeat(now, ev)
		}
	case TimerFired:
		if m.running {
			m.timerFired(now)
		}
	case MonitorsChanged:
		if ev.Reachable < m.reachable {
			m.clearIntents() // a failure ends manual overrides
			if m.settleAt.IsZero() {
				m.settleReachable = m.reachable
			}
			m.settleAt = now.Add(2 * m.cfg.Keepalive)
		}
		m.reachable, m.total = ev.Reachable, ev.Total
	case GatesDone:
		if m.phase == Preparing {
			m.phase = Starting
			m.emit(AcquireResources{})
		}
	case ResourcesStarted:
		if m.phase == Starting {
			m.phase = Held
			if m.releaseAfterStart {
				m.releaseAfterStart = false
				m.phase = Stopping
				m.emit(ReleaseResources{})
			}
		}
	case ResourcesFailed:
		if m.phase == Starting {
			m.phase, m.releaseAfterStart, m.acquiredAt = Released, false, time.Time{}
			m.failed, m.failure = true, ev.Reason
			m.holdDownAt, m.holdDownEnd = now.Add(m.cfg.holdDown()), false
			m.clearIntents()
			m.publish(now, Down, "start failed: "+ev.Reason)
		}
	case ResourcesStopped:
		if m.phase == Stopping {
			m.phase, m.acquiredAt = Released, time.Time{}
		}
	case Demotion:
		m.demoted = ev.Held
	case ManualStandby:
		m.emit(m.standbyCommand())
	case ManualTakeover:
		m.emit(m.takeoverCommand())
	}
	m.reconcile(now)
	return m.out
}

func (m *Machine) emit(a ...Action) { m.out = append(m.out, a...) }

func (m *Machine) start(now time.Time) {
	if m.running && !m.shutdown {
		return
	}
	// A Start during a shutdown cancels it; resources still stopping
	// finish stopping first.
	m.running, m.shutdown = true, false
	m.initUntil = now.Add(m.cfg.InitDead)
	m.failed, m.failure, m.holdDownAt, m.holdDownEnd = false, "", time.Time{}, false
	m.standby, m.takeover = false, false
	m.splitBrain, m.sbYieldAt = false, time.Time{}
	m.settleAt, m.peerSettleAt = time.Time{}, time.Time{}
	m.peer = peerView{links: map[string]time.Time{}}
	if m.total == 0 && m.reachable == 0 {
		m.reachable, m.total = m.cfg.Monitors, m.cfg.Monitors
	}
	m.sentAny = false
	m.publish(now, Init, fmt.Sprintf("started: waiting up to %v for the peer", m.cfg.InitDead))
}

func (m *Machine) heartbeat(now time.Time, hb Heartbeat) {
	p := &m.peer
	if hb.Seq != 0 && hb.Boot == p.boot && hb.Seq <= p.seq {
		// Overtaken by a newer heartbeat (or the leaving one) of the same
		// boot: it says only that the link works.
		if !hb.Leaving && !p.left {
			if t, ok := p.links[hb.Link]; !ok || t.Before(now) {
				p.links[hb.Link] = now
			}
		}
		return
	}
	p.boot, p.seq = hb.Boot, hb.Seq
	if hb.Leaving {
		if !p.left {
			p.alive, p.left = false, true
			p.downReason = "the peer left the cluster (clean stop)"
			m.clearIntents()
		}
		p.claim = Claim{}
		p.acquiredAt = time.Time{}
		m.initUntil = time.Time{} // the peer is known to be gone
		return
	}
	prev := p.claim
	wasAlive := p.alive
	p.heard, p.alive, p.left = true, true, false
	p.lastHeard = now
	p.links[hb.Link] = now
	p.claim = hb.Claim
	p.roleMismatch = hb.Role == m.cfg.Role
	switch {
	case !hb.Holds:
		p.acquiredAt = time.Time{}
	case !prev.Holds || !wasAlive || p.acquiredAt.IsZero():
		p.acquiredAt = now.Add(-hb.HeldFor)
	}
	if wasAlive && hb.Reachable > prev.Reachable && hb.Total == prev.Total {
		if m.peerSettleAt.IsZero() {
			m.peerSettleReachable = prev.Reachable
		}
		m.peerSettleAt = now.Add(2 * m.cfg.Keepalive)
	}
	if wasAlive {
		// Edges of the peer's claim: a failure there ends manual
		// overrides, and a newer operator command there supersedes ours.
		if hb.Reachable < prev.Reachable || (hb.FailedStart && !prev.FailedStart) ||
			(hb.Standby && !prev.Standby) || (hb.Takeover && !prev.Takeover) {
			m.clearIntents()
		}
	}
	if !wasAlive && ((m.takeover && hb.Takeover) || (m.standby && hb.Standby)) {
		// Commands given on both sides while they could not hear each
		// other: both see the conflict as they meet again and drop their
		// own. (While they hear each other, the newer command's edge
		// clears the older one, above.)
		m.clearIntents()
	}
	if !m.initUntil.IsZero() {
		m.initUntil = time.Time{} // CL-B07: the peer was heard
	}
}

func (m *Machine) timerFired(now time.Time) {
	due := func(t time.Time) bool { return !t.IsZero() && !now.Before(t) }
	if due(m.initUntil) {
		m.initUntil = time.Time{}
		if !m.peer.heard {
			m.peer.downReason = fmt.Sprintf("no heartbeat from the peer within init-dead %v", m.cfg.InitDead)
		}
	}
	if m.peer.alive && due(m.peerDeadAt()) {
		m.peer.alive = false
		m.peer.downReason = fmt.Sprintf("the peer is dead: no heartbeat for %v", m.cfg.DeadInterval)
		m.clearIntents()
	}
	if due(m.holdDownAt) {
		m.holdDownAt, m.holdDownEnd = time.Time{}, true
	}
	if due(m.sbYieldAt) {
		m.sbYieldAt = time.Time{}
		if m.splitBrain && m.intends() {
			m.withdraw(now, fmt.Sprintf("split brain persists %v after it was resolved for this node: the secondary yields", m.cfg.DeadInterval))
		}
	}
	if due(m.settleAt) {
		m.settleAt = time.Time{}
	}
	if due(m.peerSettleAt) {
		m.peerSettleAt = time.Time{}
	}
	if due(m.heartbeatAt) {
		m.sendHeartbeat(now)
	}
}

func (m *Machine) clearIntents() { m.standby, m.takeover = false, false }

// intends reports whether this node means to hold the resources (claimed,
// starting or started, and not on its way out).
func (m *Machine) intends() bool {
	switch m.phase {
	case Preparing, Held:
		return true
	case Starting:
		return !m.releaseAfterStart
	}
	return false
}

// peerCanServe reports whether the peer could hold the resources.
func (m *Machine) peerCanServe() bool { return m.peer.alive && !m.peer.claim.FailedStart }

func (m *Machine) monitorsDown() bool { return m.reachable < m.total }

// reconcile brings the resources and the published state in line with
// what the machine knows; every Handle ends with it.
func (m *Machine) reconcile(now time.Time) {
	if !m.running {
		return
	}
	if m.shutdown {
		m.publish(now, Stopped, "shutting down")
		m.withdraw(now, "shutting down")
		if m.phase == Released {
			m.emit(SendLeaving{})
			m.running, m.shutdown = false, false
			m.heartbeatAt, m.initUntil, m.holdDownAt, m.sbYieldAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			m.peer.alive = false
		}
		return
	}
	if !m.initUntil.IsZero() {
		m.sendIfChanged(now)
		return
	}
	if m.failed && m.holdDownEnd && !m.peerCanServe() {
		// CL-B14 hold-down: retry only when the peer cannot serve, so a
		// persistent failure does not flap the resources back and forth.
		m.failed, m.failure = false, ""
	}
	bothHold := m.intends() && m.peer.alive && m.peer.claim.Holds
	switch {
	case bothHold:
		m.resolveSplitBrain(now)
	default:
		m.splitBrain, m.sbYieldAt = false, time.Time{}
		who, why := m.choose()
		switch {
		case who == HolderLocal && m.phase == Released && !(m.peer.alive && m.peer.claim.Holds):
			// CL-B16: the peer released (or is dead, or left) first.
			m.acquire(now, why)
		case who == HolderLocal && m.phase == Released:
			m.publish(now, m.steadyState(), "waiting for the peer to release the resources: "+why)
		case who != HolderLocal && m.intends():
			m.withdraw(now, why)
		default:
			m.publish(now, m.steadyState(), why)
		}
	}
	m.sendIfChanged(now)
}

// steadyState is the published state when no acquisition or release is
// decided in this step.
func (m *Machine) steadyState() State {
	switch {
	case m.intends():
		return Active
	case m.failed || m.monitorsDown():
		return Down
	}
	return Standby
}

// choose applies eligibility, then decide.
func (m *Machine) choose() (Holder, string) {
	peerOK := m.peerCanServe()
	switch {
	case m.failed && !peerOK:
		return HolderNone, "start failed here and the peer cannot serve"
	case m.failed:
		return HolderPeer, "start failed here: " + m.failure
	case !m.peer.alive:
		return HolderLocal, m.peer.downReason
	case !peerOK:
		return HolderLocal, "the peer failed to start the resources"
	}
	reachable := m.reachable
	if !m.settleAt.IsZero() {
		reachable = max(reachable, m.settleReachable)
	}
	local := side{role: m.cfg.Role, holds: m.intends(), reachable: reachable, total: m.total,
		standby: m.standby, takeover: m.takeover, demoted: m.demoted}
	c := m.peer.claim
	peerReachable := c.Reachable
	if !m.peerSettleAt.IsZero() {
		peerReachable = min(peerReachable, m.peerSettleReachable)
	}
	peer := side{role: m.cfg.Role.other(), holds: c.Holds, reachable: peerReachable, total: c.Total,
		standby: c.Standby, takeover: c.Takeover, demoted: c.Demoted}
	return decide(local, peer, m.cfg.AutoFailback)
}

func (m *Machine) resolveSplitBrain(now time.Time) {
	winner, why := splitWinner(m.cfg.Role, m.acquiredAt, m.peer.acquiredAt, m.cfg.AutoFailback, m.cfg.Keepalive)
	localWon := winner == m.cfg.Role
	if !m.splitBrain {
		m.splitBrain = true
		m.sbTotal++
		ev := SplitBrain{At: now, Winner: winner, LocalWon: localWon, Reason: why}
		m.sbEvents = append(m.sbEvents, ev)
		if len(m.sbEvents) > maxSplitBrains {
			m.sbEvents = m.sbEvents[1:]
		}
		m.emit(SplitBrainDetected{Event: ev})
		if localWon {
			// Tell the loser at once rather than at the next keepalive.
			m.sendHeartbeat(now)
			if m.cfg.Role == Secondary {
				// Safety net: should the primary judge otherwise (the
				// two estimates straddle the tolerance), it keeps them
				// too; the secondary yields after a dead-interval.
				m.sbYieldAt = now.Add(m.cfg.DeadInterval)
			}
		}
	}
	if localWon && !m.sbYieldAt.IsZero() && m.peer.claim.Releasing {
		// The loser is stopping: however slow, that is not a split brain
		// that persists.
		m.sbYieldAt = now.Add(m.cfg.DeadInterval)
	}
	if !localWon {
		m.withdraw(now, "split brain: "+why)
	}
}

// acquire claims the resources: publish ACTIVE and tell the peer at once,
// then the gates, then the start (ARCHITECTURE.md takeover gates).
func (m *Machine) acquire(now time.Time, why string) {
	m.phase, m.acquiredAt = Preparing, now
	m.publish(now, Active, why)
	m.sendHeartbeat(now)
	m.emit(Prepare{})
}

// withdraw gives up the resources (or the claim on them) and publishes the
// resulting state.
func (m *Machine) withdraw(now time.Time, why string) {
	if !m.intends() {
		return
	}
	switch m.phase {
	case Preparing:
		m.phase, m.acquiredAt = Released, time.Time{}
		m.publishAfterRelease(now, why)
		m.emit(CancelPrepare{})
	case Starting:
		m.releaseAfterStart = true
		m.publishAfterRelease(now, why)
	case Held:
		m.phase = Stopping
		m.publishAfterRelease(now, why)
		m.emit(ReleaseResources{})
	}
}

func (m *Machine) publishAfterRelease(now time.Time, why string) {
	if m.shutdown {
		return
	}
	m.publish(now, m.steadyState(), why)
}

func (m *Machine) publish(now time.Time, to State, why string) {
	if to == m.state {
		return
	}
	if to == Down && m.state != Down {
		switch {
		case m.failed:
			why = "start failed: " + m.failure
		case m.monitorsDown():
			why = fmt.Sprintf("at least 1 monitor not reachable (%d of %d reachable)", m.reachable, m.total)
		}
	}
	tr := Transition{From: m.state, To: to, Reason: why}
	m.state, m.lastTr, m.lastTrAt = to, tr, now
	m.emit(tr)
}

// claim is what the next heartbeat says.
func (m *Machine) claim(now time.Time) Claim {
	c := Claim{
		Holds:     m.phase != Released,
		Releasing: m.phase == Stopping || (m.phase == Starting && m.releaseAfterStart),
		Reachable: m.reachable, Total: m.total,
		FailedStart: m.failed,
		Standby:     m.standby,
		Takeover:    m.takeover,
		Demoted:     m.demoted,
	}
	if c.Holds {
		c.HeldFor = now.Sub(m.acquiredAt)
	}
	return c
}

func (m *Machine) sendHeartbeat(now time.Time) {
	c := m.claim(now)
	m.emit(SendHeartbeat{Claim: c})
	c.HeldFor = 0
	m.sent, m.sentAny = c, true
	m.heartbeatAt = now.Add(m.cfg.Keepalive)
}

// sendIfChanged sends a heartbeat at once when the claim changed, so the
// peer need not wait a keepalive to learn of a release (CL-B16).
func (m *Machine) sendIfChanged(now time.Time) {
	if !m.running || m.shutdown && m.phase == Released {
		return
	}
	c := m.claim(now)
	c.HeldFor = 0
	if !m.sentAny || c != m.sent {
		m.sendHeartbeat(now)
	}
}

func (m *Machine) standbyCommand() CommandResult {
	switch {
	case !m.running || m.shutdown:
		return CommandResult{Message: "the cluster group is not running"}
	case !m.initUntil.IsZero():
		return CommandResult{Message: "still waiting for the peer after startup: nothing to hand over"}
	case !m.peer.alive:
		return CommandResult{Message: "the peer is down: keeping the resources here"}
	case m.peer.claim.FailedStart:
		return CommandResult{Message: "the peer failed to start the resources: keeping them here"}
	}
	m.standby, m.takeover = true, false
	if m.intends() {
		return CommandResult{Accepted: true, Message: "handing the resources over to the peer; this node stays standby until the next failure"}
	}
	return CommandResult{Accepted: true, Message: "this node stays standby until the next failure"}
}

func (m *Machine) takeoverCommand() CommandResult {
	switch {
	case !m.running || m.shutdown:
		return CommandResult{Message: "the cluster group is not running"}
	case !m.initUntil.IsZero():
		return CommandResult{Message: "still waiting for the peer after startup: try again when the wait is over"}
	}
	m.standby, m.takeover = false, true
	retry := ""
	if m.failed {
		m.failed, m.failure, m.holdDownAt, m.holdDownEnd = false, "", time.Time{}, false
		retry = " (retrying after the failed start)"
	}
	if m.intends() {
		return CommandResult{Accepted: true, Message: "the resources are held here; kept until the next failure" + retry}
	}
	return CommandResult{Accepted: true, Message: "taking the resources over once the peer has released them" + retry}
}

// View returns what the status needs, at time now.
func (m *Machine) View(now time.Time) View {
	v := View{
		Role: m.cfg.Role, State: m.state, Phase: m.phase,
		PeerHeard: m.peer.heard, PeerLastHeard: m.peer.lastHeard, PeerLinks: maps.Clone(m.peer.links),
		PeerRoleMismatch: m.peer.roleMismatch, PeerLeft: m.peer.left,
		LocalReachable: m.reachable, LocalTotal: m.total,
		PeerReachable: m.peer.claim.Reachable, PeerTotal: m.peer.claim.Total,
		LocalFailed: m.failed, LocalFailure: m.failure, PeerFailed: m.peer.alive && m.peer.claim.FailedStart,
		PeerReleasing: m.peer.alive && m.peer.claim.Releasing,
		Demoted:       m.demoted, ManualStandby: m.standby, ManualTakeover: m.takeover,
		AcquiredAt:     m.acquiredAt,
		LastTransition: m.lastTr, LastTransitionAt: m.lastTrAt,
		SplitBrainTotal: m.sbTotal, SplitBrains: append([]SplitBrain(nil), m.sbEvents...),
	}
	if !m.initUntil.IsZero() && now.Before(m.initUntil) {
		v.InitRemaining = m.initUntil.Sub(now)
	}
	switch {
	case m.failed || !m.running:
		v.Local = NodeDown
	case m.monitorsDown():
		v.Local = NodeDownMonitor
	case m.phase != Released:
		v.Local = NodeActive
	default:
		v.Local = NodeActiveStandby
	}
	c := m.peer.claim
	switch {
	case !m.peer.heard && !m.peer.left:
		v.Peer = NodeUnknown
	case !m.peer.alive || c.FailedStart:
		v.Peer = NodeDown
	case c.Reachable < c.Total:
		v.Peer = NodeDownMonitor
	case c.Holds:
		v.Peer = NodeActive
	default:
		v.Peer = NodeActiveStandby
	}
	switch {
	case m.phase != Released:
		v.Holder = HolderLocal
	case m.peer.alive && c.Holds:
		v.Holder = HolderPeer
	}
	return v
}

// Reconfigure applies a reloaded configuration without moving the
// resources for its own sake (CL-B23): new timers take effect at their next
// use (the peer's dead deadline at once), the monitor count when the pinger
// reports, auto-failback at once, which may hand the resources over like
// any other decision; the returned actions do that. A new role is refused:
// changing primary/secondary restarts the group, which is the engine's
// (Shutdown, New, Start). An invalid configuration is refused and the old
// one kept.
func (m *Machine) Reconfigure(now time.Time, cfg Config) ([]Action, error) {
	if err := validate(cfg); err != nil {
		return nil, fmt.Errorf("keeping the running cluster group configuration: %w", err)
	}
	if cfg.Role != m.cfg.Role {
		return nil, fmt.Errorf("role changes from %v to %v: restart the group (release, then start again)", m.cfg.Role, cfg.Role)
	}
	m.cfg = cfg
	m.out = nil
	m.reconcile(now)
	return m.out, nil
}
