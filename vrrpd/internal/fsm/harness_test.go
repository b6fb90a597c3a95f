package fsm

import (
	"net/netip"
	"testing"
	"time"
)

// t0 is the arbitrary origin of every test's time line.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// v2 returns a version 2 configuration with the defaults of the guide.
func v2(priority uint8) Config {
	return Config{Version: 2, Priority: priority, AdvertInterval: time.Second, Preempt: true, PrimaryIP: addr("10.0.0.1")}
}

// harness plays the engine for one Machine: it fires timers in time order
// and, unless holdGates is set, answers PrepareDataPlane with GatesDone at
// once as the engine does when no gate is held.
type harness struct {
	t         *testing.T
	m         *Machine
	now       time.Time
	holdGates bool
	log       []stamped // every action, with the time it was emitted
}

type stamped struct {
	at time.Duration // since t0
	a  Action
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
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
	for {
		next, ok := h.m.NextDeadline()
		if !ok || next.After(end) {
			break
		}
		h.now = next
		h.handle(TimerFired{})
	}
	h.now = end
}

// at advances to t0+d and handles ev there; it returns the actions of ev
// alone (the gate answer included).
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
	if _, ok := lastOf[PrepareDataPlane](acts); ok && !h.holdGates {
		acts = append(acts, h.handle(GatesDone{})...)
	}
	return acts
}

// transitions returns the transitions logged so far, with their times.
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

func lastOf[T Action](acts []Action) (T, bool) {
	var zero T
	for i := len(acts) - 1; i >= 0; i-- {
		if a, ok := acts[i].(T); ok {
			return a, true
		}
	}
	return zero, false
}

// kinds returns the action types' names in order, for compact comparisons.
func kinds(acts []Action) []string {
	names := make([]string, len(acts))
	for i, a := range acts {
		switch a := a.(type) {
		case SendAdvert:
			if a.Priority == 0 {
				names[i] = "SendAdvert(0)"
			} else {
				names[i] = "SendAdvert"
			}
		case PrepareDataPlane:
			names[i] = "PrepareDataPlane"
		case CancelPrepare:
			names[i] = "CancelPrepare"
		case AddVIPs:
			names[i] = "AddVIPs"
		case RemoveVIPs:
			names[i] = "RemoveVIPs"
		case SendGARP:
			names[i] = "SendGARP"
		case RunScript:
			names[i] = "RunScript(" + a.State.String() + ")"
		case Transition:
			names[i] = a.From.String() + "->" + a.To.String()
		}
	}
	return names
}
