package fsm

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// lan is a deterministic simulation of routers running one VRRP group on a
// shared segment: adverts are delivered with zero latency, in send order, to
// every other router whose link is up; gates are answered at once; timers
// fire in time order.
type lan struct {
	t       *testing.T
	now     time.Time
	routers []*lanRouter
	inbox   []delivery
	trace   []string // for failure messages
}

type lanRouter struct {
	ip     netip.Addr
	m      *Machine
	linkUp bool
}

type delivery struct {
	to int
	ev Event
}

func newLAN(t *testing.T, cfgs []Config) *lan {
	l := &lan{t: t, now: t0}
	for _, cfg := range cfgs {
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		l.routers = append(l.routers, &lanRouter{ip: cfg.PrimaryIP, m: m, linkUp: true})
	}
	return l
}

// handle gives ev to router i and carries out its actions.
func (l *lan) handle(i int, ev Event) {
	r := l.routers[i]
	for _, a := range r.m.Handle(l.now, ev) {
		switch a := a.(type) {
		case SendAdvert:
			if !r.linkUp {
				continue
			}
			for j, peer := range l.routers {
				if j != i && peer.linkUp {
					l.inbox = append(l.inbox, delivery{to: j, ev: Advert{Priority: a.Priority, Source: r.ip, Interval: r.m.Config().AdvertInterval}})
				}
			}
		case PrepareDataPlane:
			l.inbox = append(l.inbox, delivery{to: i, ev: GatesDone{}})
		case Transition:
			l.trace = append(l.trace, fmt.Sprintf("%8v %v %v->%v: %s", l.now.Sub(t0), r.ip, a.From, a.To, a.Reason))
		}
	}
}

// run delivers pending adverts and fires timers up to t0+d.
func (l *lan) run(d time.Duration) {
	end := t0.Add(d)
	// Adverts answered at once can cascade, but a correct machine sends a
	// bounded number per instant; more is a livelock.
	const maxPerInstant = 1000
	delivered, instant := 0, l.now
	for {
		if len(l.inbox) > 0 {
			if l.now != instant {
				delivered, instant = 0, l.now
			}
			if delivered++; delivered > maxPerInstant {
				l.t.Fatalf("livelock: more than %d deliveries at %v\n%s", maxPerInstant, l.now.Sub(t0), strings.Join(l.trace, "\n"))
			}
			next := l.inbox[0]
			l.inbox = l.inbox[1:]
			l.handle(next.to, next.ev)
			continue
		}
		first := -1
		var at time.Time
		for i, r := range l.routers {
			if next, ok := r.m.NextDeadline(); ok && !next.After(end) && (first < 0 || next.Before(at)) {
				first, at = i, next
			}
		}
		if first < 0 {
			break
		}
		l.now = at
		l.handle(first, TimerFired{})
	}
	l.now = end
}

// disturb applies one random operator or link event to one router.
func (l *lan) disturb(rng *rand.Rand) {
	i := rng.IntN(len(l.routers))
	r := l.routers[i]
	switch {
	case !r.linkUp:
		r.linkUp = true
		l.handle(i, LinkUp{})
	case r.m.State() == Init:
		l.handle(i, Start{})
	case rng.IntN(2) == 0:
		l.handle(i, Shutdown{})
	default:
		// The link goes before the machine hears of it: nothing more is
		// sent or received.
		r.linkUp = false
		l.handle(i, LinkDown{})
	}
}

// masters returns the routers in MASTER, and whether the live routers (link
// up, started) expect one.
func (l *lan) masters() (masters []int, live []int) {
	for i, r := range l.routers {
		if r.m.State() == Master {
			masters = append(masters, i)
		}
		if r.linkUp && r.m.State() != Init {
			live = append(live, i)
		}
	}
	return masters, live
}

// TestLANConvergesToOneMaster is VR-B04..B12 together: after any sequence
// of starts, stops and link cuts, a quiet segment converges to exactly one
// MASTER with its data plane ready; with distinct priorities and preemption
// it is the highest-priority router.
func TestLANConvergesToOneMaster(t *testing.T) {
	tests := []struct {
		name string
		// distinct: priorities differ and every router preempts, so the
		// winner is known; otherwise priorities tie and preempt varies.
		distinct bool
	}{
		{"distinct priorities with preemption elect the highest", true},
		{"ties and mixed preemption still elect exactly one", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 300; seed++ {
				rng := rand.New(rand.NewPCG(seed, 0))
				cfgs := randomRouters(rng, tt.distinct)
				l := newLAN(t, cfgs)
				for i := range l.routers {
					l.handle(i, Start{})
				}
				elapsed := time.Duration(0)
				for range 1 + rng.IntN(12) {
					elapsed += time.Duration(rng.IntN(6000)) * time.Millisecond
					l.run(elapsed)
					l.disturb(rng)
				}
				l.run(elapsed + time.Minute)
				if err := l.check(tt.distinct); err != nil {
					t.Fatalf("seed %d, routers %+v: %v\n%s", seed, cfgs, err, strings.Join(l.trace, "\n"))
				}
			}
		})
	}
}

// randomRouters returns 2-3 routers of one group: version 2 at 1 s or
// version 3 at 100 ms (the same on all, as VR-B21 requires), some with a
// preempt-delay.
func randomRouters(rng *rand.Rand, distinct bool) []Config {
	n := 2 + rng.IntN(2)
	priorities := rng.Perm(254)[:n] // distinct, 0..253
	version3 := rng.IntN(2) == 0
	var cfgs []Config
	for i := range n {
		cfg := v2(uint8(priorities[i] + 1))
		cfg.PrimaryIP = netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
		if version3 {
			cfg.Version, cfg.AdvertInterval = 3, 100*time.Millisecond
		}
		cfg.PreemptDelay = []time.Duration{0, 0, 500 * time.Millisecond, 3 * time.Second}[rng.IntN(4)]
		if !distinct {
			cfg.Priority = []uint8{100, 100, 200, 255}[rng.IntN(4)]
			cfg.Preempt = rng.IntN(2) == 0
		}
		cfgs = append(cfgs, cfg)
	}
	return cfgs
}

func (l *lan) check(knownWinner bool) error {
	masters, live := l.masters()
	if len(live) == 0 {
		if len(masters) != 0 {
			return fmt.Errorf("routers %v MASTER with no live router", masters)
		}
		return nil
	}
	if len(masters) != 1 {
		return fmt.Errorf("MASTER routers %v, want exactly one among live %v", masters, live)
	}
	winner := l.routers[masters[0]]
	if winner.m.Preparing() {
		return fmt.Errorf("master %v still preparing", winner.ip)
	}
	if !knownWinner {
		return nil
	}
	for _, i := range live {
		if p := l.routers[i].m.Config().Priority; p > winner.m.Config().Priority {
			return fmt.Errorf("master %v priority %d, but live router %v has priority %d",
				winner.ip, winner.m.Config().Priority, l.routers[i].ip, p)
		}
	}
	return nil
}
