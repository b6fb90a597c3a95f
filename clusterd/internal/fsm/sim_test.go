package fsm

import (
	"cmp"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// sim is a deterministic simulation of the two nodes of a cluster: each
// runs a Machine and a fake shell (gates, resources), and heartbeats cross
// a fake network with latency, loss and partitions, on a fake clock.
// Nodes crash, restart, stop cleanly, lose monitors and fail to start
// their resources; the invariants of CL-B16/B19/B20/B21 are checked
// throughout.
type sim struct {
	t     *testing.T
	seed  uint64
	rng   *rand.Rand
	now   time.Time
	cfg   Config // the shared part; Role per node
	nodes [2]*simNode
	queue []simEvent
	seq   int

	// loss is the probability that a heartbeat is lost; cut[i] stops
	// every heartbeat from node i to the other.
	loss float64
	cut  [2]bool
	// cleanSince is when the network last became perfect (no loss, no
	// cut); zero while it is not.
	cleanSince time.Time

	// Both-ACTIVE tracking (published state) and both-started tracking
	// (the shells' resources really up on both).
	bothActiveSince, bothStartedSince time.Time

	trace []string
	steps int
	stats *simStats
}

// simStats counts what the simulation exercised, to show it is not vacuous.
type simStats struct {
	acquisitions, splitBrains, failedStarts, leavings, crashes int
}

func (st simStats) String() string {
	return fmt.Sprintf("%d acquisitions, %d split brains, %d failed starts, %d clean stops, %d crashes",
		st.acquisitions, st.splitBrains, st.failedStarts, st.leavings, st.crashes)
}

type simNode struct {
	role Role
	m    *Machine
	// epoch changes at every crash or restart, so answers and heartbeats
	// in flight to the old process are dropped.
	epoch int
	up    bool // the process runs (its machine may be stopping)
	// reachable is how many of the two monitors the node reaches.
	reachable int
	// broken makes the next starts fail (a service script exits 1).
	broken bool
	// demoted: a bus consumer holds a demotion on the node.
	demoted bool
	// started: the fake shell's resources are up on the node.
	started bool
	seq     uint64
}

type simEvent struct {
	at    time.Time
	seq   int
	node  int
	epoch int
	ev    Event
}

// simSeeds is how many seeds each simulation runs; raise it to hunt for
// rare interleavings (go test -run Simulated -sim-seeds 5000). Zero: 150,
// or 30 under the race detector.
var simSeeds = flag.Uint64("sim-seeds", 0, "seeds per simulated-cluster test (0: default)")

// raceEnabled is set by race_test.go.
var raceEnabled bool

func seeds() uint64 {
	switch {
	case *simSeeds > 0:
		return *simSeeds
	case raceEnabled:
		return 30
	}
	return 150
}

// simVerbose traces every heartbeat sent, for debugging a seed.
var simVerbose = false

// simSlowStop is the duration of the occasional slow stop.
const simSlowStop = 1500 * ms

// simMaxLatency bounds the one-way heartbeat delay.
const simMaxLatency = 5 * ms

func newSim(t *testing.T, seed uint64, autoFailback bool, stats *simStats) *sim {
	s := &sim{t: t, seed: seed, stats: stats, rng: rand.New(rand.NewPCG(seed, 42)), now: t0, cleanSince: t0}
	s.cfg = Config{Keepalive: 200 * ms, DeadInterval: time.Second, InitDead: 3 * time.Second, Monitors: 2, AutoFailback: autoFailback}
	for i, role := range []Role{Primary, Secondary} {
		s.nodes[i] = &simNode{role: role, reachable: 2}
	}
	return s
}

func (s *sim) logf(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%9v ", s.now.Sub(t0))+fmt.Sprintf(format, args...))
}

func (s *sim) fail(format string, args ...any) {
	s.t.Helper()
	tail := s.trace
	if len(tail) > 400 {
		tail = tail[len(tail)-400:]
	}
	s.t.Fatalf("seed %d, %v: %s\n%s", s.seed, s.now.Sub(t0), fmt.Sprintf(format, args...), strings.Join(tail, "\n"))
}

func (s *sim) schedule(d time.Duration, node int, ev Event) {
	s.seq++
	s.queue = append(s.queue, simEvent{at: s.now.Add(d), seq: s.seq, node: node, epoch: s.nodes[node].epoch, ev: ev})
}

// boot starts a fresh process on node i.
func (s *sim) boot(i int) {
	n := s.nodes[i]
	c := s.cfg
	c.Role = n.role
	m, err := New(c)
	if err != nil {
		s.t.Fatal(err)
	}
	n.m, n.up, n.started, n.seq = m, true, false, 0
	n.epoch++
	s.logf("%v boots (monitors %d, broken %v)", n.role, n.reachable, n.broken)
	s.handle(i, MonitorsChanged{Reachable: n.reachable, Total: 2})
	s.handle(i, Demotion{Held: n.demoted})
	s.handle(i, Start{})
}

// crash kills node i: a node crash takes its resources with it.
func (s *sim) crash(i int) {
	n := s.nodes[i]
	n.up, n.started, n.m = false, false, nil
	n.epoch++
	s.stats.crashes++
	s.logf("%v crashes", n.role)
}

// handle gives ev to node i's machine and plays the engine for its
// actions.
func (s *sim) handle(i int, ev Event) {
	n := s.nodes[i]
	if !n.up {
		return
	}
	s.steps++
	for _, a := range n.m.Handle(s.now, ev) {
		switch a := a.(type) {
		case SendHeartbeat:
			if simVerbose {
				s.logf("%v heartbeat %s", n.role, claimString(a.Claim))
			}
			s.send(i, Heartbeat{Role: n.role, Claim: a.Claim})
		case SendLeaving:
			s.send(i, Heartbeat{Role: n.role, Leaving: true})
			n.up = false // the process exits after its leaving heartbeat
			s.stats.leavings++
			s.logf("%v left", n.role)
		case Prepare:
			s.schedule(time.Duration(s.rng.IntN(20))*ms, i, GatesDone{})
		case AcquireResources:
			s.stats.acquisitions++
			s.schedule(time.Duration(s.rng.IntN(50))*ms, i, simStarted{})
		case ReleaseResources:
			d := time.Duration(s.rng.IntN(50)) * ms
			if s.rng.IntN(10) == 0 {
				d = simSlowStop // a stop script outlasting dead-interval
			}
			s.schedule(d, i, simStopped{})
		case Transition:
			s.logf("%v %v->%v: %s", n.role, a.From, a.To, a.Reason)
		case SplitBrainDetected:
			s.stats.splitBrains++
			s.logf("%v split brain: winner %v (%s)", n.role, a.Event.Winner, a.Event.Reason)
		}
	}
}

// simStarted and simStopped are the fake shell's completions; deliver
// turns them into the machine's events after changing the shell's state.
type simStarted struct{ Event }
type simStopped struct{ Event }

func (s *sim) send(from int, hb Heartbeat) {
	to := 1 - from
	n := s.nodes[from]
	n.seq++
	hb.Boot, hb.Seq = fmt.Sprint(n.epoch), n.seq
	for _, link := range []string{"eth0", "eth1"} {
		if s.cut[from] || s.rng.Float64() < s.loss {
			continue
		}
		hb.Link = link
		lat := simMaxLatency/10 + time.Duration(s.rng.Int64N(int64(simMaxLatency*9/10)))
		s.schedule(lat, to, hb)
	}
}

func (s *sim) deliver(e simEvent) {
	n := s.nodes[e.node]
	if e.epoch != n.epoch || !n.up {
		return
	}
	switch e.ev.(type) {
	case simStarted:
		if n.broken {
			s.stats.failedStarts++
			s.handle(e.node, ResourcesFailed{Reason: "service test: exit status 1"})
			return
		}
		n.started = true
		s.handle(e.node, ResourcesStarted{})
	case simStopped:
		n.started = false
		s.handle(e.node, ResourcesStopped{})
	default:
		s.handle(e.node, e.ev)
	}
}

// run processes deliveries and timers in time order up to now+d, checking
// the invariants after every step.
func (s *sim) run(d time.Duration) {
	end := s.now.Add(d)
	for {
		if s.steps > 2_000_000 {
			s.fail("step budget exhausted: livelock?")
		}
		slices.SortFunc(s.queue, func(a, b simEvent) int {
			return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.seq, b.seq))
		})
		next, kind := end, -1 // -1: end; 2: queue; 0/1: a node's timer
		if len(s.queue) > 0 && !s.queue[0].at.After(next) {
			next, kind = s.queue[0].at, 2
		}
		for i, n := range s.nodes {
			if !n.up {
				continue
			}
			if at, ok := n.m.NextDeadline(); ok && at.Before(next) {
				next, kind = at, i
			}
		}
		if next.Before(s.now) {
			s.fail("event at %v is in the past", next.Sub(t0))
		}
		s.now = next
		switch kind {
		case -1:
			s.check()
			return
		case 2:
			e := s.queue[0]
			s.queue = s.queue[1:]
			s.deliver(e)
		default:
			s.handle(kind, TimerFired{})
		}
		s.check()
	}
}

// setNet changes the network; the both-ACTIVE bound counts from when it
// became perfect.
func (s *sim) setNet(loss float64, cut0, cut1 bool) {
	wasClean := s.loss == 0 && !s.cut[0] && !s.cut[1]
	s.loss, s.cut = loss, [2]bool{cut0, cut1}
	clean := loss == 0 && !cut0 && !cut1
	switch {
	case clean && !wasClean:
		s.cleanSince = s.now
	case !clean:
		s.cleanSince = time.Time{}
	}
	s.logf("network: loss %.2f, cut %v", loss, s.cut)
}

// check verifies the invariant that holds at every instant: two nodes are
// ACTIVE together (and their resources up together) only while the network
// is impaired, and for at most one keepalive (+ delays) after it heals and
// both are up (CL-B16, CL-B21).
func (s *sim) check() {
	active := func(n *simNode) bool { return n.up && n.m.State() == Active }
	bound := func(since time.Time, extra time.Duration, what string) {
		from := since
		if s.cleanSince.IsZero() {
			return
		}
		if s.cleanSince.After(from) {
			from = s.cleanSince
		}
		if limit := s.cfg.Keepalive + 2*simMaxLatency + extra; s.now.Sub(from) > limit {
			s.fail("%s for %v on a healthy network (limit %v)", what, s.now.Sub(from), limit)
		}
	}
	if active(s.nodes[0]) && active(s.nodes[1]) {
		if s.bothActiveSince.IsZero() {
			s.bothActiveSince = s.now
		}
		bound(s.bothActiveSince, 0, "both ACTIVE")
	} else {
		s.bothActiveSince = time.Time{}
	}
	if s.nodes[0].started && s.nodes[1].started {
		if s.bothStartedSince.IsZero() {
			s.bothStartedSince = s.now
			// CL-B16: on a network healthy for longer than any node could
			// take to think the other dead, a handover never overlaps.
			if !s.cleanSince.IsZero() && s.now.Sub(s.cleanSince) > s.cfg.DeadInterval+s.cfg.Keepalive {
				s.fail("resources up on both nodes on a network healthy since %v", s.cleanSince.Sub(t0))
			}
		}
		// The loser's stop takes up to simSlowStop in the fake shell.
		bound(s.bothStartedSince, simSlowStop, "resources up on both nodes")
	} else {
		s.bothStartedSince = time.Time{}
	}
}

// holder returns the node holding the resources in a settled cluster, or
// -1 if none; it fails if both do.
func (s *sim) holder() int {
	h := -1
	for i, n := range s.nodes {
		if !n.up {
			continue
		}
		holds := n.m.Phase() == Held && n.m.State() == Active && n.started
		if holds && h >= 0 {
			s.fail("both nodes hold the resources")
		}
		if holds {
			h = i
		} else if n.started || n.m.State() == Active {
			s.fail("%v half-held: state %v phase %v started %v", n.role, n.m.State(), n.m.Phase(), n.started)
		}
	}
	return h
}

// settle heals the network and runs long enough for any startup wait,
// dead-interval and hold-down to pass.
func (s *sim) settle() {
	s.setNet(0, false, false)
	s.run(s.cfg.InitDead + 3*s.cfg.DeadInterval + time.Second)
}

// checkConverged verifies that a quiet cluster has exactly one holder: a
// node that can serve holds the resources (CL-B07/B08), and never one
// reaching fewer monitors than a healthy peer (CL-B11).
func (s *sim) checkConverged() int {
	h := s.holder()
	var canServe []int
	for i, n := range s.nodes {
		if n.up && !n.m.View(s.now).LocalFailed {
			canServe = append(canServe, i)
		}
	}
	if h < 0 {
		if len(canServe) > 0 {
			s.fail("nobody holds the resources although %d node(s) can serve", len(canServe))
		}
		return h
	}
	if o := s.nodes[1-h]; o.up && slices.Contains(canServe, 1-h) && o.reachable > s.nodes[h].reachable {
		s.fail("%v holds with %d monitors, the healthy peer reaches %d", s.nodes[h].role, s.nodes[h].reachable, o.reachable)
	}
	return h
}

// disturb applies one random failure or recovery. A node that is down
// comes back in 4 draws of 10, so both are up most of the time.
func (s *sim) disturb() {
	i := s.rng.IntN(2)
	n := s.nodes[i]
	r := s.rng.IntN(10)
	switch {
	case !n.up && r < 4:
		s.boot(i)
	case n.up && r == 0:
		s.crash(i)
	case n.up && r == 1:
		s.logf("%v shutdown", n.role)
		s.handle(i, Shutdown{})
	case r == 2: // a partition, one-way or both ways, or none
		s.setNet(0, s.rng.IntN(2) == 0, s.rng.IntN(2) == 0)
	case r == 3:
		s.setNet([]float64{0, 0.2, 0.5}[s.rng.IntN(3)], false, false)
	case r == 4 || r == 5:
		n.reachable = s.rng.IntN(3)
		s.logf("%v reaches %d monitors", n.role, n.reachable)
		s.handle(i, MonitorsChanged{Reachable: n.reachable, Total: 2})
	case r == 6:
		n.broken = s.rng.IntN(3) == 0
		s.logf("%v resources broken: %v", n.role, n.broken)
	case r == 7:
		n.demoted = !n.demoted
		s.logf("%v demoted: %v", n.role, n.demoted)
		s.handle(i, Demotion{Held: n.demoted})
	default:
		s.setNet(0, false, false)
	}
}

// restoreAll heals everything that is not a node being down: monitors,
// broken resources, demotions. Monitor recoveries are not failures.
func (s *sim) restoreAll() {
	for i, n := range s.nodes {
		n.broken = false
		if n.demoted {
			n.demoted = false
			s.handle(i, Demotion{Held: false})
		}
		if n.reachable != 2 {
			n.reachable = 2
			s.logf("%v reaches 2 monitors", n.role)
			s.handle(i, MonitorsChanged{Reachable: 2, Total: 2})
		}
	}
}

// bootDown boots every node that is down, once a stop in progress had
// time to end.
func (s *sim) bootDown() {
	stopping := func() bool {
		for _, n := range s.nodes {
			if n.up && n.m.State() == Stopped {
				return true
			}
		}
		return false
	}
	for range 50 {
		s.run(100 * ms)
		if !stopping() {
			break
		}
	}
	for i, n := range s.nodes {
		if !n.up {
			s.boot(i)
		}
	}
}

// TestSimulatedCluster runs two machines through random crashes,
// restarts, clean stops, partitions, lossy links, monitor losses and start
// failures; see sim.check for the invariant checked at every step. At
// checkpoints the network heals and the cluster must converge to exactly
// one holder; then bringing the other node back must not move the
// resources with auto-failback false (CL-B19), and must hand them to the
// primary with auto-failback true (CL-B20).
func TestSimulatedCluster(t *testing.T) {
	for _, autoFailback := range []bool{false, true} {
		t.Run(fmt.Sprintf("auto-failback %v", autoFailback), func(t *testing.T) {
			var stats simStats
			defer func() { t.Logf("%d seeds: %v", seeds(), stats) }()
			for seed := uint64(1); seed <= seeds(); seed++ {
				s := newSim(t, seed, autoFailback, &stats)
				s.boot(0)
				s.run(time.Duration(s.rng.IntN(4000)) * ms)
				s.boot(1)
				for epoch := range 40 {
					s.run(time.Duration(50+s.rng.IntN(3000)) * ms)
					s.disturb()
					if epoch%8 != 7 {
						continue
					}
					s.restoreAll()
					s.settle()
					before := s.checkConverged()
					s.bootDown()
					s.settle()
					after := s.checkConverged()
					switch {
					case after < 0:
						s.fail("nobody holds the resources with both nodes up and healthy")
					case !autoFailback && before >= 0 && after != before:
						s.fail("resources moved from %v to %v when the other node came back (auto-failback false)", s.nodes[before].role, s.nodes[after].role)
					case autoFailback && after != 0 && !s.nodes[0].m.View(s.now).LocalFailed:
						s.fail("the secondary holds the resources although the primary is healthy (auto-failback true)")
					}
				}
				if t.Failed() {
					return
				}
			}
		})
	}
}

// TestSimulatedOperator adds the operator's standby and takeover to random
// failures: the one-holder invariant still holds, a quiet cluster still
// converges, and a command on a quiet cluster is obeyed.
func TestSimulatedOperator(t *testing.T) {
	var stats simStats
	defer func() { t.Logf("%d seeds: %v", seeds(), stats) }()
	for seed := uint64(1); seed <= seeds(); seed++ {
		s := newSim(t, seed, seed%2 == 0, &stats)
		s.boot(0)
		s.boot(1)
		for epoch := range 30 {
			s.run(time.Duration(50+s.rng.IntN(3000)) * ms)
			if s.rng.IntN(3) == 0 {
				i := s.rng.IntN(2)
				cmd := []Event{ManualStandby{}, ManualTakeover{}}[s.rng.IntN(2)]
				s.logf("%v operator %T", s.nodes[i].role, cmd)
				s.handle(i, cmd)
			} else {
				s.disturb()
			}
			if epoch%6 != 5 {
				continue
			}
			s.restoreAll()
			s.bootDown()
			s.settle()
			h := s.checkConverged()
			if h < 0 {
				s.fail("nobody holds the resources with both nodes up and healthy")
			}
			// A takeover on the other node, then a standby on the new
			// holder, move the resources each time.
			s.logf("%v operator takeover (checked)", s.nodes[1-h].role)
			s.handle(1-h, ManualTakeover{})
			s.settle()
			if got := s.checkConverged(); got != 1-h {
				s.fail("takeover on %v: holder %d, want %d", s.nodes[1-h].role, got, 1-h)
			}
			s.logf("%v operator standby (checked)", s.nodes[1-h].role)
			s.handle(1-h, ManualStandby{})
			s.settle()
			if got := s.checkConverged(); got != h {
				s.fail("standby on %v: holder %d, want %d", s.nodes[1-h].role, got, h)
			}
		}
	}
}

// TestCL_O01_GuideExamples plays the situations of the guide's status
// examples on two simulated nodes and checks what each node's View says
// (the show package renders it).
func TestCL_O01_GuideExamples(t *testing.T) {
	type want struct {
		local, peer NodeState
		holder      Holder
	}
	check := func(s *sim, example string, i int, w want) {
		t.Helper()
		v := s.nodes[i].m.View(s.now)
		if v.Local != w.local || v.Peer != w.peer || v.Holder != w.holder {
			t.Errorf("%s, %v's view: local %v, peer %v, holder %v; want %v, %v, %v",
				example, s.nodes[i].role, v.Local, v.Peer, v.Holder, w.local, w.peer, w.holder)
		}
	}
	s := newSim(t, 1, false, &simStats{})
	s.boot(0)
	s.boot(1)
	s.run(2 * time.Second)
	check(s, "Example 3-6", 0, want{NodeActive, NodeActiveStandby, HolderLocal})
	check(s, "Example 3-7", 1, want{NodeActiveStandby, NodeActive, HolderPeer})

	s.nodes[0].reachable = 1
	s.handle(0, MonitorsChanged{Reachable: 1, Total: 2})
	s.run(2 * time.Second)
	check(s, "Example 3-8", 0, want{NodeDownMonitor, NodeActive, HolderPeer})
	check(s, "Example 3-9", 1, want{NodeActive, NodeDownMonitor, HolderLocal})

	s.crash(0)
	s.run(2 * time.Second)
	check(s, "Example 3-10", 1, want{NodeActive, NodeDown, HolderLocal})
}
