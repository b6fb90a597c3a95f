package engine

import (
	"time"

	"github.com/hasuite/hasuite/pkg/bus"
)

// Mode is ctsyncd's own failover state, derived from its producer's group
// (CS-Q03, CS-Q12): the cluster group ACTIVE here or the VRRP sync group
// MASTER is PRIMARY; STANDBY or BACKUP is BACKUP; anything else (DOWN,
// FAULT, the producer gone or without the group) is FAULT.
type Mode uint8

const (
	// ModeNone: no state from the producer yet (`none` in the status).
	ModeNone Mode = iota
	ModePrimary
	ModeBackup
	ModeFault
)

var modeNames = [...]string{"none", "PRIMARY", "BACKUP", "FAULT"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "UNKNOWN"
}

// modeOf maps a producer state to a mode.
func modeOf(s bus.State) Mode {
	switch {
	case s.Primary():
		return ModePrimary
	case s == bus.StateBackup || s == bus.StateStandby || s == bus.StateInit:
		return ModeBackup
	}
	return ModeFault
}

// Step is one action of a transition, in the order a transition lists them.
type Step uint8

const (
	// StepCommit writes the external cache into the kernel (CS-B11 1)
	// and then rebuilds the internal cache from a kernel dump (CS-B11 3):
	// the commit mutes the event listener, so the dump is what tells the
	// internal cache what was written.
	StepCommit Step = iota + 1
	// StepFlushExternal empties the external cache once committed (CS-B11 2).
	StepFlushExternal
	// StepSendFull sends the whole internal cache to the peer (CS-B11 4).
	StepSendFull
	// StepRequestResync asks the peer for its whole table (CS-B12).
	StepRequestResync
	// StepShortenTimeouts gives the entries this node owned a short
	// timeout, so stale ones expire instead of lingering for days
	// (CS-B13; conntrackd -t).
	StepShortenTimeouts
)

var stepNames = [...]string{"", "commit", "flush-external", "send-full",
	"request-resync", "shorten-timeouts"}

func (s Step) String() string {
	if int(s) < len(stepNames) {
		return stepNames[s]
	}
	return "step?"
}

// controller follows the producer's group, level-triggered (CS-B10): every
// update carries the current state, and it acts only when the mode it
// maps to differs from the current one. It is pure: the engine performs
// the steps it returns.
type controller struct {
	mode   Mode
	since  time.Time // of the last transition; zero before the first
	reason string    // the producer's, with the state
	// committed: a takeover gate's prepare committed the external cache
	// since this node last left PRIMARY, so the PRIMARY that follows does
	// not commit it twice.
	committed bool
}

// onUpdate takes the producer's current state and returns the steps of
// the transition it causes, if any.
func (c *controller) onUpdate(now time.Time, s bus.State, reason string) []Step {
	next := modeOf(s)
	if next != ModePrimary {
		// A prepare followed by anything but PRIMARY is an aborted
		// takeover: the next one must commit again. (A stale update
		// overtaken by the prepare costs a second commit, which is
		// harmless: it updates what is there.)
		c.committed = false
	}
	if next == c.mode {
		return nil
	}
	prev := c.mode
	c.mode, c.since, c.reason = next, now, reason
	switch next {
	case ModePrimary:
		steps := []Step{StepCommit, StepFlushExternal, StepSendFull}
		if c.committed {
			steps = steps[1:]
		}
		c.committed = false
		return steps
	case ModeBackup:
		return []Step{StepRequestResync}
	default:
		// Only the producer's own word shortens the timeouts: a producer
		// gone (a vrrpd restart, an upgrade) says nothing about where
		// the traffic is, and a minute's timeout would drop every idle
		// connection of a router that is still the master.
		if prev == ModePrimary && s != bus.StateProducerGone && s != bus.StateUnknownGroup {
			return []Step{StepShortenTimeouts}
		}
		return nil
	}
}

// onPrepare answers a takeover gate (issue 5): the producer is about to
// bring up its addresses here, so the external cache must be in the
// kernel first. It returns whether to commit now; a node already PRIMARY
// has nothing to add.
func (c *controller) onPrepare() bool {
	if c.mode == ModePrimary || c.committed {
		return false
	}
	c.committed = true
	return true
}
