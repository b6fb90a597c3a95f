package fsm

import (
	"net/netip"
	"time"
)

// State is a group's VRRP state as shown by `show vrrp` and published on
// the bus.
type State uint8

const (
	// Init: configured but not started (before Start, after Shutdown).
	Init State = iota
	// Backup: another router is master; the Master_Down timer runs.
	Backup
	// Master: this router advertises (and, once prepared, holds the VIPs).
	Master
	// Fault: the group cannot serve (link down, source address missing).
	Fault
	// Disabled: the group is configured with `disable` (VR-B32).
	Disabled
)

// String returns the state as `show vrrp` prints it.
func (s State) String() string {
	switch s {
	case Init:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	case Disabled:
		return "DISABLED"
	}
	return "UNKNOWN"
}

// OwnerPriority is the priority of the address owner (VR-B35): it becomes
// MASTER at once on start and always preempts.
const OwnerPriority = 255

// Config is the part of a group's configuration the state machine needs.
type Config struct {
	// Version is the VRRP version: 2 (RFC 3768) or 3 (RFC 5798).
	Version int
	// Priority is 1..255; 255 means address owner.
	Priority uint8
	// AdvertInterval is the configured advertisement interval: whole
	// seconds for version 2, centiseconds for version 3.
	AdvertInterval time.Duration
	// Preempt lets a higher-priority backup take over from a lower master
	// (VR-B08). Forced on for the owner (VR-B10).
	Preempt bool
	// PreemptDelay is how long a backup waits before preempting (VR-B09).
	PreemptDelay time.Duration
	// PrimaryIP is this router's advertisement source address, compared
	// with a peer's on equal priority (VR-B06).
	PrimaryIP netip.Addr
}

// owner reports whether the group is the address owner.
func (c Config) owner() bool { return c.Priority == OwnerPriority }

// mayPreempt reports whether the configuration allows preemption at all.
func (c Config) mayPreempt() bool { return c.Preempt || c.owner() }

// Event is an input to Machine.Handle. The set is closed: only the types of
// this package implement it.
type Event interface{ isEvent() }

// Start starts a group from INIT (daemon start, group added).
type Start struct{}

// Shutdown stops a group and returns it to INIT; a master resigns (VR-B12,
// VR-B34).
type Shutdown struct{}

// Disable stops a group and marks it DISABLED; a master resigns (VR-B32).
type Disable struct{}

// Enable starts a DISABLED group again, as from INIT (VR-B32).
type Enable struct{}

// LinkDown reports that the parent interface lost its link or was removed
// (a FAULT cause, VR-B30).
type LinkDown struct{}

// LinkUp reports that the parent interface is usable again.
type LinkUp struct{}

// AddressLost reports that the advertisement source address is missing (a
// FAULT cause, VR-B30).
type AddressLost struct{}

// AddressRestored reports that the source address is present again.
type AddressRestored struct{}

// Advert is a received advertisement for this group that already passed
// validation (TTL, version, checksum, authentication, interval for v2).
type Advert struct {
	Priority uint8
	Source   netip.Addr
	// Interval is the sender's advertisement interval; a version 3 backup
	// adopts it (RFC 5798 §6.4.2).
	Interval time.Duration
}

// TimerFired reports that the deadline returned by NextDeadline passed.
type TimerFired struct{}

// GatesDone reports that the takeover gates are settled: every holder
// answered, or the gate deadline passed, or there was no gate.
type GatesDone struct{}

// ResetMaster is `reset vrrp master` (VR-O05): a MASTER resigns and becomes
// BACKUP; any other state ignores it.
type ResetMaster struct{}

// Demotion sets whether a consumer holds a demotion: while held, the group
// does not preempt a healthy master (ARCHITECTURE.md, takeover gates).
type Demotion struct{ Held bool }

// ForceBackup is a sync group command: a MASTER resigns to BACKUP because
// another member left MASTER (VR-B27).
type ForceBackup struct{ Reason string }

// ForceMaster is a sync group command: a BACKUP takes over because another
// member became MASTER (VR-B28).
type ForceMaster struct{ Reason string }

// SyncHold is a sync group command: while held (a member is in FAULT) the
// group stays BACKUP, resigning if it is MASTER (VR-B27).
type SyncHold struct {
	Held   bool
	Reason string
}

func (Start) isEvent()           {}
func (Shutdown) isEvent()        {}
func (Disable) isEvent()         {}
func (Enable) isEvent()          {}
func (LinkDown) isEvent()        {}
func (LinkUp) isEvent()          {}
func (AddressLost) isEvent()     {}
func (AddressRestored) isEvent() {}
func (Advert) isEvent()          {}
func (TimerFired) isEvent()      {}
func (GatesDone) isEvent()       {}
func (ResetMaster) isEvent()     {}
func (Demotion) isEvent()        {}
func (ForceBackup) isEvent()     {}
func (ForceMaster) isEvent()     {}
func (SyncHold) isEvent()        {}

// Action is an output of Machine.Handle for the engine to execute, in
// order. The set is closed: only the types of this package implement it.
type Action interface{ isAction() }

// SendAdvert sends one advertisement with this priority; 0 means the
// master resigns (VR-B12).
type SendAdvert struct{ Priority uint8 }

// PrepareDataPlane starts the takeover gates (send Prepare to holders).
type PrepareDataPlane struct{}

// CancelPrepare abandons a pending gate wait: the group left MASTER before
// its data plane was ready.
type CancelPrepare struct{}

// AddVIPs adds the virtual addresses (VR-B13).
type AddVIPs struct{}

// RemoveVIPs removes the virtual addresses (VR-B15).
type RemoveVIPs struct{}

// SendGARP sends gratuitous ARP (and unsolicited NA) for every VIP (VR-B14).
type SendGARP struct{}

// RunScript runs the transition script for the state entered (VR-B31).
type RunScript struct{ State State }

// Transition publishes a state change with a human-readable reason.
type Transition struct {
	From, To State
	Reason   string
}

func (SendAdvert) isAction()       {}
func (PrepareDataPlane) isAction() {}
func (CancelPrepare) isAction()    {}
func (AddVIPs) isAction()          {}
func (RemoveVIPs) isAction()       {}
func (SendGARP) isAction()         {}
func (RunScript) isAction()        {}
func (Transition) isAction()       {}
