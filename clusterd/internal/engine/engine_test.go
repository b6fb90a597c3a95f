package engine

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/monitor"
	"github.com/hasuite/hasuite/clusterd/internal/wire"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// TestCL_B07StartupElection: started together, the primary acquires the
// resources (cluster IP, then the init script) and the secondary is
// standby; both publish it on the bus and the status shows the peer.
func TestCL_B07StartupElection(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	if r2.hasIP() || slices.Contains(r2.scripts.get(), "web start") {
		t.Errorf("the secondary started resources: kernel %q scripts %v", r2.kern.String(), r2.scripts.get())
	}
	if got := r1.scripts.get(); !slices.Equal(got, []string{"web start"}) {
		t.Errorf("R1 scripts %v, want [web start]", got)
	}
	if got, want := r1.kern.String(), "10.6.0.100/24 brd 10.6.0.255 dev eth2 label eth2:0"; !strings.Contains(got, "10.6.0.100/24") {
		t.Errorf("R1 kernel %q, want %q", got, want)
	}
	if a, s := r1.busState(), r2.busState(); a != busv1.State_STATE_ACTIVE || s != busv1.State_STATE_STANDBY {
		t.Errorf("bus: R1 %v R2 %v, want ACTIVE and STANDBY (CL-B22)", a, s)
	}
	l.advance(3 * keepalive)
	st := r1.status()
	switch {
	case !st.Configured || st.NotMember:
		t.Errorf("configured %v not member %v", st.Configured, st.NotMember)
	case st.Peer.Name != "R2" || st.Peer.UID != r2.uid || st.Peer.ConfigMismatch:
		t.Errorf("peer %+v", st.Peer)
	case len(st.Peer.Links) != 2:
		t.Errorf("peer heard on %v, want eth0 and eth1 (CL-B04)", st.Peer.Links)
	case len(st.Links) != 2 || !st.Links[0].Up || !st.Links[1].Up:
		t.Errorf("links %+v", st.Links)
	case st.Counters.HeartbeatsSent == 0 || st.Counters.HeartbeatsReceived == 0 || st.Counters.Acquisitions != 1:
		t.Errorf("counters %+v", st.Counters)
	case len(st.Monitors) != 1 || st.Monitors[0].State != monitor.Reachable:
		t.Errorf("monitors %+v", st.Monitors)
	case len(st.Services) != 2 || st.Services[1].Phase.String() != "running":
		t.Errorf("services %+v", st.Services)
	case st.LastFailover.IsZero():
		t.Errorf("no last failover")
	}
	for _, n := range []*node{r1, r2} {
		if d := n.status().Counters.Drops; d["replay"]+d["bad_mac"]+d["malformed"] != 0 {
			t.Errorf("%s dropped heartbeats: %v", n.name, d)
		}
	}
}

// TestCL_B07AloneAfterInitDead: a node whose peer never appears takes the
// resources after init-dead-interval, whatever its role.
func TestCL_B07AloneAfterInitDead(t *testing.T) {
	l := newLab(t)
	r2 := l.node("R2", 2)
	r2.start(parse(t, spec{}))
	took := l.until("R2 holding alone", 2*initDead, r2.holds)
	if took < initDead-keepalive {
		t.Errorf("R2 took the resources after %v, before init-dead %v", took, initDead)
	}
	if r2.status().View.Local != fsm.NodeActive {
		t.Errorf("local state %v", r2.status().View.Local)
	}
}

// TestCL_B08PrimaryCrash: the secondary takes over dead-interval after the
// primary's last heartbeat, not before.
func TestCL_B08PrimaryCrash(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	r1.crash()
	took := l.until("R2 holding after R1's crash", dead+10*keepalive, r2.holds)
	if took < dead-2*keepalive {
		t.Errorf("R2 took over after %v, before dead-interval %v", took, dead)
	}
	st := r2.status()
	if st.Counters.PeerDeclaredDead != 1 || st.View.Peer != fsm.NodeDown {
		t.Errorf("peer %v, declared dead %d times", st.View.Peer, st.Counters.PeerDeclaredDead)
	}
	if r2.busState() != busv1.State_STATE_ACTIVE {
		t.Errorf("bus %v", r2.busState())
	}
}

// TestCL_B24CleanStop: a clean stop releases everything (scripts in
// reverse, then the cluster IP) and the leaving heartbeat lets the peer
// take over at once, not after dead-interval.
func TestCL_B24CleanStop(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	r1.shutdown()
	took := l.until("R2 holding after R1's clean stop", dead, r2.holds)
	if took > 4*keepalive {
		t.Errorf("R2 took over %v after the stop; the leaving heartbeat should make it immediate", took)
	}
	if r1.hasIP() {
		t.Errorf("R1 kernel not clean after stop: %q", r1.kern.String())
	}
	if got := r1.scripts.get(); !slices.Equal(got, []string{"web start", "web stop"}) {
		t.Errorf("R1 scripts %v", got)
	}
	if got := r1.status(); got.Configured || r1.busState() != busv1.State_STATE_INIT {
		t.Errorf("after shutdown: configured %v, bus %v", got.Configured, r1.busState())
	}
	if st := r2.status(); !st.View.PeerLeft || st.Counters.PeerDeclaredDead != 0 {
		t.Errorf("R2: peer left %v, declared dead %d", st.View.PeerLeft, st.Counters.PeerDeclaredDead)
	}
}

// TestCL_B11MonitorLoss: the holder that loses its monitor while the
// standby still reaches it gives the resources up (ipfail).
func TestCL_B11MonitorLoss(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	r1.reach.set(monitorAddr, false)
	took := l.until("R2 holding after R1 lost its monitor", monDead+dead, r2.holds)
	if took < monDead-2*keepalive {
		t.Errorf("moved after %v, before monitor-dead-interval %v", took, monDead)
	}
	st := r1.status()
	if st.View.State != fsm.Down || st.View.Local != fsm.NodeDownMonitor || r1.hasIP() {
		t.Errorf("R1: state %v local %v kernel %q", st.View.State, st.View.Local, r1.kern.String())
	}
	if r1.busState() != busv1.State_STATE_DOWN {
		t.Errorf("R1 bus %v, want DOWN", r1.busState())
	}
	if v := r2.status().View; v.Peer != fsm.NodeDownMonitor {
		t.Errorf("R2 sees the peer %v", v.Peer)
	}
}

// TestCL_B19NoFailback / B20: after the primary comes back, the resources
// stay on the secondary with auto-failback false and go back with true.
func TestCL_B19B20Failback(t *testing.T) {
	for _, auto := range []bool{false, true} {
		t.Run(map[bool]string{false: "auto-failback false", true: "auto-failback true"}[auto], func(t *testing.T) {
			s := spec{autoFailback: auto}
			l, r1, r2 := pair(t, s)
			r1.crash()
			l.until("R2 holding", dead+10*keepalive, r2.holds)
			r1.start(parse(t, s))
			if r1.hasIP() {
				t.Fatalf("the restarted R1 kept the leftover cluster IP: %q", r1.kern.String())
			}
			if !auto {
				l.until("R1 standby", initDead, func() bool { return r1.state() == fsm.Standby })
				l.advance(2 * dead)
				if !r2.holds() || r1.hasIP() {
					t.Errorf("resources moved without auto-failback\n%s", l.describe())
				}
				return
			}
			l.until("R1 holding again", initDead+dead, r1.holds)
			if r2.hasIP() || r2.state() != fsm.Standby {
				t.Errorf("R2 after failback\n%s", l.describe())
			}
		})
	}
}

// TestPendingMonitorsBlockFailback: a restarted primary does not fail
// back (auto-failback) before its monitors have answered: an uplink not
// yet verified may be the reason it went down (the fsm's report, item 2).
func TestPendingMonitorsBlockFailback(t *testing.T) {
	s := spec{autoFailback: true}
	l, r1, r2 := pair(t, s)
	r1.crash()
	l.until("R2 holding", dead+10*keepalive, r2.holds)
	r1.reach.set(monitorAddr, false) // not answering yet
	r1.start(parse(t, s))
	l.until("R1 hearing R2", initDead, func() bool { return r1.status().View.PeerHeard })
	l.advance(monDead / 2)
	st := r1.status()
	if st.View.Phase != fsm.Released || !r2.holds() {
		t.Fatalf("R1 failed back on an unverified monitor\n%s", l.describe())
	}
	if st.View.LocalReachable != 1 || st.View.LocalTotal != 1 ||
		!strings.Contains(st.View.LastTransition.Reason, "not verified") {
		t.Errorf("R1 view: %d of %d, last %q", st.View.LocalReachable, st.View.LocalTotal, st.View.LastTransition.Reason)
	}
	if v := r2.status().View; v.PeerTotal != 1 {
		t.Errorf("R2 sees the peer's monitors as %d of %d", v.PeerReachable, v.PeerTotal)
	}
	r1.reach.set(monitorAddr, true)
	l.until("R1 holding once its monitor answered", dead, r1.holds)
}

// TestCL_B21SplitBrain: with every heartbeat link cut both nodes hold the
// resources (documented); when the links heal, the one that acquired
// later (R2, auto-failback false) releases, and both count it.
func TestCL_B21SplitBrain(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	for _, link := range l.links {
		link.SetCut(true)
	}
	l.until("both holding while cut", dead+10*keepalive, func() bool { return r1.holds() && r2.holds() })
	for _, link := range l.links {
		link.SetCut(false)
	}
	took := l.until("R2 released after the links healed", dead, func() bool { return !r2.hasIP() && r2.state() == fsm.Standby })
	if took > 3*keepalive {
		t.Errorf("R2 released %v after the heal, want within a keepalive or two (CL-B21)", took)
	}
	if !r1.holds() {
		t.Errorf("R1 gave up too\n%s", l.describe())
	}
	for _, n := range []*node{r1, r2} {
		if st := n.status(); st.Counters.SplitBrains != 1 || st.View.SplitBrainTotal != 1 {
			t.Errorf("%s: %d split brains counted, view %d", n.name, st.Counters.SplitBrains, st.View.SplitBrainTotal)
		}
	}
}

// TestCL_B04OneLinkCut: losing one of two heartbeat links changes nothing.
func TestCL_B04OneLinkCut(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	l.links["eth0"].SetCut(true)
	l.advance(2 * dead)
	if !r1.holds() || r2.state() != fsm.Standby {
		t.Errorf("one link cut moved something\n%s", l.describe())
	}
	st := r2.status()
	if st.Counters.PeerDeclaredDead != 0 || st.Peer.Links["eth1"].Before(st.Now.Add(-2*keepalive)) {
		t.Errorf("R2: dead %d, peer links %v at %v", st.Counters.PeerDeclaredDead, st.Peer.Links, st.Now)
	}
}

// TestCL_B05WrongSecret: nodes with different secrets never form a
// cluster: every heartbeat is dropped as bad_mac and counted, and each
// takes the resources alone after init-dead.
func TestCL_B05WrongSecret(t *testing.T) {
	l := newLab(t)
	r1, r2 := l.node("R1", 1), l.node("R2", 2)
	r1.start(parse(t, spec{}))
	r2.start(parse(t, spec{secret: "another secret, quite long"}))
	l.until("both holding alone", 2*initDead, func() bool { return r1.holds() && r2.holds() })
	for _, n := range []*node{r1, r2} {
		st := n.status()
		if st.Counters.Drops["bad_mac"] == 0 || st.Counters.HeartbeatsReceived != 0 || st.View.PeerHeard {
			t.Errorf("%s: drops %v, received %d, heard %v", n.name, st.Counters.Drops, st.Counters.HeartbeatsReceived, st.View.PeerHeard)
		}
	}
}

// TestCL_B14FailedStart: a service failing to start on the primary rolls
// its start back and hands the group to the secondary.
func TestCL_B14FailedStart(t *testing.T) {
	l := newLab(t)
	r1, r2 := l.node("R1", 1), l.node("R2", 2)
	r1.scripts.setFail("web start", true)
	cfg := parse(t, spec{})
	r1.start(cfg)
	r2.start(cfg)
	l.until("R2 holding after R1's failed start", initDead+dead, r2.holds)
	st := r1.status()
	if st.View.State != fsm.Down || !st.View.LocalFailed || st.Counters.StartFailures != 1 || r1.hasIP() {
		t.Errorf("R1: state %v failed %v start failures %d kernel %q", st.View.State, st.View.LocalFailed,
			st.Counters.StartFailures, r1.kern.String())
	}
	if !strings.Contains(st.View.LocalFailure, "web") {
		t.Errorf("failure %q does not name the service", st.View.LocalFailure)
	}
	l.advance(2 * dead)
	if !r2.holds() {
		t.Errorf("the group flapped back\n%s", l.describe())
	}
}

// TestCL_B23ReloadNewMonitor: a reload adding a monitor (and a service)
// keeps the resources where they are; the new service starts on the
// holder only.
func TestCL_B23ReloadNewMonitor(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	second := "10.1.0.2"
	// The new monitor answers the standby at once and the holder only
	// later: while it is unverified there, the holder must not look worse.
	r2.reach.set(mustAddr(second), true)
	events, cancel := r1.eng.Subscribe()
	defer cancel()
	next := spec{monitors: []string{monitorAddr.String(), second}, services: []string{"10.6.0.100/24/eth2", "web", "web2"}}
	for _, n := range []*node{r1, r2} {
		writeScript(t, n, "web2")
	}
	changes := r1.apply(parse(t, next))
	if !slices.ContainsFunc(changes, func(c string) bool { return strings.Contains(c, "monitor 10.1.0.2 added") }) {
		t.Errorf("changes %q", changes)
	}
	r2.apply(parse(t, next))
	l.advance(monDead / 2)
	r1.reach.set(mustAddr(second), true)
	l.advance(2 * monDead)
	if !r1.holds() || r2.state() != fsm.Standby {
		t.Errorf("the reload moved the resources\n%s", l.describe())
	}
	select {
	case ev := <-events:
		t.Errorf("transition after the reload: %+v", ev)
	default:
	}
	if got := r1.scripts.get(); !slices.Equal(got, []string{"web start", "web2 start"}) {
		t.Errorf("R1 scripts %v", got)
	}
	if got := r2.scripts.get(); len(got) != 0 {
		t.Errorf("R2 scripts %v, want none (not the holder)", got)
	}
	if st := r1.status(); len(st.Monitors) != 2 || st.Monitors[1].State != monitor.Reachable || st.Peer.ConfigMismatch {
		t.Errorf("R1 monitors %+v, mismatch %v", st.Monitors, st.Peer.ConfigMismatch)
	}
}

// TestCL_B06ConfigMismatch: a peer with another configuration is flagged.
func TestCL_B06ConfigMismatch(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	r2.apply(parse(t, spec{services: []string{"10.6.0.100/24/eth2"}}))
	l.advance(2 * keepalive)
	if !r1.status().Peer.ConfigMismatch || !r2.status().Peer.ConfigMismatch {
		t.Errorf("mismatch not flagged")
	}
}

// TestManualStandbyTakeover: the operator's standby hands the resources
// over; takeover brings them back; a standby with no peer to take them is
// refused.
func TestManualStandbyTakeover(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	ctx := context.Background()
	if err := r1.eng.Standby(ctx); err != nil {
		t.Fatal(err)
	}
	l.until("R2 holding after R1's standby", dead, r2.holds)
	if err := r1.eng.Takeover(ctx); err != nil {
		t.Fatal(err)
	}
	l.until("R1 holding after its takeover", dead, r1.holds)
	r2.crash()
	l.until("R1 sees R2 dead", 2*dead, func() bool { return r1.status().View.Peer == fsm.NodeDown })
	err := r1.eng.Standby(ctx)
	if err == nil || !strings.Contains(err.Error(), "peer") {
		t.Errorf("standby with a dead peer: %v", err)
	}
}

// TestCL_B02NotMember: a node named neither primary nor secondary runs no
// group and says so.
func TestCL_B02NotMember(t *testing.T) {
	l := newLab(t)
	r3 := l.node("R3", 3)
	r3.start(parse(t, spec{}))
	l.advance(initDead + keepalive)
	st := r3.status()
	if !st.Configured || !st.NotMember || st.Counters.HeartbeatsSent != 0 || r3.hasIP() {
		t.Errorf("status %+v", st)
	}
	if err := r3.eng.Takeover(context.Background()); err == nil {
		t.Error("takeover accepted on a non-member")
	}
}

// TestCL_B23IdentityChange: renaming the secondary releases the resources
// and starts the group again.
func TestCL_B23IdentityChange(t *testing.T) {
	l, r1, _ := pair(t, spec{})
	changes := r1.apply(parse(t, spec{secondary: "R9"}))
	if !slices.ContainsFunc(changes, func(c string) bool { return strings.Contains(c, "secondary R2 -> R9") }) {
		t.Errorf("changes %q", changes)
	}
	if got := r1.scripts.get(); !slices.Equal(got, []string{"web start", "web stop"}) {
		t.Errorf("scripts %v: the restart did not release first", got)
	}
	l.until("R1 holding alone after init-dead", 2*initDead, r1.holds)
}

// TestDeconfigure: deleting `cluster` releases everything and removes the
// group from the bus (CL-C01).
func TestDeconfigure(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	r1.apply(nil)
	if r1.hasIP() || r1.busState() != busv1.State_STATE_UNSPECIFIED {
		t.Errorf("kernel %q bus %v", r1.kern.String(), r1.busState())
	}
	l.until("R2 holding", dead, r2.holds)
}

// TestEngineStopped: requests fail with ErrStopped once Run has ended.
func TestEngineStopped(t *testing.T) {
	l := newLab(t)
	r1 := l.node("R1", 1)
	r1.start(nil)
	r1.crash()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := r1.eng.Status(ctx); err != ErrStopped {
		t.Errorf("Status: %v, want ErrStopped", err)
	}
}

// TestCL_B23ReloadSecretAndTimers: a new secret and keepalive, reloaded
// on both nodes within dead-interval, move nothing: the heartbeats are
// dropped (bad_mac) only between the two reloads, and the sequence
// numbers go on (no new boot).
func TestCL_B23ReloadSecretAndTimers(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	events, cancel := r2.eng.Subscribe()
	defer cancel()
	next := spec{secret: "the next secret, also long enough"}
	nextCfg := parse(t, next)
	nextCfg.KeepaliveInterval = 2 * keepalive
	r1.apply(nextCfg)
	l.advance(3 * keepalive)
	r2.apply(nextCfg)
	l.advance(3 * dead)
	if !r1.holds() || r2.state() != fsm.Standby {
		t.Errorf("the reload moved the resources\n%s", l.describe())
	}
	select {
	case ev := <-events:
		t.Errorf("R2 transition after the reload: %+v", ev)
	default:
	}
	st := r2.status()
	if st.Counters.Drops["bad_mac"] == 0 || st.Counters.Drops["replay"] != 0 || st.Peer.ConfigMismatch {
		t.Errorf("R2 drops %v mismatch %v", st.Counters.Drops, st.Peer.ConfigMismatch)
	}
	// One heartbeat per link per keepalive: count a few rounds.
	before := r1.status().Counters.HeartbeatsSent
	l.advance(10 * keepalive)
	if sent := r1.status().Counters.HeartbeatsSent - before; sent > 12 {
		t.Errorf("%d heartbeats in 5 rounds of the new keepalive: still the old interval?", sent)
	}
}

// TestLinkDownShown: a cluster interface that goes down is shown with
// its problem, and the group goes on over the other.
func TestLinkDownShown(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	r1.conn.SetUp("eth0", false)
	l.advance(2 * dead)
	st := r1.status()
	if st.Links[0].Up || st.Links[0].Problem != "down" || !st.Links[1].Up {
		t.Errorf("links %+v", st.Links)
	}
	if !r1.holds() || r2.state() != fsm.Standby {
		t.Errorf("one link down moved something\n%s", l.describe())
	}
}

// TestLoadUID: the UID is made once and read back after; a damaged file
// is an error naming it, not a silent new identity.
func TestLoadUID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	first, err := LoadUID(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadUID(dir)
	if err != nil || again != first {
		t.Fatalf("second load: %v, %v (first %v)", again, err, first)
	}
	if first == (wire.UID{}) {
		t.Error("zero UID")
	}
	if err := os.WriteFile(filepath.Join(dir, UIDFile), []byte("not hex\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadUID(dir); err == nil || !strings.Contains(err.Error(), UIDFile) {
		t.Errorf("damaged file: %v", err)
	}
}
