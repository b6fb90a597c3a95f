package fsm

import (
	"fmt"
	"time"
)

// Role is a node's configured role in the group (CL-B01, CL-B02).
type Role uint8

const (
	// Primary initially provides the services.
	Primary Role = iota + 1
	// Secondary is the backup.
	Secondary
)

// String returns the role as `show cluster status` prints it.
func (r Role) String() string {
	switch r {
	case Primary:
		return "primary"
	case Secondary:
		return "secondary"
	}
	return "unknown"
}

// other returns the peer's role.
func (r Role) other() Role {
	if r == Primary {
		return Secondary
	}
	return Primary
}

// State is the group's failover state as published on the bus (CL-B22).
type State uint8

const (
	// Stopped: not started, or shut down (the engine removes the group
	// from the bus). Not a bus state of its own.
	Stopped State = iota
	// Init: the startup wait for the peer's first heartbeat (CL-B07).
	Init
	// Active: this node holds the resources, or is acquiring them (the
	// claim comes first, the data plane follows, ARCHITECTURE.md gates).
	Active
	// Standby: this node could serve, and the peer holds the resources
	// (or nobody does while a handover settles).
	Standby
	// Down: this node cannot serve: a monitor is unreachable (CL-B11) or
	// its resources failed to start (CL-B14).
	Down
)

// String returns the bus name of the state.
func (s State) String() string {
	switch s {
	case Stopped:
		return "STOPPED"
	case Init:
		return "INIT"
	case Active:
		return "ACTIVE"
	case Standby:
		return "STANDBY"
	case Down:
		return "DOWN"
	}
	return "UNKNOWN"
}

// NodeState is a node's state as a line of `show cluster status` shows it
// (CL-O01, CL-B12).
type NodeState uint8

const (
	// NodeUnknown: the peer was never heard.
	NodeUnknown NodeState = iota
	// NodeActive: alive and holding the resources.
	NodeActive
	// NodeActiveStandby: alive, not holding them.
	NodeActiveStandby
	// NodeDown: the peer is dead or left; either node failed to start
	// the resources (View.LocalFailed, View.PeerFailed say which).
	NodeDown
	// NodeDownMonitor: at least one monitor is unreachable from the node.
	NodeDownMonitor
)

// String returns a short name for logs and test messages; the show
// package owns the wording of `show cluster status`.
func (s NodeState) String() string {
	switch s {
	case NodeUnknown:
		return "Unknown"
	case NodeActive:
		return "Active"
	case NodeActiveStandby:
		return "Active (standby)"
	case NodeDown:
		return "Down"
	case NodeDownMonitor:
		return "Down (monitor)"
	}
	return "?"
}

// Holder says who holds the resources, as far as this node knows.
type Holder uint8

const (
	// HolderNone: nobody (startup, handover in progress, every node down).
	HolderNone Holder = iota
	// HolderLocal: this node (View.Phase says whether starting or stopping).
	HolderLocal
	// HolderPeer: the peer, by its last heartbeat.
	HolderPeer
)

// Phase is where this node's resources are.
type Phase uint8

const (
	// Released: not held here.
	Released Phase = iota
	// Preparing: claimed; the takeover gates are pending.
	Preparing
	// Starting: AcquireResources was emitted, not answered yet.
	Starting
	// Held: started.
	Held
	// Stopping: ReleaseResources was emitted, not answered yet.
	Stopping
)

// String returns the phase's name.
func (p Phase) String() string {
	switch p {
	case Released:
		return "released"
	case Preparing:
		return "preparing"
	case Starting:
		return "starting"
	case Held:
		return "held"
	case Stopping:
		return "stopping"
	}
	return "?"
}

// Config is the part of the group's configuration the machine needs.
type Config struct {
	// Role is this node's role.
	Role Role
	// Keepalive is the heartbeat interval (CL-C10).
	Keepalive time.Duration
	// DeadInterval declares the peer dead after this long without a
	// heartbeat (CL-C02).
	DeadInterval time.Duration
	// InitDead is the startup wait for the peer (CL-B07, 120 s by default
	// in the configuration).
	InitDead time.Duration
	// Monitors is the number of configured monitor nodes (CL-C05); all
	// count as reachable until the pinger reports otherwise (CL-B10).
	Monitors int
	// AutoFailback moves the resources back to a recovered primary
	// (CL-B19, CL-B20).
	AutoFailback bool
	// FailHoldDown is the least time between a failed start and the next
	// attempt on this node (CL-B14); zero means DeadInterval.
	FailHoldDown time.Duration
}

func (c Config) holdDown() time.Duration {
	if c.FailHoldDown > 0 {
		return c.FailHoldDown
	}
	return c.DeadInterval
}

func validate(c Config) error {
	switch {
	case c.Role != Primary && c.Role != Secondary:
		return fmt.Errorf("role %d unknown: the node must be the group's primary or secondary (CL-B02)", c.Role)
	case c.Keepalive <= 0:
		return fmt.Errorf("keepalive-interval %v must be positive", c.Keepalive)
	case c.DeadInterval <= c.Keepalive:
		return fmt.Errorf("dead-interval %v must be longer than keepalive-interval %v", c.DeadInterval, c.Keepalive)
	case c.InitDead < 0:
		return fmt.Errorf("init-dead-interval %v must not be negative", c.InitDead)
	case c.Monitors < 0:
		return fmt.Errorf("monitor count %d must not be negative", c.Monitors)
	case c.FailHoldDown < 0:
		return fmt.Errorf("failure hold-down %v must not be negative", c.FailHoldDown)
	}
	return nil
}

// Claim is what a node says about itself in a heartbeat. The engine puts
// the local one on the wire (SendHeartbeat) and hands the peer's to
// Heartbeat.
type Claim struct {
	// Holds: the node holds the resources or is acquiring or releasing
	// them. The peer never acquires while this is set (CL-B16).
	Holds bool
	// Releasing: the node is giving the resources up (stopping them);
	// Holds stays set until they are stopped. It keeps a slow stop from
	// passing for a split brain that will not end (CL-B21 safety net) and
	// gives the status its "Stopping on" line.
	Releasing bool
	// HeldFor is how long the node has held them when the heartbeat was
	// built (zero unless Holds). A duration, not a time of day, so the
	// nodes' clocks need not agree; the receiver subtracts it from the
	// time of arrival (CL-B21).
	HeldFor time.Duration
	// Reachable and Total count the node's monitors (CL-B06, CL-B11).
	Reachable, Total int
	// FailedStart: the node's last start failed; it does not take the
	// resources while the peer can serve (CL-B14).
	FailedStart bool
	// Standby: the operator gave the resources away here
	// (ManualStandby); the node declines them while the peer can serve.
	Standby bool
	// Takeover: the operator asked for the resources here
	// (ManualTakeover); the peer hands them over.
	Takeover bool
	// Demoted: a bus consumer holds a demotion here (not ready to
	// serve); the node does not take the resources from a healthy peer.
	Demoted bool
}

// Event is an input to Machine.Handle. The set is closed.
type Event interface{ isEvent() }

// Start starts the group: the startup wait begins and heartbeats go out
// (CL-B04, CL-B07).
type Start struct{}

// Shutdown stops the group: resources are released, then a leaving
// heartbeat is sent (CL-B24).
type Shutdown struct{}

// Heartbeat is a heartbeat from the peer that passed authentication and
// replay checks (CL-B05).
type Heartbeat struct {
	// Link is the interface it arrived on (per-link liveness for status).
	Link string
	// Role is the role the sender claims; a mismatch with ours is shown,
	// and the configured roles are used.
	Role Role
	// Boot and Seq are the sender's boot id and sequence number. The
	// replay window lets a heartbeat overtaken on the other link through;
	// the machine acts only on the newest of a boot (Seq 0: no order).
	Boot string
	Seq  uint64
	Claim
	// Leaving: the peer stopped cleanly and released its resources
	// (CL-B24).
	Leaving bool
}

// TimerFired reports that the deadline returned by NextDeadline passed.
type TimerFired struct{}

// MonitorsChanged reports this node's monitor reachability; the pinger
// applies monitor-dead-interval itself (CL-B10).
type MonitorsChanged struct{ Reachable, Total int }

// GatesDone reports that the takeover gates are settled (every holder
// answered, the deadline passed, or there was no gate).
type GatesDone struct{}

// ResourcesStarted answers AcquireResources: every service started.
type ResourcesStarted struct{}

// ResourcesFailed answers AcquireResources: a service failed to start;
// the shell already stopped the ones started before it (CL-B14).
type ResourcesFailed struct{ Reason string }

// ResourcesStopped answers ReleaseResources (stop failures are the
// shell's to log: the addresses are removed regardless, CL-Q15).
type ResourcesStopped struct{}

// Demotion sets whether a bus consumer holds a demotion.
type Demotion struct{ Held bool }

// ManualStandby is the operator's request to give the resources to a
// healthy peer (hb_standby). Answered with a CommandResult.
type ManualStandby struct{}

// ManualTakeover is the operator's request to take the resources here
// (hb_takeover). Answered with a CommandResult.
type ManualTakeover struct{}

func (Start) isEvent()            {}
func (Shutdown) isEvent()         {}
func (Heartbeat) isEvent()        {}
func (TimerFired) isEvent()       {}
func (MonitorsChanged) isEvent()  {}
func (GatesDone) isEvent()        {}
func (ResourcesStarted) isEvent() {}
func (ResourcesFailed) isEvent()  {}
func (ResourcesStopped) isEvent() {}
func (Demotion) isEvent()         {}
func (ManualStandby) isEvent()    {}
func (ManualTakeover) isEvent()   {}

// Action is an output of Machine.Handle for the engine to execute, in
// order. The set is closed.
type Action interface{ isAction() }

// SendHeartbeat sends a heartbeat on every cluster interface now.
type SendHeartbeat struct{ Claim Claim }

// SendLeaving sends the final leaving heartbeat (CL-B24); nothing is sent
// after it until the next Start.
type SendLeaving struct{}

// Prepare starts the takeover gates (Prepare to every gate holder); the
// engine answers GatesDone.
type Prepare struct{}

// CancelPrepare abandons a pending gate wait: the claim was withdrawn
// before the resources were started.
type CancelPrepare struct{}

// AcquireResources starts the services in order; the engine answers
// ResourcesStarted or ResourcesFailed.
type AcquireResources struct{}

// ReleaseResources stops the services in reverse order; the engine
// answers ResourcesStopped.
type ReleaseResources struct{}

// Transition publishes a change of State with a reason.
type Transition struct {
	From, To State
	Reason   string
}

// SplitBrainDetected reports that both nodes held the resources and how
// it was resolved (CL-B21); the engine logs and counts it.
type SplitBrainDetected struct{ Event SplitBrain }

// CommandResult answers ManualStandby and ManualTakeover.
type CommandResult struct {
	Accepted bool
	Message  string
}

func (SendHeartbeat) isAction()      {}
func (SendLeaving) isAction()        {}
func (Prepare) isAction()            {}
func (CancelPrepare) isAction()      {}
func (AcquireResources) isAction()   {}
func (ReleaseResources) isAction()   {}
func (Transition) isAction()         {}
func (SplitBrainDetected) isAction() {}
func (CommandResult) isAction()      {}

// SplitBrain is one split-brain event (CL-B21).
type SplitBrain struct {
	At time.Time
	// Winner is the role that keeps the resources.
	Winner Role
	// LocalWon: this node kept them.
	LocalWon bool
	Reason   string
}

// View is what `show cluster status` and its --json need from the
// machine (CL-O01); names, addresses and monitor lists are the engine's.
type View struct {
	Role  Role
	State State
	// Local and Peer are the status lines' states.
	Local, Peer NodeState
	Holder      Holder
	// Phase is where this node's resources are (Starting/Stopping for
	// the holder line).
	Phase Phase

	// PeerHeard: a heartbeat was received since Start; PeerLastHeard is
	// the last one, PeerLinks the last one per interface.
	PeerHeard     bool
	PeerLastHeard time.Time
	PeerLinks     map[string]time.Time
	// PeerRoleMismatch: the peer claims our own role (configuration
	// mismatch between the nodes).
	PeerRoleMismatch bool
	PeerLeft         bool

	LocalReachable, LocalTotal int
	PeerReachable, PeerTotal   int

	LocalFailed  bool
	LocalFailure string
	PeerFailed   bool
	// PeerReleasing: the peer is stopping the resources.
	PeerReleasing  bool
	Demoted        bool
	ManualStandby  bool
	ManualTakeover bool

	// InitRemaining is the startup wait left (CL-Q09), zero outside INIT.
	InitRemaining time.Duration
	// AcquiredAt is when this node claimed the resources (zero if not).
	AcquiredAt time.Time

	// LastTransition is the last state change, with its time.
	LastTransition   Transition
	LastTransitionAt time.Time

	SplitBrainTotal int
	// SplitBrains are the most recent events, oldest first.
	SplitBrains []SplitBrain
}
