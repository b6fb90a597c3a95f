// Package fsm is the VRRP state machine of one group (RFC 3768 §6, RFC 5798
// §6, spec VR-B04..B12, VR-B27..B33, VR-O05) as pure code: a Machine takes an
// Event and the current time and returns the Actions to perform. It does no
// I/O, reads no clock and starts no goroutine, so every election and timer
// rule is tested with explicit times.
//
// # How the engine drives a Machine
//
// The engine owns one Machine per group and feeds it, one at a time:
// Start/Shutdown/Enable/Disable from the configuration, LinkDown/LinkUp and
// AddressLost/AddressRestored from netlink, Advert for every advertisement
// that passed validation (VR-B21..B24), TimerFired when its timer expires,
// GatesDone when the takeover gates are settled, ResetMaster from the CLI,
// Demotion from demotion holders, and the sync
// group's commands (see SyncGroup); a reload calls Reconfigure. After every Handle it executes the
// returned actions in order (a switch over the closed Action set) and re-arms
// its single timer to NextDeadline.
//
// # Takeover in two phases
//
// On its way to MASTER a group claims the role at once (Transition to
// MASTER, SendAdvert) so the election stays stable, but its data plane is
// PREPARING: the machine emits PrepareDataPlane and adds the virtual
// addresses (AddVIPs, SendGARP, RunScript master) only on GatesDone. The
// engine answers PrepareDataPlane with GatesDone at once when no gate is
// held, and otherwise when every holder answered or the gate deadline passed
// (it counts and logs those outcomes itself). Leaving MASTER while still
// preparing emits CancelPrepare instead of RemoveVIPs.
package fsm
