package fsm

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// syncLAN simulates two routers, each running the sync group ALPHA over
// two groups on two segments (eth0/10 and eth1/20), with zero-latency
// delivery as in lan.
type syncLAN struct {
	t       *testing.T
	now     time.Time
	routers []*syncRouter
	linkUp  []map[string]bool // per router, per member
	inbox   []syncDelivery
}

type syncDelivery struct {
	router int
	member string
	ev     Event
}

var syncMembers = []string{"eth0/10", "eth1/20"}

func newSyncLAN(t *testing.T, priorities ...uint8) *syncLAN {
	l := &syncLAN{t: t, now: t0}
	for i, p := range priorities {
		cfg := v2(p)
		cfg.PrimaryIP = netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
		r := newSyncRouterWith(t, cfg, syncMembers...)
		r.send = func(member string, a SendAdvert) {
			if !l.linkUp[i][member] {
				return
			}
			for j := range l.routers {
				if j != i && l.linkUp[j][member] {
					l.inbox = append(l.inbox, syncDelivery{router: j, member: member,
						ev: Advert{Priority: a.Priority, Source: cfg.PrimaryIP, Interval: cfg.AdvertInterval}})
				}
			}
		}
		l.routers = append(l.routers, r)
		l.linkUp = append(l.linkUp, map[string]bool{"eth0/10": true, "eth1/20": true})
	}
	return l
}

func (l *syncLAN) feed(router int, member string, ev Event) {
	l.routers[router].now = l.now
	l.routers[router].feed(member, ev)
}

func (l *syncLAN) run(d time.Duration) {
	end := t0.Add(d)
	for steps := 0; ; steps++ {
		if steps > 100000 {
			l.t.Fatalf("no quiescence by %v", l.now.Sub(t0))
		}
		if len(l.inbox) > 0 {
			next := l.inbox[0]
			l.inbox = l.inbox[1:]
			l.feed(next.router, next.member, next.ev)
			continue
		}
		router, member := -1, ""
		var at time.Time
		for i, r := range l.routers {
			for _, n := range r.names {
				if next, ok := r.members[n].NextDeadline(); ok && !next.After(end) && (router < 0 || next.Before(at)) {
					router, member, at = i, n, next
				}
			}
		}
		if router < 0 {
			break
		}
		l.now = at
		l.feed(router, member, TimerFired{})
	}
	l.now = end
}

// check verifies VR-B27/B28 on a quiet segment: no router holds half of
// its sync group, no segment has two masters, and when a router is free of
// faults the best such router is master of both segments.
func (l *syncLAN) check() error {
	best := -1
	for i, r := range l.routers {
		masters := 0
		for _, n := range r.names {
			if r.members[n].State() == Master {
				masters++
			}
		}
		if masters != 0 && masters != len(r.names) {
			return fmt.Errorf("router %d holds half its sync group: %v", i, r.states())
		}
		if r.sg.State() != Fault && (best < 0 || r.members[r.names[0]].Config().Priority > l.routers[best].members[r.names[0]].Config().Priority) {
			best = i
		}
	}
	for _, n := range syncMembers {
		var masters []int
		for i, r := range l.routers {
			if r.members[n].State() == Master {
				masters = append(masters, i)
			}
		}
		if len(masters) > 1 {
			return fmt.Errorf("segment %s has masters %v", n, masters)
		}
		if best >= 0 && (len(masters) != 1 || masters[0] != best) {
			return fmt.Errorf("segment %s has masters %v, want router %d (highest without FAULT)", n, masters, best)
		}
	}
	return nil
}

func TestVR_B27_B28_SyncGroupsOnTwoRouters(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		l := newSyncLAN(t, 200, 100)
		for i := range l.routers {
			for _, n := range syncMembers {
				l.feed(i, n, Start{})
			}
		}
		elapsed := time.Duration(0)
		var ops []string
		for range 1 + rng.IntN(8) {
			elapsed += time.Duration(rng.IntN(6000)) * time.Millisecond
			l.run(elapsed)
			i, n := rng.IntN(len(l.routers)), syncMembers[rng.IntN(len(syncMembers))]
			up := !l.linkUp[i][n]
			l.linkUp[i][n] = up
			if up {
				l.feed(i, n, LinkUp{})
			} else {
				l.feed(i, n, LinkDown{})
			}
			ops = append(ops, fmt.Sprintf("%v router %d %s up=%v", elapsed, i, n, up))
		}
		l.run(elapsed + time.Minute)
		if err := l.check(); err != nil {
			t.Fatalf("seed %d after %v: %v", seed, ops, err)
		}
	}
}
