package fsm

import (
	"slices"
	"testing"
	"time"
)

// syncRouter plays the engine for the members of one sync group on one
// router: it executes member actions, reports transitions to the SyncGroup
// and feeds its commands back, answering gates at once.
type syncRouter struct {
	t       *testing.T
	now     time.Time
	names   []string
	members map[string]*Machine
	sg      *SyncGroup
	sent    map[string][]SendAdvert // adverts sent per member
	// send, if set, puts a member's advert on the wire.
	send func(member string, a SendAdvert)
}

func newSyncRouter(t *testing.T, names ...string) *syncRouter {
	t.Helper()
	return newSyncRouterWith(t, v2(100), names...)
}

func newSyncRouterWith(t *testing.T, cfg Config, names ...string) *syncRouter {
	t.Helper()
	r := &syncRouter{t: t, now: t0, names: names, members: map[string]*Machine{},
		sg: NewSyncGroup("ALPHA", names), sent: map[string][]SendAdvert{}}
	for _, n := range names {
		m, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r.members[n] = m
	}
	return r
}

func (r *syncRouter) feed(member string, ev Event) {
	queue := []Command{{Member: member, Event: ev}}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		for _, a := range r.members[c.Member].Handle(r.now, c.Event) {
			switch a := a.(type) {
			case Transition:
				queue = append(queue, r.sg.Observe(c.Member, a)...)
			case PrepareDataPlane:
				queue = append(queue, Command{Member: c.Member, Event: GatesDone{}})
			case SendAdvert:
				r.sent[c.Member] = append(r.sent[c.Member], a)
				if r.send != nil {
					r.send(c.Member, a)
				}
			}
		}
	}
}

// advance fires the members' deadlines in time order up to t0+d.
func (r *syncRouter) advance(d time.Duration) {
	end := t0.Add(d)
	for {
		var first string
		var at time.Time
		for _, n := range r.names {
			if next, ok := r.members[n].NextDeadline(); ok && !next.After(end) && (first == "" || next.Before(at)) {
				first, at = n, next
			}
		}
		if first == "" {
			break
		}
		r.now = at
		r.feed(first, TimerFired{})
	}
	r.now = end
}

func (r *syncRouter) states() []State {
	var s []State
	for _, n := range r.names {
		s = append(s, r.members[n].State())
	}
	return s
}

func TestVR_B27_B28_SyncGroup(t *testing.T) {
	eth0, eth1 := "eth0/10", "eth1/10"
	start := func(t *testing.T) *syncRouter {
		r := newSyncRouter(t, eth0, eth1)
		r.feed(eth0, Start{})
		r.advance(time.Second)
		r.feed(eth1, Start{}) // a later start: eth1's own timer expires later
		return r
	}
	t.Run("VR-B28 members enter MASTER together", func(t *testing.T) {
		r := start(t)
		r.advance(3700 * time.Millisecond)
		if got := r.states(); !slices.Equal(got, []State{Master, Master}) {
			t.Fatalf("states %v after eth0's timer, want both MASTER", got)
		}
		if r.sg.State() != Master {
			t.Errorf("sync group state %v, want MASTER", r.sg.State())
		}
	})
	t.Run("VR-B27 one member leaving MASTER takes all", func(t *testing.T) {
		r := start(t)
		r.advance(5 * time.Second)
		r.feed(eth1, Advert{Priority: 200, Source: addr("10.0.0.9")})
		if got := r.states(); !slices.Equal(got, []State{Backup, Backup}) {
			t.Fatalf("states %v, want both BACKUP", got)
		}
		// eth0 resigned so the peer router's eth0 group follows at once.
		if got := r.sent[eth0]; got[len(got)-1].Priority != 0 {
			t.Errorf("eth0's last advert %+v, want priority 0", got[len(got)-1])
		}
		if r.sg.State() != Backup {
			t.Errorf("sync group state %v, want BACKUP", r.sg.State())
		}
	})
	t.Run("VR-B27 a FAULT member holds the others in BACKUP", func(t *testing.T) {
		r := start(t)
		r.advance(5 * time.Second)
		r.feed(eth0, LinkDown{})
		if got := r.states(); !slices.Equal(got, []State{Fault, Backup}) {
			t.Fatalf("states %v, want FAULT, BACKUP", got)
		}
		r.advance(30 * time.Second)
		if got := r.states(); !slices.Equal(got, []State{Fault, Backup}) {
			t.Fatalf("states %v after the timers ran, want eth1 held in BACKUP", got)
		}
		if r.sg.State() != Fault {
			t.Errorf("sync group state %v, want FAULT", r.sg.State())
		}
		r.feed(eth0, LinkUp{})
		r.advance(35 * time.Second)
		if got := r.states(); !slices.Equal(got, []State{Master, Master}) {
			t.Errorf("states %v after recovery, want both MASTER", got)
		}
	})
	t.Run("reasons name the member and the cause", func(t *testing.T) {
		sg := NewSyncGroup("ALPHA", []string{eth0, eth1})
		sg.Observe(eth1, Transition{From: Init, To: Master})
		cmds := sg.Observe(eth0, Transition{From: Init, To: Fault, Reason: "interface link down"})
		if len(cmds) != 2 || cmds[1].Member != eth1 {
			t.Fatalf("commands %+v, want holds for both members", cmds)
		}
		hold, ok := cmds[1].Event.(SyncHold)
		if want := "sync group ALPHA: member eth0/10 in FAULT (interface link down)"; !ok || !hold.Held || hold.Reason != want {
			t.Errorf("command %+v, want SyncHold held %q", cmds[1].Event, want)
		}
		if got := sg.Observe("eth9/1", Transition{From: Init, To: Fault}); got != nil {
			t.Errorf("unknown member: commands %+v, want none", got)
		}
		if sg.Name() != "ALPHA" {
			t.Errorf("Name() = %q", sg.Name())
		}
	})
}
