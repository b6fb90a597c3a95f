// Package engine runs vrrpd's groups: it owns every group's fsm.Machine,
// socket, timers and kernel state on one goroutine (Run), and turns the
// machines' actions into adverts, virtual addresses, announcements, scripts
// and bus transitions.
//
// Everything that happens elsewhere comes to the loop as a message: received
// adverts from one receive goroutine per group, timer expiries, takeover gate
// results, kernel link and address events, demotion changes, and the
// requests of the API (Apply, Status, ResetMaster, Shutdown). Nothing but the
// loop reads or writes a group, so no group state needs a lock.
//
// A reload (Apply) follows config.Diff: added groups start, removed groups
// resign and clean up, changed groups are reconfigured in place when only
// the state machine's settings changed and restarted otherwise, and
// unchanged groups are left alone, keeping their state and timers (VR-B33).
package engine
