package fsm

import (
	"fmt"
	"testing"
	"time"
)

// t0 is the arbitrary origin of every test's time line.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const ms = time.Millisecond

// cfg returns a configuration with test-sized timers: keepalive 200 ms,
// dead-interval 1 s, init-dead 5 s, two monitors, non-revertive.
func cfg(role Role) Config {
	return Config{Role: role, Keepalive: 200 * ms, DeadInterval: time.Second, InitDead: 5 * time.Second, Monitors: 2}
}

// harness plays the engine for one Machine: it fires timers in time order
// and answers Prepare, AcquireResources and ReleaseResources at once
// unless told to hold them. The peer is the test, through its heartbeats.
type harness struct {
	t   *testing.T
	m   *Machine
	now time.Time
	// holdGates, holdStart, holdStop keep the engine from answering, so a
	// test can observe the phase in between and answer itself.
	holdGates, holdStart, holdStop bool
	// failStart answers AcquireResources with ResourcesFailed.
	failStart string
	log       []stamped
}

type stamped struct {
	at time.Duration // since t0
	a  Action
}

func newHarness(t *testing.T, c Config) *harness {
	t.Helper()
	m, err := New(c)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return &harness{t: t, m: m, now: t0}
}

// advance fires every deadline up to t0+d, then sets the clock to t0+d.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	end := t0.Add(d)
	if end.Before(h.now) {
		h.t.Fatalf("advance to %v: time already at %v", d, h.now.Sub(t0))
	}
	for range 100000 {
		next, ok := h.m.NextDeadline()
		if !ok || next.After(end) {
			h.now = end
			return
		}
		if next.Before(h.now) {
			h.t.Fatalf("deadline %v is in the past at %v", next.Sub(t0), h.now.Sub(t0))
		}
		h.now = next
		h.handle(TimerFired{})
	}
	h.t.Fatalf("advance to %v: timer loop did not end", d)
}

// at advances to t0+d and handles ev there; it returns the actions of ev
// and of the engine's answers to them.
func (h *harness) at(d time.Duration, ev Event) []Action {
	h.t.Helper()
	h.advance(d)
	return h.handle(ev)
}

func (h *harness) handle(ev Event) []Action {
	acts := h.m.Handle(h.now, ev)
	for _, a := range acts {
		h.log = append(h.log, stamped{at: h.now.Sub(t0), a: a})
	}
	var more []Action
	for _, a := range acts {
		switch a.(type) {
		case Prepare:
			if !h.holdGates {
				more = append(more, h.handle(GatesDone{})...)
			}
		case AcquireResources:
			switch {
			case h.holdStart:
			case h.failStart != "":
				more = append(more, h.handle(ResourcesFailed{Reason: h.failStart})...)
			default:
				more = append(more, h.handle(ResourcesStarted{})...)
			}
		case ReleaseResources:
			if !h.holdStop {
				more = append(more, h.handle(ResourcesStopped{})...)
			}
		}
	}
	return append(acts, more...)
}

// peerEvery sends the peer heartbeat hb every keepalive from from, and a
// last one at to, firing local timers in between.
func (h *harness) peerEvery(from, to time.Duration, hb Heartbeat) {
	h.t.Helper()
	for at := from; at < to; at += h.m.Config().Keepalive {
		h.at(at, hb)
	}
	h.at(to, hb)
}

// transitions returns the transitions logged so far.
func (h *harness) transitions() []stamped {
	var ts []stamped
	for _, s := range h.log {
		if _, ok := s.a.(Transition); ok {
			ts = append(ts, s)
		}
	}
	return ts
}

// lastTransition returns the last transition logged and when.
func (h *harness) lastTransition() (Transition, time.Duration) {
	h.t.Helper()
	ts := h.transitions()
	if len(ts) == 0 {
		h.t.Fatal("no transition logged")
	}
	last := ts[len(ts)-1]
	return last.a.(Transition), last.at
}

// first returns the first logged action of type T at or after since.
func first[T Action](h *harness, since time.Duration) (T, time.Duration, bool) {
	for _, s := range h.log {
		if a, ok := s.a.(T); ok && s.at >= since {
			return a, s.at, true
		}
	}
	var zero T
	return zero, 0, false
}

func lastOf[T Action](acts []Action) (T, bool) {
	var zero T
	for i := len(acts) - 1; i >= 0; i-- {
		if a, ok := acts[i].(T); ok {
			return a, true
		}
	}
	return zero, false
}

// kinds returns the action types' names in order, heartbeats left out
// unless they claim something notable, for compact comparisons.
func kinds(acts []Action) []string {
	var names []string
	for _, a := range acts {
		switch a := a.(type) {
		case SendHeartbeat:
			names = append(names, "Heartbeat("+claimString(a.Claim)+")")
		case SendLeaving:
			names = append(names, "Leaving")
		case Prepare:
			names = append(names, "Prepare")
		case CancelPrepare:
			names = append(names, "CancelPrepare")
		case AcquireResources:
			names = append(names, "Acquire")
		case ReleaseResources:
			names = append(names, "Release")
		case Transition:
			names = append(names, a.From.String()+"->"+a.To.String())
		case SplitBrainDetected:
			names = append(names, "SplitBrain")
		case CommandResult:
			names = append(names, fmt.Sprintf("Command(%v)", a.Accepted))
		}
	}
	return names
}

func claimString(c Claim) string {
	s := "free"
	if c.Holds {
		s = "holds"
	}
	if c.Releasing {
		s += ",releasing"
	}
	if c.FailedStart {
		s += ",failed"
	}
	if c.Standby {
		s += ",standby"
	}
	if c.Takeover {
		s += ",takeover"
	}
	if c.Demoted {
		s += ",demoted"
	}
	return s
}

// peerHB is a heartbeat from the peer of a node with role local: holding or
// not, all of two monitors reachable.
func peerHB(local Role, holds bool) Heartbeat {
	return Heartbeat{Link: "eth0", Role: local.other(), Claim: Claim{Holds: holds, Reachable: 2, Total: 2}}
}

// with returns hb changed by edit.
func with(hb Heartbeat, edit func(*Heartbeat)) Heartbeat {
	edit(&hb)
	return hb
}

// activeAlone returns a harness whose node holds the resources after the
// startup wait passed without a peer.
func activeAlone(t *testing.T, c Config) *harness {
	t.Helper()
	h := newHarness(t, c)
	h.at(0, Start{})
	h.advance(c.InitDead)
	if h.m.State() != Active || h.m.Phase() != Held {
		t.Fatalf("setup: state %v phase %v, want ACTIVE held", h.m.State(), h.m.Phase())
	}
	return h
}

// standbyBehind returns a harness whose node is STANDBY behind a peer that
// holds the resources and heartbeats until t0+until.
func standbyBehind(t *testing.T, c Config, until time.Duration) *harness {
	t.Helper()
	h := newHarness(t, c)
	h.at(0, Start{})
	h.peerEvery(100*ms, until, peerHB(c.Role, true))
	if h.m.State() != Standby {
		t.Fatalf("setup: state %v, want STANDBY", h.m.State())
	}
	return h
}

// holding returns a harness whose node holds the resources and has heard a
// peer that does not, heartbeating until t0+until.
func holding(t *testing.T, c Config, until time.Duration) *harness {
	t.Helper()
	h := activeAlone(t, c)
	h.peerEvery(c.InitDead+100*ms, until, peerHB(c.Role, false))
	if h.m.State() != Active {
		t.Fatalf("setup: state %v, want ACTIVE", h.m.State())
	}
	return h
}
