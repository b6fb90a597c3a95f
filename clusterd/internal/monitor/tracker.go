package monitor

import (
	"net/netip"
	"slices"
	"time"
)

// State is a monitor's reachability.
type State int

const (
	// Pending: no reply yet, and monitor-dead-interval has not passed
	// since pinging began.
	Pending State = iota
	Reachable
	Unreachable
)

func (s State) String() string {
	switch s {
	case Reachable:
		return "Reachable"
	case Unreachable:
		return "Unreachable"
	}
	return "Pending"
}

// MonitorStatus is one monitor as seen by this node.
type MonitorStatus struct {
	Addr  netip.Addr
	State State
	// Since is when State was entered (for Pending: when pinging began).
	Since time.Time
	// LastReply is zero until the first reply.
	LastReply time.Time
	// Sent and Replies count echo requests sent and replies received,
	// TimesUnreachable the times it became Unreachable, since it was
	// added (for `show cluster statistics`).
	Sent, Replies, TimesUnreachable uint64
}

// Status is every monitor, in configuration order.
type Status struct {
	Monitors []MonitorStatus
}

// Reachable counts the Reachable monitors: what the peers compare
// (CL-B11).
func (s Status) Reachable() int { return s.count(Reachable) }

// Unreachable counts the Unreachable monitors; one is enough for the node
// to consider itself down (CL-B11).
func (s Status) Unreachable() int { return s.count(Unreachable) }

func (s Status) count(st State) int {
	n := 0
	for _, m := range s.Monitors {
		if m.State == st {
			n++
		}
	}
	return n
}

// Equal reports whether s and o have the same monitors in the same states,
// reply times aside.
func (s Status) Equal(o Status) bool {
	return slices.EqualFunc(s.Monitors, o.Monitors, func(a, b MonitorStatus) bool {
		return a.Addr == b.Addr && a.State == b.State
	})
}

func (s Status) clone() Status { return Status{Monitors: slices.Clone(s.Monitors)} }

// Tracker decides each monitor's state from reply times. It is not safe
// for concurrent use.
type Tracker struct {
	dead     time.Duration
	monitors []MonitorStatus
}

// NewTracker tracks monitors (duplicates count once, CL-C05) from now on,
// with dead as monitor-dead-interval.
func NewTracker(monitors []netip.Addr, dead time.Duration, now time.Time) *Tracker {
	t := &Tracker{}
	t.Reconfigure(monitors, dead, now)
	return t
}

// Reconfigure applies a reload: monitors kept keep their state and reply
// time, new ones start Pending now, removed ones are forgotten; the new
// dead interval applies from the next Expire. It reports whether the
// status changed.
func (t *Tracker) Reconfigure(monitors []netip.Addr, dead time.Duration, now time.Time) bool {
	before := t.Status()
	t.dead = dead
	next := make([]MonitorStatus, 0, len(monitors))
	for _, a := range monitors {
		if slices.ContainsFunc(next, func(m MonitorStatus) bool { return m.Addr == a }) {
			continue
		}
		if i := slices.IndexFunc(t.monitors, func(m MonitorStatus) bool { return m.Addr == a }); i >= 0 {
			next = append(next, t.monitors[i])
			continue
		}
		next = append(next, MonitorStatus{Addr: a, State: Pending, Since: now})
	}
	t.monitors = next
	return !before.Equal(t.Status())
}

// Reply records a reply from addr at now; the monitor becomes Reachable at
// once (CL-B10). It reports whether a state changed; a reply from an
// address that is not a monitor changes nothing.
func (t *Tracker) Reply(addr netip.Addr, now time.Time) bool {
	i := slices.IndexFunc(t.monitors, func(m MonitorStatus) bool { return m.Addr == addr })
	if i < 0 {
		return false
	}
	m := &t.monitors[i]
	m.LastReply = now
	m.Replies++
	if m.State == Reachable {
		return false
	}
	m.State, m.Since = Reachable, now
	return true
}

// Sent counts an echo request sent to addr; it changes no state.
func (t *Tracker) Sent(addr netip.Addr) {
	if i := slices.IndexFunc(t.monitors, func(m MonitorStatus) bool { return m.Addr == addr }); i >= 0 {
		t.monitors[i].Sent++
	}
}

// Expire marks Unreachable every monitor without a reply for the dead
// interval (CL-B10) and reports whether a state changed.
func (t *Tracker) Expire(now time.Time) bool {
	changed := false
	for i := range t.monitors {
		m := &t.monitors[i]
		if m.State != Unreachable && !now.Before(t.deadline(*m)) {
			m.State, m.Since = Unreachable, now
			m.TimesUnreachable++
			changed = true
		}
	}
	return changed
}

// deadline is when m goes Unreachable without a further reply.
func (t *Tracker) deadline(m MonitorStatus) time.Time {
	if m.State == Reachable {
		return m.LastReply.Add(t.dead)
	}
	return m.Since.Add(t.dead)
}

// NextExpiry is the earliest time Expire may change a state; ok is false
// when nothing is due (no monitor, or all Unreachable).
func (t *Tracker) NextExpiry() (next time.Time, ok bool) {
	for _, m := range t.monitors {
		if m.State == Unreachable {
			continue
		}
		if d := t.deadline(m); !ok || d.Before(next) {
			next, ok = d, true
		}
	}
	return next, ok
}

// Status returns the monitors' states, in configuration order.
func (t *Tracker) Status() Status {
	return Status{Monitors: slices.Clone(t.monitors)}
}
