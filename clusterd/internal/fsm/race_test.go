//go:build race

package fsm

// The race detector slows the simulation tenfold; it has no shared memory
// to check, so fewer seeds suffice there.
func init() { raceEnabled = true }
