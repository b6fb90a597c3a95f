package fsm

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestNewRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"version", func(c *Config) { c.Version = 4 }, "version 4"},
		{"priority 0", func(c *Config) { c.Priority = 0 }, "priority 0"},
		{"interval", func(c *Config) { c.AdvertInterval = 0 }, "interval"},
		{"preempt delay", func(c *Config) { c.PreemptDelay = -time.Second }, "preempt delay"},
		{"primary address", func(c *Config) { c.PrimaryIP = netip.Addr{} }, "primary address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := v2(100)
			tt.edit(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestVR_B04_Start(t *testing.T) {
	tests := []struct {
		name         string
		priority     uint8
		wantState    State
		wantActions  []string
		wantDeadline time.Duration
	}{
		{"owner becomes master at once", 255, Master,
			[]string{"INIT->MASTER", "SendAdvert", "PrepareDataPlane", "AddVIPs", "SendGARP", "RunScript(MASTER)"}, time.Second},
		{"other priorities start as backup", 100, Backup,
			[]string{"INIT->BACKUP", "RunScript(BACKUP)"}, 3609375 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, v2(tt.priority))
			acts := h.at(0, Start{})
			if got := kinds(acts); !slices.Equal(got, tt.wantActions) {
				t.Errorf("actions %v, want %v", got, tt.wantActions)
			}
			if h.m.State() != tt.wantState {
				t.Errorf("state %v, want %v", h.m.State(), tt.wantState)
			}
			if next, _ := h.m.NextDeadline(); next.Sub(t0) != tt.wantDeadline {
				t.Errorf("next deadline at %v, want %v", next.Sub(t0), tt.wantDeadline)
			}
		})
	}
}

func TestVR_B05_MasterDownInterval(t *testing.T) {
	v3 := func(priority uint8, interval time.Duration) Config {
		c := v2(priority)
		c.Version, c.AdvertInterval = 3, interval
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		// advertInterval is the interval the master advertises (v3 backups
		// adopt it); zero sends no advert.
		advertInterval time.Duration
		wantDown       time.Duration // after the last advert
		wantReason     string
	}{
		{"v2 interval 1s priority 100", v2(100), time.Second, 3609375 * time.Microsecond, "no advert for 3.609s"},
		{"v2 priority 254 has the shortest skew", v2(254), time.Second, 3007812500, "no advert for 3.008s"},
		{"v2 priority 1", v2(1), time.Second, 3996093750, "no advert for 3.996s"},
		{"v3 interval 100ms priority 100", v3(100, 100*ms), 100 * ms, 360937500, "no advert for 361ms"},
		{"v3 backup adopts the master's interval", v3(100, time.Second), 100 * ms, 360937500, "no advert for 361ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.cfg)
			h.at(0, Start{})
			last := 500 * ms
			h.at(last, Advert{Priority: 255, Source: addr("10.0.0.9"), Interval: tt.advertInterval})
			if h.m.MasterDownInterval() != tt.wantDown {
				t.Errorf("MasterDownInterval() = %v, want %v", h.m.MasterDownInterval(), tt.wantDown)
			}
			h.advance(last + tt.wantDown - 1)
			if h.m.State() != Backup {
				t.Fatalf("state %v just before master down, want BACKUP", h.m.State())
			}
			h.advance(last + tt.wantDown)
			tr, at := h.lastTransition()
			if tr.To != Master || at != last+tt.wantDown {
				t.Fatalf("last transition %+v at %v, want MASTER at %v", tr, at, last+tt.wantDown)
			}
			if !strings.Contains(tr.Reason, tt.wantReason) {
				t.Errorf("reason %q, want it to contain %q", tr.Reason, tt.wantReason)
			}
		})
	}
}

// masterAt returns a harness whose machine is MASTER (data plane ready).
func masterAt(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := newHarness(t, cfg)
	h.at(0, Start{})
	h.advance(10 * time.Second)
	if h.m.State() != Master || h.m.Preparing() {
		t.Fatalf("setup: state %v preparing %v, want MASTER ready", h.m.State(), h.m.Preparing())
	}
	return h
}

func TestVR_B06_B07_MasterReceivesAdvert(t *testing.T) {
	tests := []struct {
		name        string
		advert      Advert
		wantState   State
		wantActions []string
		wantReason  string
	}{
		{"higher priority preempts", Advert{Priority: 200, Source: addr("10.0.0.2")}, Backup,
			[]string{"RemoveVIPs", "MASTER->BACKUP", "RunScript(BACKUP)"}, "preempted by 10.0.0.2 priority 200"},
		{"lower priority is answered at once, and the VIPs announced again", Advert{Priority: 50, Source: addr("10.0.0.2")}, Master,
			[]string{"SendAdvert", "SendGARP"}, ""},
		{"equal priority and higher address wins", Advert{Priority: 100, Source: addr("10.0.0.2")}, Backup,
			[]string{"RemoveVIPs", "MASTER->BACKUP", "RunScript(BACKUP)"}, "lost tie-break at priority 100 to higher address 10.0.0.2"},
		{"equal priority and lower address is answered too", Advert{Priority: 100, Source: addr("10.0.0.0")}, Master,
			[]string{"SendAdvert", "SendGARP"}, ""},
		{"priority 0 is answered at once", Advert{Priority: 0, Source: addr("10.0.0.2")}, Master,
			[]string{"SendAdvert"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := masterAt(t, v2(100))
			acts := h.at(10500*ms, tt.advert)
			if got := kinds(acts); !slices.Equal(got, tt.wantActions) {
				t.Errorf("actions %v, want %v", got, tt.wantActions)
			}
			if h.m.State() != tt.wantState {
				t.Errorf("state %v, want %v", h.m.State(), tt.wantState)
			}
			if tr, ok := lastOf[Transition](acts); ok && tr.Reason != tt.wantReason {
				t.Errorf("reason %q, want %q", tr.Reason, tt.wantReason)
			}
			if tt.wantState == Master {
				// The answer restarts the advert timer.
				if next, _ := h.m.NextDeadline(); next.Sub(t0) != 11500*ms {
					t.Errorf("next advert at %v, want 11.5s", next.Sub(t0))
				}
			}
		})
	}
}

func TestVR_B07_AnswerRateLimited(t *testing.T) {
	// Two routers that both see the other as weaker (duplicate address and
	// priority) must not answer each other at wire speed.
	h := masterAt(t, v2(100))
	weaker := Advert{Priority: 50, Source: addr("10.0.0.9")}
	tests := []struct {
		at         time.Duration
		wantAnswer bool
	}{
		{10100 * ms, true},
		{10100 * ms, false},
		{10900 * ms, false},
		{11100 * ms, true},
	}
	for _, tt := range tests {
		_, answered := lastOf[SendAdvert](h.at(tt.at, weaker))
		if answered != tt.wantAnswer {
			t.Errorf("weaker advert at %v: answered %v, want %v", tt.at, answered, tt.wantAnswer)
		}
	}
}

func TestVR_B08_B10_Preemption(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantState State
	}{
		{"preempt true takes over from a lower master", v2(200), Master},
		{"preempt false keeps a lower master", func() Config { c := v2(200); c.Preempt = false; return c }(), Backup},
		{"owner preempts even with preempt false", func() Config { c := v2(255); c.Preempt = false; return c }(), Master},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.cfg)
			h.at(0, Start{})
			if tt.cfg.owner() {
				// The owner is MASTER at once; a reset makes it BACKUP so
				// preemption can be observed.
				h.at(0, ResetMaster{})
			}
			for at := 100 * ms; at < 20*time.Second; at += time.Second {
				h.at(at, Advert{Priority: 100, Source: addr("10.0.0.9")})
				if h.m.State() == Master {
					break
				}
			}
			if h.m.State() != tt.wantState {
				t.Errorf("state %v, want %v", h.m.State(), tt.wantState)
			}
		})
	}
}

func TestVR_B09_PreemptDelay(t *testing.T) {
	cfg := v2(200)
	cfg.PreemptDelay = 5 * time.Second
	t.Run("takes over after the delay", func(t *testing.T) {
		h := newHarness(t, cfg)
		h.at(0, Start{})
		for at := time.Second; at <= 10*time.Second && h.m.State() == Backup; at += time.Second {
			h.at(at, Advert{Priority: 100, Source: addr("10.0.0.9")})
		}
		tr, at := h.lastTransition()
		if tr.To != Master || at != 6*time.Second {
			t.Fatalf("last transition %+v at %v, want MASTER at 6s (first lower advert at 1s + 5s)", tr, at)
		}
		if want := "preempted 10.0.0.9 priority 100 after preempt-delay 5s"; tr.Reason != want {
			t.Errorf("reason %q, want %q", tr.Reason, want)
		}
		if ip, prio := h.m.LastMaster(); ip != addr("10.0.0.9") || prio != 100 {
			t.Errorf("LastMaster() = %v, %d; want 10.0.0.9, 100", ip, prio)
		}
	})
	t.Run("an advert at least as good cancels the pending preemption", func(t *testing.T) {
		h := newHarness(t, cfg)
		h.at(0, Start{})
		h.at(time.Second, Advert{Priority: 100, Source: addr("10.0.0.9")})
		h.at(2*time.Second, Advert{Priority: 200, Source: addr("10.0.0.8")})
		for at := 3 * time.Second; at <= 10*time.Second && h.m.State() == Backup; at += time.Second {
			h.at(at, Advert{Priority: 100, Source: addr("10.0.0.9")})
		}
		if _, at := h.lastTransition(); h.m.State() != Master || at != 8*time.Second {
			t.Errorf("state %v since %v, want MASTER since 8s (delay restarted at 3s)", h.m.State(), at)
		}
	})
}

func TestVR_B12_Resignation(t *testing.T) {
	t.Run("backup takes over after skew time on priority 0", func(t *testing.T) {
		h := newHarness(t, v2(100))
		h.at(0, Start{})
		h.at(time.Second, Advert{Priority: 200, Source: addr("10.0.0.9")})
		h.at(2*time.Second, Advert{Priority: 0, Source: addr("10.0.0.9")})
		h.advance(5 * time.Second)
		tr, at := h.lastTransition()
		if want := 2*time.Second + 609375*time.Microsecond; tr.To != Master || at != want {
			t.Fatalf("last transition %+v at %v, want MASTER at %v", tr, at, want)
		}
		if want := "master 10.0.0.9 resigned (priority 0), skew time 609ms"; !strings.Contains(tr.Reason, want) {
			t.Errorf("reason %q, want it to contain %q", tr.Reason, want)
		}
	})
	tests := []struct {
		name        string
		ev          Event
		wantState   State
		wantActions []string
	}{
		{"shutdown", Shutdown{}, Init, []string{"SendAdvert(0)", "RemoveVIPs", "MASTER->INIT"}},
		{"disable", Disable{}, Disabled, []string{"SendAdvert(0)", "RemoveVIPs", "MASTER->DISABLED"}},
		{"reset vrrp master", ResetMaster{}, Backup, []string{"SendAdvert(0)", "RemoveVIPs", "MASTER->BACKUP", "RunScript(BACKUP)"}},
	}
	for _, tt := range tests {
		t.Run("master resigns on "+tt.name, func(t *testing.T) {
			h := masterAt(t, v2(100))
			acts := h.at(11*time.Second, tt.ev)
			if got := kinds(acts); !slices.Equal(got, tt.wantActions) {
				t.Errorf("actions %v, want %v", got, tt.wantActions)
			}
			if h.m.State() != tt.wantState {
				t.Errorf("state %v, want %v", h.m.State(), tt.wantState)
			}
		})
	}
}

func TestVR_B30_Fault(t *testing.T) {
	type setup func(t *testing.T) *harness
	backup := func(t *testing.T) *harness {
		h := newHarness(t, v2(100))
		h.at(19*time.Second, Start{})
		return h
	}
	preparing := func(t *testing.T) *harness {
		h := newHarness(t, v2(100))
		h.holdGates = true
		h.at(0, Start{})
		h.advance(4 * time.Second)
		return h
	}
	master := func(t *testing.T) *harness { return masterAt(t, v2(100)) }
	tests := []struct {
		name        string
		setup       setup
		down, up    Event
		wantActions []string
	}{
		{"link from backup", backup, LinkDown{}, LinkUp{}, []string{"BACKUP->FAULT", "RunScript(FAULT)"}},
		{"link from preparing master", preparing, LinkDown{}, LinkUp{}, []string{"CancelPrepare", "MASTER->FAULT", "RunScript(FAULT)"}},
		{"link from master", master, LinkDown{}, LinkUp{}, []string{"RemoveVIPs", "MASTER->FAULT", "RunScript(FAULT)"}},
		{"address from backup", backup, AddressLost{}, AddressRestored{}, []string{"BACKUP->FAULT", "RunScript(FAULT)"}},
		{"address from master", master, AddressLost{}, AddressRestored{}, []string{"RemoveVIPs", "MASTER->FAULT", "RunScript(FAULT)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.setup(t)
			acts := h.at(20*time.Second, tt.down)
			if got := kinds(acts); !slices.Equal(got, tt.wantActions) {
				t.Errorf("actions %v, want %v", got, tt.wantActions)
			}
			if _, ok := h.m.NextDeadline(); ok {
				t.Error("a timer is armed in FAULT")
			}
			h.at(21*time.Second, Advert{Priority: 0, Source: addr("10.0.0.9")})
			h.advance(30 * time.Second)
			if h.m.State() != Fault {
				t.Fatalf("state %v, want FAULT to last", h.m.State())
			}
			acts = h.at(30*time.Second, tt.up)
			if got, want := kinds(acts), []string{"FAULT->BACKUP", "RunScript(BACKUP)"}; !slices.Equal(got, want) {
				t.Errorf("recovery actions %v, want %v", got, want)
			}
		})
	}
	t.Run("recovers only when every cause cleared", func(t *testing.T) {
		h := backup(t)
		h.at(20*time.Second, LinkDown{})
		h.at(20*time.Second, AddressLost{})
		h.at(21*time.Second, LinkUp{})
		if h.m.State() != Fault {
			t.Fatalf("state %v with the address still missing, want FAULT", h.m.State())
		}
		h.at(22*time.Second, AddressRestored{})
		if h.m.State() != Backup {
			t.Errorf("state %v, want BACKUP", h.m.State())
		}
	})
	t.Run("owner recovers to master", func(t *testing.T) {
		h := newHarness(t, v2(255))
		h.at(0, LinkDown{})
		h.at(0, Start{})
		if tr, _ := h.lastTransition(); tr.To != Fault || tr.Reason != "started with interface link down" {
			t.Fatalf("start transition %+v, want FAULT: started with interface link down", tr)
		}
		h.at(time.Second, LinkUp{})
		if h.m.State() != Master {
			t.Errorf("state %v, want MASTER", h.m.State())
		}
	})
}

func TestVR_B32_DisableEnable(t *testing.T) {
	h := newHarness(t, v2(100))
	h.at(0, Start{})
	h.at(time.Second, Disable{})
	if _, ok := h.m.NextDeadline(); ok || h.m.State() != Disabled {
		t.Fatalf("state %v, timer armed %v; want DISABLED, no timer", h.m.State(), ok)
	}
	h.at(2*time.Second, Start{}) // a disabled group ignores Start
	h.at(2*time.Second, LinkDown{})
	if h.m.State() != Disabled {
		t.Fatalf("state %v, want DISABLED", h.m.State())
	}
	h.at(3*time.Second, Enable{})
	if tr, _ := h.lastTransition(); tr.From != Disabled || tr.To != Fault {
		t.Errorf("enable with the link down: transition %+v, want DISABLED->FAULT", tr)
	}
}

func TestVR_O05_ResetMaster(t *testing.T) {
	t.Run("not master: nothing changes", func(t *testing.T) {
		h := newHarness(t, v2(100))
		h.at(0, Start{})
		if acts := h.at(time.Second, ResetMaster{}); len(acts) != 0 || h.m.State() != Backup {
			t.Errorf("actions %v state %v, want none and BACKUP", kinds(acts), h.m.State())
		}
	})
	tests := []struct {
		name      string
		preempt   bool
		wantState State
	}{
		{"preempt false stays backup under the new master", false, Backup},
		{"preempt true takes the role back", true, Master},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := v2(200)
			cfg.Preempt = tt.preempt
			h := masterAt(t, cfg)
			h.at(11*time.Second, ResetMaster{})
			// The peer with priority 100 takes over after its skew time and
			// advertises every second.
			for at := 12 * time.Second; at < 30*time.Second; at += time.Second {
				h.at(at, Advert{Priority: 100, Source: addr("10.0.0.9")})
			}
			if h.m.State() != tt.wantState {
				t.Errorf("state %v, want %v", h.m.State(), tt.wantState)
			}
		})
	}
}

func TestTakeoverGates(t *testing.T) {
	h := newHarness(t, v2(100))
	h.holdGates = true
	h.at(0, Start{})
	acts := h.at(4*time.Second, Advert{Priority: 50, Source: addr("10.0.0.9")})
	if !h.m.Preparing() {
		t.Fatalf("state %v preparing %v, want MASTER preparing", h.m.State(), h.m.Preparing())
	}
	// Claimed at once: the master advertises while preparing.
	if got := kinds(kindsOf(h.log[len(h.log)-4 : len(h.log)-1])); !slices.Equal(got, []string{"BACKUP->MASTER", "SendAdvert", "PrepareDataPlane"}) {
		t.Errorf("takeover actions %v", got)
	}
	if got := kinds(acts); !slices.Equal(got, []string{"SendAdvert"}) {
		t.Errorf("lower advert while preparing: actions %v, want the master's answer", got)
	}
	h.advance(6 * time.Second)
	if got := kinds(h.at(6*time.Second, GatesDone{})); !slices.Equal(got, []string{"AddVIPs", "SendGARP", "RunScript(MASTER)"}) {
		t.Errorf("gates done: actions %v", got)
	}
	if got := h.at(7*time.Second, GatesDone{}); len(got) != 0 {
		t.Errorf("second GatesDone: actions %v, want none", kinds(got))
	}

	t.Run("leaving while preparing cancels the gates", func(t *testing.T) {
		h := newHarness(t, v2(100))
		h.holdGates = true
		h.at(0, Start{})
		h.advance(4 * time.Second)
		acts := h.at(5*time.Second, Advert{Priority: 200, Source: addr("10.0.0.9")})
		if got, want := kinds(acts), []string{"CancelPrepare", "MASTER->BACKUP", "RunScript(BACKUP)"}; !slices.Equal(got, want) {
			t.Errorf("actions %v, want %v", got, want)
		}
		if got := h.at(5*time.Second, GatesDone{}); len(got) != 0 {
			t.Errorf("late GatesDone: actions %v, want none", kinds(got))
		}
	})
}

// kindsOf adapts a log slice for kinds.
func kindsOf(log []stamped) []Action {
	acts := make([]Action, len(log))
	for i, s := range log {
		acts[i] = s.a
	}
	return acts
}

func TestDemotionSuppressesPreemption(t *testing.T) {
	h := newHarness(t, v2(200))
	h.at(0, Start{})
	h.at(0, Demotion{Held: true})
	for at := time.Second; at < 20*time.Second; at += time.Second {
		h.at(at, Advert{Priority: 100, Source: addr("10.0.0.9")})
	}
	if h.m.State() != Backup {
		t.Fatalf("state %v with a demotion held, want BACKUP", h.m.State())
	}
	// A master that disappears is still replaced.
	h.advance(25 * time.Second)
	if h.m.State() != Master {
		t.Fatalf("state %v after the master went silent, want MASTER", h.m.State())
	}
	t.Run("released demotion preempts", func(t *testing.T) {
		h := newHarness(t, v2(200))
		h.at(0, Start{})
		h.at(0, Demotion{Held: true})
		h.at(time.Second, Advert{Priority: 100, Source: addr("10.0.0.9")})
		h.at(2*time.Second, Demotion{Held: false})
		for at := 2 * time.Second; at < 10*time.Second && h.m.State() == Backup; at += time.Second {
			h.at(at, Advert{Priority: 100, Source: addr("10.0.0.9")})
		}
		if h.m.State() != Master {
			t.Errorf("state %v, want MASTER", h.m.State())
		}
	})
}

func TestVR_B33_Reconfigure(t *testing.T) {
	h := masterAt(t, v2(100))
	cfg := v2(150)
	if err := h.m.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if h.m.State() != Master {
		t.Fatalf("state %v after reload, want MASTER kept", h.m.State())
	}
	h.advance(12 * time.Second)
	if a, _ := lastOf[SendAdvert](kindsOf(h.log)); a.Priority != 150 {
		t.Errorf("advert priority %d after reload, want 150", a.Priority)
	}
	bad := cfg
	bad.Priority = 0
	if err := h.m.Reconfigure(bad); err == nil || h.m.Config().Priority != 150 {
		t.Errorf("Reconfigure(priority 0) = %v, config priority %d; want an error and 150 kept", err, h.m.Config().Priority)
	}
}

// TestVR_B06_AdvertPhaseDoesNotDrift: a timer that fires late sends the
// advert then, but the next one stays due an interval after the late one
// was due, so wakeup latency does not accumulate into the phase.
func TestVR_B06_AdvertPhaseDoesNotDrift(t *testing.T) {
	h := masterAt(t, v2(100))
	due, _ := h.m.NextDeadline()
	const late = 3 * ms
	h.now = due.Add(late) // the wakeup comes late; advance would fire on time
	if _, sent := lastOf[SendAdvert](h.handle(TimerFired{})); !sent {
		t.Fatal("the late timer sent no advert")
	}
	if next, _ := h.m.NextDeadline(); !next.Equal(due.Add(time.Second)) {
		t.Errorf("next advert due %v after start, want %v (an interval after the late one was due)", next.Sub(t0), due.Add(time.Second).Sub(t0))
	}
	// A wakeup later than a whole interval starts a new phase.
	due, _ = h.m.NextDeadline()
	h.now = due.Add(1500 * ms)
	h.handle(TimerFired{})
	if next, _ := h.m.NextDeadline(); !next.Equal(due.Add(2500 * ms)) {
		t.Errorf("after a wakeup 1.5 s late, next advert due %v after start, want %v", next.Sub(t0), due.Add(2500*ms).Sub(t0))
	}
}
