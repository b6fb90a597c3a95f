package fsm

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"role", func(c *Config) { c.Role = 0 }, "primary or secondary"},
		{"keepalive", func(c *Config) { c.Keepalive = 0 }, "keepalive-interval"},
		{"dead not above keepalive (CL-E05)", func(c *Config) { c.DeadInterval = c.Keepalive }, "dead-interval"},
		{"init-dead", func(c *Config) { c.InitDead = -1 }, "init-dead"},
		{"monitors", func(c *Config) { c.Monitors = -1 }, "monitor count"},
		{"hold-down", func(c *Config) { c.FailHoldDown = -1 }, "hold-down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg(Primary)
			tt.edit(&c)
			if _, err := New(c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestCL_B04_HeartbeatsFromStart(t *testing.T) {
	h := newHarness(t, cfg(Primary))
	acts := h.at(0, Start{})
	if got, want := kinds(acts), []string{"STOPPED->INIT", "Heartbeat(free)"}; !slices.Equal(got, want) {
		t.Errorf("Start: actions %v, want %v", got, want)
	}
	h.advance(time.Second)
	n := 0
	for _, s := range h.log {
		if _, ok := s.a.(SendHeartbeat); ok {
			n++
		}
	}
	if n != 6 { // 0, 200, ..., 1000 ms
		t.Errorf("%d heartbeats in the first second at keepalive 200ms, want 6", n)
	}
}

func TestCL_B07_StartupWait(t *testing.T) {
	tests := []struct {
		name string
		role Role
		// peerAt is when the peer is first heard (0: never); peerHolds
		// whether it holds the resources then.
		peerAt       time.Duration
		peerHolds    bool
		autoFailback bool
		wantState    State
		wantAt       time.Duration
		wantReason   string
	}{
		{"peer heard: the primary acquires", Primary, 2 * time.Second, false, false, Active, 2 * time.Second, "the primary takes the resources"},
		{"peer heard: the secondary becomes standby", Secondary, 2 * time.Second, false, false, Standby, 2 * time.Second, "the primary takes the resources"},
		{"no peer: the primary acquires after init-dead", Primary, 0, false, false, Active, 5 * time.Second, "no heartbeat from the peer within init-dead 5s"},
		{"no peer: the secondary acquires after init-dead", Secondary, 0, false, false, Active, 5 * time.Second, "no heartbeat from the peer within init-dead 5s"},
		{"a primary joining a secondary that holds stays standby (CL-B19)", Primary, 2 * time.Second, true, false, Standby, 2 * time.Second, "the peer holds the resources"},
		{"a secondary joining a primary that holds stays standby", Secondary, 2 * time.Second, true, false, Standby, 2 * time.Second, "the peer holds the resources"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg(tt.role)
			c.AutoFailback = tt.autoFailback
			h := newHarness(t, c)
			h.at(0, Start{})
			if tt.peerAt > 0 {
				h.advance(tt.peerAt - 1)
				if h.m.State() != Init {
					t.Fatalf("state %v before the peer was heard, want INIT", h.m.State())
				}
				if v := h.m.View(h.now); v.InitRemaining != 5*time.Second-tt.peerAt+1 || v.Peer != NodeUnknown {
					t.Errorf("view during the wait: InitRemaining %v, Peer %v; want %v, Unknown", v.InitRemaining, v.Peer, 5*time.Second-tt.peerAt+1)
				}
				h.peerEvery(tt.peerAt, 8*time.Second, peerHB(tt.role, tt.peerHolds))
			} else {
				h.advance(8 * time.Second)
			}
			tr, at := h.lastTransition()
			if tr.From != Init || tr.To != tt.wantState || at != tt.wantAt {
				t.Fatalf("last transition %v->%v at %v, want INIT->%v at %v", tr.From, tr.To, at, tt.wantState, tt.wantAt)
			}
			if !strings.Contains(tr.Reason, tt.wantReason) {
				t.Errorf("reason %q, want it to contain %q", tr.Reason, tt.wantReason)
			}
			if tt.wantState == Active && h.m.Phase() != Held {
				t.Errorf("phase %v, want held", h.m.Phase())
			}
			if tt.wantState == Standby {
				if _, _, ok := first[AcquireResources](h, 0); ok {
					t.Error("a standby node acquired the resources")
				}
			}
		})
	}
}

func TestCL_B07_FailbackJoinWaitsForRelease(t *testing.T) {
	// With auto-failback a primary joining a secondary that holds the
	// resources gets them back, but only after the secondary said it
	// released them (CL-B16, CL-B20).
	c := cfg(Primary)
	c.AutoFailback = true
	h := newHarness(t, c)
	h.at(0, Start{})
	h.peerEvery(time.Second, 2*time.Second, peerHB(Primary, true))
	if h.m.State() != Standby {
		t.Fatalf("state %v while the secondary still holds, want STANDBY", h.m.State())
	}
	if tr, _ := h.lastTransition(); !strings.Contains(tr.Reason, "waiting for the peer to release the resources: auto-failback to the primary") {
		t.Errorf("reason %q", tr.Reason)
	}
	acts := h.at(2100*ms, peerHB(Primary, false))
	if got, want := kinds(acts), []string{"STANDBY->ACTIVE", "Heartbeat(holds)", "Prepare", "Acquire"}; !slices.Equal(got, want) {
		t.Errorf("actions on the release %v, want %v", got, want)
	}
}

func TestCL_B08_NodeFailure(t *testing.T) {
	t.Run("the secondary takes over dead-interval after the last heartbeat", func(t *testing.T) {
		h := standbyBehind(t, cfg(Secondary), 3*time.Second)
		last := 3 * time.Second
		h.advance(last + 999*ms)
		if h.m.State() != Standby {
			t.Fatalf("state %v 999ms after the last heartbeat, want STANDBY", h.m.State())
		}
		h.advance(last + 2*time.Second)
		_, at, ok := first[AcquireResources](h, 0)
		if !ok {
			t.Fatal("no takeover")
		}
		// Spec test: between 1.0 and 1.2 s after the last heartbeat (plus
		// the services' start time, which is the engine's).
		if d := at - last; d < time.Second || d > 1200*ms {
			t.Errorf("takeover %v after the last heartbeat, want 1.0-1.2s", d)
		}
		tr, _ := h.lastTransition()
		if tr.To != Active || tr.Reason != "the peer is dead: no heartbeat for 1s" {
			t.Errorf("transition %+v, want ACTIVE because the peer is dead", tr)
		}
		if v := h.m.View(h.now); v.Peer != NodeDown || v.Holder != HolderLocal || v.Local != NodeActive {
			t.Errorf("view: peer %v holder %v local %v; want Down, local, Active", v.Peer, v.Holder, v.Local)
		}
	})
	t.Run("the primary finding the secondary dead keeps its resources", func(t *testing.T) {
		h := holding(t, cfg(Primary), 7*time.Second)
		n := len(h.log)
		h.advance(20 * time.Second)
		for _, s := range h.log[n:] {
			if _, ok := s.a.(SendHeartbeat); !ok {
				t.Errorf("action %T at %v after the secondary died, want only heartbeats", s.a, s.at)
			}
		}
		if v := h.m.View(h.now); h.m.State() != Active || v.Peer != NodeDown {
			t.Errorf("state %v, peer %v; want ACTIVE, Down", h.m.State(), v.Peer)
		}
	})
}

func TestCL_B11_Q04_Ipfail(t *testing.T) {
	tests := []struct {
		name string
		// localHolds: this node holds the resources and the peer is
		// standby; otherwise the reverse.
		localHolds bool
		local      int // monitors reachable here, of 2
		peer       int // monitors reachable on the peer, of 2
		peerDead   bool
		wantMove   bool
		// peerTotal, when set, is the peer's monitor count instead of
		// 2: a rolling reload that changed the list on one node.
		peerTotal int
	}{
		{"holder losing a monitor gives up to a peer reaching more", true, 1, 2, false, true, 0},
		{"holder reaching none gives up to a peer reaching one", true, 0, 1, false, true, 0},
		{"both lost the same monitor: nothing moves", true, 1, 1, false, false, 0},
		{"both lost it, the peer's heartbeat says so a keepalive later: nothing moves", true, 1, -1, false, false, 0},
		{"a dead peer never gets them", true, 0, 2, true, false, 0},
		{"holder reaching more than the peer keeps them", true, 2, 1, false, false, 0},
		{"standby reaching more takes them from a worse holder", false, 2, 1, false, true, 0},
		{"standby never takes them from a holder reaching more", false, 1, 2, false, false, 0},
		{"standby reaching the same as the holder leaves them", false, 1, 1, false, false, 0},
		{"rolling reload: the standby verifies an added monitor, nothing moves", true, 2, 3, false, false, 4},
		{"rolling reload: the standby verified an added monitor, nothing moves", true, 2, 3, false, false, 3},
		{"rolling reload: the holder verified an added monitor, nothing moves", false, 2, 3, false, false, 3},
		{"rolling reload: the holder dropped a monitor, nothing moves", false, 2, 1, false, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h *harness
			var role Role
			if tt.localHolds {
				role = Primary
				h = holding(t, cfg(role), 6*time.Second)
			} else {
				role = Secondary
				h = standbyBehind(t, cfg(role), time.Second)
			}
			now := h.now.Sub(t0) + 100*ms
			hb := with(peerHB(role, !tt.localHolds), func(hb *Heartbeat) {
				hb.Reachable = tt.peer
				if tt.peerTotal > 0 {
					hb.Total = tt.peerTotal
				}
			})
			if tt.peerDead {
				now += 2 * time.Second
				h.advance(now)
			}
			n := len(h.log)
			h.at(now, MonitorsChanged{Reachable: tt.local, Total: 2})
			switch {
			case tt.peer < 0:
				// The peer still reaches both at its next heartbeat, then
				// loses the same monitor.
				h.at(now+10*ms, with(hb, func(hb *Heartbeat) { hb.Reachable = 2 }))
				hb.Reachable = 1
				h.peerEvery(now+210*ms, now+time.Second, hb)
			case !tt.peerDead:
				h.peerEvery(now, now+time.Second, hb)
			default:
				h.advance(now + time.Second)
			}
			moved := false
			for _, s := range h.log[n:] {
				switch s.a.(type) {
				case ReleaseResources:
					moved = moved || tt.localHolds
				case AcquireResources:
					t.Errorf("acquired at %v while the peer still claims the resources (CL-B16)", s.at)
				}
			}
			if !tt.localHolds {
				// The taker waits for the holder's release.
				if h.m.State() == Active {
					t.Errorf("state ACTIVE before the holder released")
				}
				h.at(now+1100*ms, with(hb, func(hb *Heartbeat) { hb.Holds = false }))
				_, _, moved = first[AcquireResources](h, now)
			}
			if moved != tt.wantMove {
				t.Errorf("resources moved: %v, want %v\n%v", moved, tt.wantMove, kindsOf(h.log[n:]))
			}
		})
	}
}

func kindsOf(log []stamped) []string {
	acts := make([]Action, len(log))
	for i, s := range log {
		acts[i] = s.a
	}
	return kinds(acts)
}

func TestCL_B12_MonitorLostShowsDown(t *testing.T) {
	h := standbyBehind(t, cfg(Secondary), time.Second)
	acts := h.at(1100*ms, MonitorsChanged{Reachable: 1, Total: 2})
	if got, want := kinds(acts), []string{"STANDBY->DOWN", "Heartbeat(free)"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	if tr, _ := lastOf[Transition](acts); tr.Reason != "at least 1 monitor not reachable (1 of 2 reachable)" {
		t.Errorf("reason %q", tr.Reason)
	}
	if v := h.m.View(h.now); v.Local != NodeDownMonitor {
		t.Errorf("local %v, want Down (monitor)", v.Local)
	}
	h.at(1200*ms, with(peerHB(Secondary, true), func(hb *Heartbeat) { hb.Reachable = 1 }))
	if v := h.m.View(h.now); v.Peer != NodeDownMonitor || v.Holder != HolderPeer {
		t.Errorf("peer %v holder %v, want Down (monitor), peer", v.Peer, v.Holder)
	}
	acts = h.at(1300*ms, MonitorsChanged{Reachable: 2, Total: 2})
	if got := kinds(acts); !slices.Contains(got, "DOWN->STANDBY") {
		t.Errorf("actions %v on recovery, want DOWN->STANDBY", got)
	}
}

func TestCL_B16_OneHolder(t *testing.T) {
	t.Run("the giver claims the resources until they are stopped", func(t *testing.T) {
		h := holding(t, cfg(Primary), 6*time.Second)
		h.holdStop = true
		acts := h.at(6100*ms, ManualStandby{})
		if got, want := kinds(acts), []string{"Command(true)", "ACTIVE->STANDBY", "Release", "Heartbeat(holds,releasing,standby)"}; !slices.Equal(got, want) {
			t.Errorf("actions %v, want %v", got, want)
		}
		h.advance(6500 * ms)
		if hb, _, _ := first[SendHeartbeat](h, 6300*ms); !hb.Claim.Holds {
			t.Error("a heartbeat while stopping said the resources are free")
		}
		if v := h.m.View(h.now); v.Holder != HolderLocal || v.Phase != Stopping {
			t.Errorf("view holder %v phase %v, want local, stopping", v.Holder, v.Phase)
		}
		acts = h.at(6600*ms, ResourcesStopped{})
		if got, want := kinds(acts), []string{"Heartbeat(free,standby)"}; !slices.Equal(got, want) {
			t.Errorf("on stopped: actions %v, want %v (tell the taker at once)", got, want)
		}
	})
	tests := []struct {
		name string
		// lose drops the giver's first heartbeats saying it released;
		// dieStopping kills the giver while it stops.
		lose        int
		dieStopping bool
		wantAt      time.Duration
	}{
		{"the taker acquires on the release heartbeat", 0, false, 2100 * ms},
		{"a lost release heartbeat delays it by one keepalive", 1, false, 2300 * ms},
		{"two lost: two keepalives", 2, false, 2500 * ms},
		{"a giver dying while stopping: dead-interval after its last heartbeat", 0, true, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The primary taker, auto-failback true; the secondary gives.
			c := cfg(Primary)
			c.AutoFailback = true
			h := newHarness(t, c)
			h.at(0, Start{})
			h.peerEvery(100*ms, 2*time.Second, peerHB(Primary, true)) // still stopping
			if _, _, ok := first[AcquireResources](h, 0); ok {
				t.Fatal("acquired while the peer claimed the resources")
			}
			if tt.dieStopping {
				h.advance(4 * time.Second)
			} else {
				for at := 2100 * ms; at <= 3*time.Second; at += 200 * ms {
					if tt.lose > 0 {
						tt.lose--
						h.advance(at)
						continue
					}
					h.at(at, peerHB(Primary, false))
				}
			}
			_, at, ok := first[AcquireResources](h, 0)
			if !ok || at != tt.wantAt {
				t.Errorf("acquired %v at %v, want at %v", ok, at, tt.wantAt)
			}
		})
	}
}

func TestCL_B16_ReleaseWhileStarting(t *testing.T) {
	// A decision to give up while the start is in progress waits for the
	// start's answer, then stops; the claim holds throughout.
	h := standbyBehind(t, cfg(Secondary), time.Second)
	h.holdStart, h.holdStop = true, true
	h.at(1100*ms, Heartbeat{Link: "eth0", Role: Primary, Leaving: true})
	if h.m.Phase() != Starting {
		t.Fatalf("setup: phase %v, want starting", h.m.Phase())
	}
	// The primary is back at once and the operator takes over there.
	acts := h.at(1200*ms, with(peerHB(Secondary, false), func(hb *Heartbeat) { hb.Takeover = true }))
	if got, want := kinds(acts), []string{"ACTIVE->STANDBY", "Heartbeat(holds,releasing)"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v (nothing to stop yet)", got, want)
	}
	h.advance(1500 * ms)
	if hb, _, _ := first[SendHeartbeat](h, 1300*ms); !hb.Claim.Holds {
		t.Error("claim dropped while the start is in progress")
	}
	acts = h.handle(ResourcesStarted{})
	if got, want := kinds(acts), []string{"Release"}; !slices.Equal(got, want) {
		t.Errorf("on started: %v, want %v", got, want)
	}
	if got, want := kinds(h.handle(ResourcesStopped{})), []string{"Heartbeat(free)"}; !slices.Equal(got, want) {
		t.Errorf("on stopped: %v, want %v", got, want)
	}
}

func TestCL_B16_GatesBeforeStart(t *testing.T) {
	h := newHarness(t, cfg(Primary))
	h.holdGates = true
	h.at(0, Start{})
	acts := h.at(100*ms, peerHB(Primary, false))
	if got, want := kinds(acts), []string{"INIT->ACTIVE", "Heartbeat(holds)", "Prepare"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v (claim first, then the gates)", got, want)
	}
	if v := h.m.View(h.now); v.Phase != Preparing || v.Holder != HolderLocal {
		t.Errorf("phase %v holder %v, want preparing, local", v.Phase, v.Holder)
	}
	// The peer gets the resources by operator takeover before the gates
	// settle: the claim is withdrawn and the gates cancelled.
	acts = h.at(200*ms, with(peerHB(Primary, false), func(hb *Heartbeat) { hb.Takeover = true }))
	if got, want := kinds(acts), []string{"ACTIVE->STANDBY", "CancelPrepare", "Heartbeat(free)"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	if acts := h.handle(GatesDone{}); len(acts) != 0 {
		t.Errorf("a late GatesDone: %v, want nothing", kinds(acts))
	}
}

func TestCL_B19_NoFailback(t *testing.T) {
	// The secondary took over from a dead primary; the primary comes back:
	// the resources stay (non-revertive), the primary is standby.
	h := standbyBehind(t, cfg(Secondary), time.Second)
	h.advance(3 * time.Second)
	if h.m.State() != Active {
		t.Fatalf("setup: state %v, want ACTIVE", h.m.State())
	}
	n := len(h.log)
	h.peerEvery(4*time.Second, 10*time.Second, peerHB(Secondary, false))
	for _, s := range h.log[n:] {
		if _, ok := s.a.(ReleaseResources); ok {
			t.Fatalf("released at %v although auto-failback is false", s.at)
		}
	}
	if v := h.m.View(h.now); v.Peer != NodeActiveStandby || v.Local != NodeActive {
		t.Errorf("peer %v local %v, want Active (standby), Active", v.Peer, v.Local)
	}
}

func TestCL_B20_Failback(t *testing.T) {
	tests := []struct {
		name             string
		primaryReachable int
		primaryDemoted   bool
		wantRelease      bool
	}{
		{"a recovered primary reaching all monitors gets them back", 2, false, true},
		{"not while it misses a monitor", 1, false, false},
		{"not while it is demoted", 2, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg(Secondary)
			c.AutoFailback = true
			h := standbyBehind(t, c, time.Second)
			h.advance(3 * time.Second)
			if tt.primaryReachable < 2 {
				// Both miss the same monitor, so ipfail does not apply.
				h.at(3100*ms, MonitorsChanged{Reachable: tt.primaryReachable, Total: 2})
			}
			hb := with(peerHB(Secondary, false), func(hb *Heartbeat) {
				hb.Reachable, hb.Demoted = tt.primaryReachable, tt.primaryDemoted
			})
			h.peerEvery(4*time.Second, 5*time.Second, hb)
			_, at, released := first[ReleaseResources](h, 4*time.Second)
			if released != tt.wantRelease {
				t.Fatalf("released %v, want %v", released, tt.wantRelease)
			}
			if released {
				if at != 4*time.Second {
					t.Errorf("released at %v, want at the first heartbeat (4s)", at)
				}
				if tr, _ := h.lastTransition(); tr.Reason != "auto-failback to the primary" {
					t.Errorf("reason %q", tr.Reason)
				}
			}
		})
	}
}

func TestCL_B21_SplitBrain(t *testing.T) {
	tests := []struct {
		name         string
		role         Role
		autoFailback bool
		// localAt, peerHeldFor: this node acquired at t0+localAt (alone,
		// after init-dead or later); the peer's heartbeat at 20s says it
		// has held them for peerHeldFor.
		peerHeldFor time.Duration
		wantKeep    bool
		wantReason  string
	}{
		{"auto-failback: the primary keeps them", Primary, true, time.Hour, true, "auto-failback: the primary keeps them"},
		{"auto-failback: the secondary releases", Secondary, true, time.Second, false, "auto-failback: the primary keeps them"},
		{"the earlier acquirer keeps them (here)", Secondary, false, 10 * time.Second, true, "this node acquired them 5s earlier"},
		{"the later acquirer releases", Primary, false, 20 * time.Second, false, "the peer acquired them 5s earlier"},
		{"a tie goes to the primary", Primary, false, 15*time.Second + 100*ms, true, "acquired within 200ms of each other: the primary keeps them"},
		{"a tie: the secondary releases", Secondary, false, 15*time.Second - 100*ms, false, "acquired within 200ms of each other: the primary keeps them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg(tt.role)
			c.AutoFailback = tt.autoFailback
			h := activeAlone(t, c) // acquired at 5s: held for 15s at 20s
			hb := with(peerHB(tt.role, true), func(hb *Heartbeat) { hb.HeldFor = tt.peerHeldFor })
			acts := h.at(20*time.Second, hb)
			sb, ok := lastOf[SplitBrainDetected](acts)
			if !ok {
				t.Fatalf("no split brain reported: %v", kinds(acts))
			}
			if sb.Event.LocalWon != tt.wantKeep || sb.Event.Reason != tt.wantReason {
				t.Errorf("event %+v, want LocalWon %v, reason %q", sb.Event, tt.wantKeep, tt.wantReason)
			}
			_, released := lastOf[ReleaseResources](acts)
			if released == tt.wantKeep {
				t.Errorf("released %v, want %v: %v", released, !tt.wantKeep, kinds(acts))
			}
			if tt.wantKeep {
				if _, ok := lastOf[SendHeartbeat](acts); !ok {
					t.Error("the winner did not tell the loser at once")
				}
			} else if h.m.State() == Active {
				t.Error("the loser is still ACTIVE")
			}
			// The episode is counted once, however many heartbeats say so.
			h.peerEvery(20200*ms, 21*time.Second, hb)
			if v := h.m.View(h.now); v.SplitBrainTotal != 1 || len(v.SplitBrains) != 1 {
				t.Errorf("split brains counted %d (%d events), want 1", v.SplitBrainTotal, len(v.SplitBrains))
			}
		})
	}
}

func TestCL_B21_SplitBrainSafetyNet(t *testing.T) {
	// Should the two verdicts differ (estimates straddling the
	// tolerance), both keep the resources; the secondary yields after a
	// dead-interval, the primary never.
	c := cfg(Secondary)
	h := activeAlone(t, c)
	hb := with(peerHB(Secondary, true), func(hb *Heartbeat) { hb.HeldFor = time.Second })
	h.peerEvery(20*time.Second, 20*time.Second+900*ms, hb)
	if h.m.State() != Active {
		t.Fatal("the winner gave up before the safety net")
	}
	h.peerEvery(21*time.Second, 21500*ms, hb)
	_, at, ok := first[ReleaseResources](h, 0)
	if !ok || at != 21*time.Second {
		t.Errorf("released %v at %v, want at 21s (detection + dead-interval)", ok, at)
	}
}

func TestCL_B21_SlowLoserIsNotPersistent(t *testing.T) {
	// The loser's stop scripts may outlast a dead-interval: while its
	// heartbeats say it is releasing, the secondary winner keeps them.
	h := activeAlone(t, cfg(Secondary))
	hb := with(peerHB(Secondary, true), func(hb *Heartbeat) { hb.HeldFor = time.Second })
	h.at(20*time.Second, hb)
	hb.Releasing = true
	h.peerEvery(20200*ms, 25*time.Second, hb)
	if _, at, ok := first[ReleaseResources](h, 0); ok {
		t.Errorf("the winner yielded at %v while the loser was stopping", at)
	}
	if v := h.m.View(h.now); !v.PeerReleasing || v.SplitBrainTotal != 1 {
		t.Errorf("view: peer releasing %v, split brains %d; want true, 1", v.PeerReleasing, v.SplitBrainTotal)
	}
	h.peerEvery(25200*ms, 26*time.Second, peerHB(Secondary, false))
	if h.m.State() != Active {
		t.Errorf("state %v once the loser stopped, want ACTIVE", h.m.State())
	}
}

func TestCL_B24_Leaving(t *testing.T) {
	t.Run("a leaving peer is taken over from at once", func(t *testing.T) {
		h := standbyBehind(t, cfg(Secondary), time.Second)
		acts := h.at(1100*ms, Heartbeat{Link: "eth0", Role: Primary, Leaving: true})
		if got, want := kinds(acts), []string{"STANDBY->ACTIVE", "Heartbeat(holds)", "Prepare", "Acquire"}; !slices.Equal(got, want) {
			t.Errorf("actions %v, want %v", got, want)
		}
		if tr, _ := lastOf[Transition](acts); tr.Reason != "the peer left the cluster (clean stop)" {
			t.Errorf("reason %q", tr.Reason)
		}
		if v := h.m.View(h.now); v.Peer != NodeDown || !v.PeerLeft {
			t.Errorf("peer %v left %v, want Down, true", v.Peer, v.PeerLeft)
		}
	})
	t.Run("a leaving peer during the startup wait ends it", func(t *testing.T) {
		h := newHarness(t, cfg(Secondary))
		h.at(0, Start{})
		acts := h.at(time.Second, Heartbeat{Link: "eth0", Role: Primary, Leaving: true})
		if got := kinds(acts); !slices.Contains(got, "INIT->ACTIVE") {
			t.Errorf("actions %v, want INIT->ACTIVE", got)
		}
	})
	t.Run("shutdown releases, then sends leaving", func(t *testing.T) {
		h := holding(t, cfg(Primary), 6*time.Second)
		h.holdStop = true
		acts := h.at(6100*ms, Shutdown{})
		if got, want := kinds(acts), []string{"ACTIVE->STOPPED", "Release"}; !slices.Equal(got, want) {
			t.Errorf("actions %v, want %v", got, want)
		}
		h.advance(6500 * ms) // heartbeats go on while stopping
		if hb, _, ok := first[SendHeartbeat](h, 6200*ms); !ok || !hb.Claim.Holds {
			t.Errorf("no heartbeat claiming the resources while stopping")
		}
		acts = h.at(6600*ms, ResourcesStopped{})
		if got, want := kinds(acts), []string{"Leaving"}; !slices.Equal(got, want) {
			t.Errorf("actions %v, want %v", got, want)
		}
		if _, ok := h.m.NextDeadline(); ok {
			t.Error("a timer is armed after leaving")
		}
		if acts := h.at(10*time.Second, peerHB(Primary, false)); len(acts) != 0 {
			t.Errorf("a stopped machine acted: %v", kinds(acts))
		}
	})
	t.Run("restart after shutdown waits again", func(t *testing.T) {
		h := holding(t, cfg(Primary), 6*time.Second)
		h.at(6100*ms, Shutdown{})
		acts := h.at(7*time.Second, Start{})
		if got, want := kinds(acts), []string{"STOPPED->INIT", "Heartbeat(free)"}; !slices.Equal(got, want) {
			t.Errorf("actions %v, want %v", got, want)
		}
	})
}

func TestCL_B14_FailedStart(t *testing.T) {
	t.Run("a failed start hands over and does not flap back", func(t *testing.T) {
		c := cfg(Primary)
		c.AutoFailback = true
		h := newHarness(t, c)
		h.failStart = "service ipsec: exit status 1"
		h.at(0, Start{})
		acts := h.at(100*ms, peerHB(Primary, false))
		if got, want := kinds(acts), []string{"INIT->ACTIVE", "Heartbeat(holds)", "Prepare", "Acquire", "ACTIVE->DOWN", "Heartbeat(free,failed)"}; !slices.Equal(got, want) {
			t.Errorf("actions %v, want %v", got, want)
		}
		if tr, _ := h.lastTransition(); tr.Reason != "start failed: service ipsec: exit status 1" {
			t.Errorf("reason %q", tr.Reason)
		}
		h.failStart = ""
		// The peer takes them; long after the hold-down, auto-failback
		// does not bring them back while the peer serves.
		h.peerEvery(300*ms, 10*time.Second, peerHB(Primary, true))
		if _, at, ok := first[AcquireResources](h, 200*ms); ok {
			t.Fatalf("acquired again at %v while the peer serves", at)
		}
		if v := h.m.View(h.now); v.Local != NodeDown || !v.LocalFailed || v.LocalFailure == "" {
			t.Errorf("view local %v failed %v %q, want Down with the failure", v.Local, v.LocalFailed, v.LocalFailure)
		}
		// The peer dies: retry.
		h.advance(12 * time.Second)
		if _, at, ok := first[AcquireResources](h, 200*ms); !ok || at != 11*time.Second {
			t.Errorf("retry %v at %v, want at 11s (peer dead)", ok, at)
		}
	})
	t.Run("the peer's failed start makes this node take over", func(t *testing.T) {
		h := newHarness(t, cfg(Secondary))
		h.at(0, Start{})
		h.peerEvery(100*ms, time.Second, peerHB(Secondary, true))
		acts := h.at(1100*ms, with(peerHB(Secondary, false), func(hb *Heartbeat) { hb.FailedStart = true }))
		if got := kinds(acts); !slices.Contains(got, "Acquire") {
			t.Errorf("actions %v, want an acquisition", got)
		}
		if v := h.m.View(h.now); v.Peer != NodeDown || !v.PeerFailed {
			t.Errorf("peer %v failed %v, want Down, true", v.Peer, v.PeerFailed)
		}
	})
	t.Run("alone, retries no sooner than the hold-down", func(t *testing.T) {
		c := cfg(Secondary)
		c.FailHoldDown = 3 * time.Second
		h := newHarness(t, c)
		h.failStart = "boom"
		h.at(0, Start{})
		h.advance(20 * time.Second)
		var starts []time.Duration
		for _, s := range h.log {
			if _, ok := s.a.(AcquireResources); ok {
				starts = append(starts, s.at)
			}
		}
		if want := []time.Duration{5 * time.Second, 8 * time.Second, 11 * time.Second, 14 * time.Second, 17 * time.Second, 20 * time.Second}; !slices.Equal(starts, want) {
			t.Errorf("start attempts at %v, want %v", starts, want)
		}
	})
	t.Run("takeover retries at once", func(t *testing.T) {
		h := newHarness(t, cfg(Secondary))
		h.failStart = "boom"
		h.at(0, Start{})
		h.advance(5 * time.Second)
		h.failStart = ""
		acts := h.at(5500*ms, ManualTakeover{})
		if got := kinds(acts); !slices.Contains(got, "Acquire") {
			t.Errorf("actions %v, want a retry", got)
		}
	})
}

func TestManualStandbyTakeover(t *testing.T) {
	t.Run("standby hands over; auto-failback waits for the next failure", func(t *testing.T) {
		c := cfg(Primary)
		c.AutoFailback = true
		h := holding(t, c, 6*time.Second)
		acts := h.at(6100*ms, ManualStandby{})
		if r, _ := lastOf[CommandResult](acts); !r.Accepted {
			t.Fatalf("refused: %q", r.Message)
		}
		// The secondary takes them; no failback while the standby holds.
		h.peerEvery(6200*ms, 10*time.Second, peerHB(Primary, true))
		if _, at, ok := first[AcquireResources](h, 6100*ms); ok {
			t.Fatalf("failed back at %v despite the operator's standby", at)
		}
		if v := h.m.View(h.now); !v.ManualStandby {
			t.Error("view does not show the manual standby")
		}
		// The secondary loses a monitor: a failure, the standby ends and
		// ipfail applies.
		h.peerEvery(10200*ms, 11*time.Second, with(peerHB(Primary, true), func(hb *Heartbeat) { hb.Reachable = 1 }))
		h.at(11200*ms, with(peerHB(Primary, false), func(hb *Heartbeat) { hb.Reachable = 1 }))
		if _, _, ok := first[AcquireResources](h, 10*time.Second); !ok {
			t.Error("no takeover after the peer's failure")
		}
		if v := h.m.View(h.now); v.ManualStandby {
			t.Error("the standby outlived the failure")
		}
	})
	t.Run("the peer's takeover makes this node hand over", func(t *testing.T) {
		h := holding(t, cfg(Primary), 6*time.Second)
		acts := h.at(6100*ms, with(peerHB(Primary, false), func(hb *Heartbeat) { hb.Takeover = true }))
		if got := kinds(acts); !slices.Contains(got, "Release") {
			t.Errorf("actions %v, want a release", got)
		}
		if tr, _ := lastOf[Transition](acts); tr.Reason != "operator takeover on the peer" {
			t.Errorf("reason %q", tr.Reason)
		}
	})
	t.Run("takeover here waits for the peer's release", func(t *testing.T) {
		h := standbyBehind(t, cfg(Secondary), time.Second)
		acts := h.at(1100*ms, ManualTakeover{})
		if got, want := kinds(acts), []string{"Command(true)", "Heartbeat(free,takeover)"}; !slices.Equal(got, want) {
			t.Errorf("actions %v, want %v", got, want)
		}
		acts = h.at(1200*ms, peerHB(Secondary, false))
		if got := kinds(acts); !slices.Contains(got, "Acquire") {
			t.Errorf("on release: %v, want an acquisition", got)
		}
	})
	t.Run("a newer command on the peer supersedes ours", func(t *testing.T) {
		h := holding(t, cfg(Primary), 6*time.Second)
		h.at(6100*ms, ManualStandby{})
		h.peerEvery(6200*ms, 7*time.Second, peerHB(Primary, true))
		acts := h.at(7200*ms, with(peerHB(Primary, false), func(hb *Heartbeat) { hb.Standby = true }))
		if got := kinds(acts); !slices.Contains(got, "Acquire") {
			t.Errorf("actions %v, want an acquisition", got)
		}
		if v := h.m.View(h.now); v.ManualStandby {
			t.Error("our standby survived the peer's newer standby")
		}
	})
	refusals := []struct {
		name  string
		setup func(*testing.T) *harness
		ev    Event
		want  string
	}{
		{"standby with a dead peer", func(t *testing.T) *harness { return activeAlone(t, cfg(Primary)) }, ManualStandby{}, "the peer is down"},
		{"standby during the startup wait", func(t *testing.T) *harness {
			h := newHarness(t, cfg(Primary))
			h.at(0, Start{})
			return h
		}, ManualStandby{}, "still waiting"},
		{"takeover when stopped", func(t *testing.T) *harness { return newHarness(t, cfg(Primary)) }, ManualTakeover{}, "not running"},
	}
	for _, tt := range refusals {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			h := tt.setup(t)
			acts := h.handle(tt.ev)
			r, _ := lastOf[CommandResult](acts)
			if r.Accepted || !strings.Contains(r.Message, tt.want) {
				t.Errorf("result %+v, want refused with %q", r, tt.want)
			}
		})
	}
}

func TestDemotion(t *testing.T) {
	t.Run("a demoted node still takes over from a dead peer", func(t *testing.T) {
		h := standbyBehind(t, cfg(Secondary), time.Second)
		h.at(1100*ms, Demotion{Held: true})
		h.advance(3 * time.Second)
		if h.m.State() != Active {
			t.Errorf("state %v, want ACTIVE", h.m.State())
		}
	})
	t.Run("a demoted primary does not fail back; released, it does", func(t *testing.T) {
		c := cfg(Primary)
		c.AutoFailback = true
		h := newHarness(t, c)
		h.at(0, Demotion{Held: true})
		h.at(0, Start{})
		h.peerEvery(100*ms, 2*time.Second, peerHB(Primary, true))
		if hb, _, _ := first[SendHeartbeat](h, 0); !hb.Claim.Demoted {
			t.Error("heartbeat does not carry the demotion")
		}
		if h.m.State() != Standby {
			t.Fatalf("state %v, want STANDBY", h.m.State())
		}
		acts := h.at(2100*ms, Demotion{Held: false})
		if got := kinds(acts); !slices.Contains(got, "Heartbeat(free)") {
			t.Errorf("actions %v: the peer must learn the demotion ended", got)
		}
	})
}

func TestViewHolder(t *testing.T) {
	h := standbyBehind(t, cfg(Secondary), time.Second)
	v := h.m.View(h.now)
	want := View{Role: Secondary, State: Standby, Local: NodeActiveStandby, Peer: NodeActive, Holder: HolderPeer}
	if v.Role != want.Role || v.State != want.State || v.Local != want.Local || v.Peer != want.Peer || v.Holder != want.Holder {
		t.Errorf("view %+v, want %+v", v, want)
	}
	if v.PeerLinks["eth0"] != t0.Add(time.Second) || !v.PeerHeard || v.PeerLastHeard != t0.Add(time.Second) {
		t.Errorf("peer links %v heard %v last %v", v.PeerLinks, v.PeerHeard, v.PeerLastHeard)
	}
	h.at(1100*ms, with(peerHB(Secondary, true), func(hb *Heartbeat) { hb.Link = "eth1"; hb.Role = Secondary }))
	v = h.m.View(h.now)
	if len(v.PeerLinks) != 2 || !v.PeerRoleMismatch {
		t.Errorf("links %v mismatch %v, want two links and a role mismatch", v.PeerLinks, v.PeerRoleMismatch)
	}
	if v.LastTransition.To != Standby || v.LastTransitionAt != t0.Add(100*ms) {
		t.Errorf("last transition %+v at %v", v.LastTransition, v.LastTransitionAt.Sub(t0))
	}
}

func TestCL_B23_Reconfigure(t *testing.T) {
	t.Run("timers apply without moving the resources", func(t *testing.T) {
		h := standbyBehind(t, cfg(Secondary), time.Second)
		c := cfg(Secondary)
		c.Keepalive, c.DeadInterval = 100*ms, 3*time.Second
		acts, err := h.m.Reconfigure(h.now, c)
		if err != nil || len(acts) != 0 {
			t.Fatalf("Reconfigure: %v, %v; want no actions", kinds(acts), err)
		}
		h.advance(3999 * ms)
		if h.m.State() != Standby {
			t.Errorf("state %v before the new dead-interval passed, want STANDBY", h.m.State())
		}
		h.advance(4 * time.Second)
		if h.m.State() != Active {
			t.Errorf("state %v after the new dead-interval, want ACTIVE", h.m.State())
		}
	})
	t.Run("auto-failback switched on hands the resources back", func(t *testing.T) {
		h := newHarness(t, cfg(Secondary))
		h.at(0, Start{})
		h.advance(5 * time.Second)
		h.peerEvery(5100*ms, 6*time.Second, peerHB(Secondary, false))
		c := cfg(Secondary)
		c.AutoFailback = true
		acts, err := h.m.Reconfigure(h.now, c)
		if err != nil || !slices.Contains(kinds(acts), "Release") {
			t.Errorf("Reconfigure: %v, %v; want a release", kinds(acts), err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		h := standbyBehind(t, cfg(Secondary), time.Second)
		for _, c := range []Config{cfg(Primary), func() Config { c := cfg(Secondary); c.Keepalive = 0; return c }()} {
			if _, err := h.m.Reconfigure(h.now, c); err == nil {
				t.Errorf("Reconfigure(%+v) accepted", c)
			}
		}
		if h.m.Config() != cfg(Secondary) {
			t.Error("a refused configuration was applied")
		}
	})
}

func TestHeartbeatOrder(t *testing.T) {
	// A heartbeat overtaken on the other link is not acted on (the wire's
	// replay window lets it through); a new boot starts afresh.
	h := standbyBehind(t, cfg(Secondary), time.Second)
	hb := func(boot string, seq uint64, holds bool, edit func(*Heartbeat)) Heartbeat {
		x := peerHB(Secondary, holds)
		x.Boot, x.Seq = boot, seq
		if edit != nil {
			edit(&x)
		}
		return x
	}
	h.at(1100*ms, hb("a", 10, true, nil))
	h.at(1110*ms, hb("a", 12, true, func(x *Heartbeat) { x.Leaving = true }))
	if h.m.State() != Active {
		t.Fatalf("state %v after the leaving heartbeat, want ACTIVE", h.m.State())
	}
	h.at(1120*ms, hb("a", 11, true, nil)) // overtaken by the leaving one
	if v := h.m.View(h.now); !v.PeerLeft || v.Peer != NodeDown {
		t.Errorf("an older heartbeat revived a peer that left: %+v", v)
	}
	h.at(2*time.Second, hb("b", 1, false, nil)) // restarted
	if v := h.m.View(h.now); v.PeerLeft || v.Peer != NodeActiveStandby {
		t.Errorf("the restarted peer: left %v, state %v; want alive, Active (standby)", v.PeerLeft, v.Peer)
	}
}

// TestCL_Q04_BothRegainMonitor: both nodes lost the same monitor (nothing
// moved) and regain it, the peer's heartbeat saying so arriving before
// this holder's own ping reply. The peer's gain counts only after the
// settling time a loss here gets, so the holder keeps the resources
// rather than releasing them for a moment (clusterd/e2e showed the
// bounce); a peer that alone regains it still gets them, settled.
func TestCL_Q04_BothRegainMonitor(t *testing.T) {
	for _, tt := range []struct {
		name       string
		localAfter time.Duration // when this node regains it after the peer's heartbeat; 0: never
		wantMove   bool
	}{
		{"this node regains it a ping later: nothing moves", 50 * ms, false},
		{"this node regains it just within two keepalives: nothing moves", 350 * ms, false},
		{"only the peer regains it: it gets them after settling", 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := holding(t, cfg(Primary), 6*time.Second)
			now := h.now.Sub(t0) + 100*ms
			lost := with(peerHB(Primary, false), func(hb *Heartbeat) { hb.Reachable = 1 })
			h.at(now, MonitorsChanged{Reachable: 1, Total: 2})
			h.peerEvery(now, now+time.Second, lost)
			if h.m.Phase() != Held {
				t.Fatalf("setup: both lost the same monitor and the holder gave up: %v", kindsOf(h.log))
			}
			n := len(h.log)
			regained := peerHB(Primary, false)
			back := now + time.Second + 10*ms
			if tt.localAfter > 0 {
				h.peerEvery(back, back+tt.localAfter-ms, regained)
				h.at(back+tt.localAfter, MonitorsChanged{Reachable: 2, Total: 2})
			}
			h.peerEvery(back+tt.localAfter, back+2*time.Second, regained)
			_, at, moved := first[ReleaseResources](h, back)
			if moved != tt.wantMove {
				t.Errorf("released: %v (at %v), want %v\n%v", moved, at, tt.wantMove, kindsOf(h.log[n:]))
			}
			if moved && at < back+2*cfg(Primary).Keepalive {
				t.Errorf("released at %v, before the peer's gain settled (%v)", at, back+2*cfg(Primary).Keepalive)
			}
		})
	}
}
