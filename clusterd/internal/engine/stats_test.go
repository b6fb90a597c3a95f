package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/monitor"
	"github.com/hasuite/hasuite/pkg/bus"
)

// The counters behind `show cluster statistics`: each moves on its event
// and on nothing else.

// TestStatsLinkCounters (CL-B04): heartbeats are counted per cluster
// interface, both ways; a cut link shows as down once its silence passes
// dead-interval, and the silence is counted once it ends.
func TestStatsLinkCounters(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	l.advance(10 * keepalive)
	for _, n := range []*node{r1, r2} {
		st := n.status()
		var sent, received uint64
		for _, ifname := range []string{"eth0", "eth1"} {
			lc := st.Counters.Links[ifname]
			sent, received = sent+lc.Sent, received+lc.Received
			if lc.Sent == 0 || lc.Received == 0 || lc.SendErrors != 0 || lc.AuthFailures != 0 {
				t.Errorf("%s %s: %+v, want heartbeats both ways and no error", n.name, ifname, lc)
			}
			if lc.FirstReceived.IsZero() || !lc.AliveSince.Equal(lc.FirstReceived) || st.Now.Sub(lc.LastReceived) > 2*keepalive {
				t.Errorf("%s %s at %v: first %v, alive since %v, last %v", n.name, ifname, st.Now, lc.FirstReceived, lc.AliveSince, lc.LastReceived)
			}
			if down := lc.TimesDown(st.Now, dead); down != 0 || lc.Silences != 0 {
				t.Errorf("%s %s: down %d times, %d silences, want none", n.name, ifname, down, lc.Silences)
			}
		}
		if sent != st.Counters.HeartbeatsSent || received != st.Counters.HeartbeatsReceived {
			t.Errorf("%s: links sent %d received %d, totals %d and %d", n.name, sent, received,
				st.Counters.HeartbeatsSent, st.Counters.HeartbeatsReceived)
		}
	}

	l.links["eth0"].SetCut(true)
	l.advance(2 * dead)
	before := r2.status()
	l.advance(5 * keepalive)
	st := r2.status()
	cut, other := st.Counters.Links["eth0"], st.Counters.Links["eth1"]
	if cut.Received != before.Counters.Links["eth0"].Received || cut.TimesDown(st.Now, dead) != 1 || cut.Silences != 0 {
		t.Errorf("eth0 cut: received %d (was %d), down %d times, %d silences; want no change, 1, 0",
			cut.Received, before.Counters.Links["eth0"].Received, cut.TimesDown(st.Now, dead), cut.Silences)
	}
	if other.Received <= before.Counters.Links["eth1"].Received || other.TimesDown(st.Now, dead) != 0 {
		t.Errorf("eth1 not cut: received %d (was %d), down %d times", other.Received, before.Counters.Links["eth1"].Received,
			other.TimesDown(st.Now, dead))
	}
	if cut.Sent <= before.Counters.Links["eth0"].Sent {
		t.Errorf("eth0 cut: R2 stopped sending on it (%d, was %d); the cut is on the wire", cut.Sent, before.Counters.Links["eth0"].Sent)
	}

	healed := st.Now
	l.links["eth0"].SetCut(false)
	l.advance(3 * keepalive)
	st = r2.status()
	cut = st.Counters.Links["eth0"]
	if cut.Silences != 1 || cut.TimesDown(st.Now, dead) != 1 || cut.AliveSince.Before(healed) || cut.FirstReceived.After(healed) {
		t.Errorf("eth0 healed at %v: %+v, want 1 silence, alive since after the heal, first heard before", healed, cut)
	}
}

// TestStatsLinkSendErrors: a send the kernel refuses counts on its
// interface and in the total, and not as sent.
func TestStatsLinkSendErrors(t *testing.T) {
	l, r1, _ := pair(t, spec{})
	before := r1.status().Counters
	r1.sendFails.put("eth1", true)
	l.advance(5 * keepalive)
	c := r1.status().Counters
	bad, good := c.Links["eth1"], c.Links["eth0"]
	if bad.SendErrors == 0 || bad.Sent != before.Links["eth1"].Sent {
		t.Errorf("eth1 refusing: %d send errors, sent %d (was %d)", bad.SendErrors, bad.Sent, before.Links["eth1"].Sent)
	}
	if good.SendErrors != 0 || good.Sent <= before.Links["eth0"].Sent {
		t.Errorf("eth0 fine: %d send errors, sent %d (was %d)", good.SendErrors, good.Sent, before.Links["eth0"].Sent)
	}
	if c.SendErrors != bad.SendErrors {
		t.Errorf("total send errors %d, eth1 %d", c.SendErrors, bad.SendErrors)
	}
}

// TestStatsLinkAuthFailures (CL-B05): heartbeats under another secret
// count as authentication failures on the interface they came in on.
func TestStatsLinkAuthFailures(t *testing.T) {
	l := newLab(t)
	r1, r2 := l.node("R1", 1), l.node("R2", 2)
	r1.start(parse(t, spec{}))
	r2.start(parse(t, spec{secret: "another secret, quite long"}))
	l.advance(10 * keepalive)
	for _, n := range []*node{r1, r2} {
		c := n.status().Counters
		eth0, eth1 := c.Links["eth0"], c.Links["eth1"]
		if eth0.AuthFailures == 0 || eth1.AuthFailures == 0 || eth0.AuthFailures+eth1.AuthFailures != c.Drops["bad_mac"] {
			t.Errorf("%s: auth failures eth0 %d eth1 %d, bad_mac drops %d", n.name, eth0.AuthFailures, eth1.AuthFailures, c.Drops["bad_mac"])
		}
		if eth0.Received+eth1.Received != 0 || !eth0.LastReceived.IsZero() {
			t.Errorf("%s: accepted a heartbeat under another secret: %+v %+v", n.name, eth0, eth1)
		}
	}
}

// TestStatsMonitorsFresh (CL-B10): the status shows each monitor's last
// reply and counts as the pinger has them now, not as they were at the
// last state change; going unreachable is counted.
func TestStatsMonitorsFresh(t *testing.T) {
	l, r1, _ := pair(t, spec{})
	first := r1.status().Monitors[0]
	l.advance(5 * keepalive)
	st := r1.status()
	m := st.Monitors[0]
	if m.State != monitor.Reachable || !m.LastReply.After(first.LastReply) || st.Now.Sub(m.LastReply) > keepalive {
		t.Errorf("at %v: %v, last reply %v (was %v): stale", st.Now, m.State, m.LastReply, first.LastReply)
	}
	if m.Sent < first.Sent+4 || m.Replies < first.Replies+4 || m.TimesUnreachable != 0 {
		t.Errorf("after 5 intervals: sent %d replies %d (were %d, %d), unreachable %d times",
			m.Sent, m.Replies, first.Sent, first.Replies, m.TimesUnreachable)
	}

	r1.reach.set(monitorAddr, false)
	l.until("the monitor unreachable on R1", 2*monDead, func() bool { return r1.status().Monitors[0].State == monitor.Unreachable })
	lost := r1.status().Monitors[0]
	l.advance(3 * keepalive)
	m = r1.status().Monitors[0]
	if m.TimesUnreachable != 1 || m.Replies != lost.Replies || m.Sent < lost.Sent+2 || !m.LastReply.Equal(lost.LastReply) {
		t.Errorf("unanswered: %+v, want 1 time unreachable, pings going out, replies and last reply as at %+v", m, lost)
	}

	r1.reach.set(monitorAddr, true)
	l.until("the monitor back on R1", monDead, func() bool { return r1.status().Monitors[0].State == monitor.Reachable })
	if m = r1.status().Monitors[0]; m.TimesUnreachable != 1 || m.Replies <= lost.Replies {
		t.Errorf("answering again: %+v", m)
	}
}

// TestStatsStopFailures (CL-Q15): a release where a service fails to stop
// is counted, and the release goes on.
func TestStatsStopFailures(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	if c := r1.status().Counters; c.StopFailures != 0 || c.Releases != 0 {
		t.Fatalf("before: %+v", c)
	}
	r1.scripts.setFail("web stop", true)
	if err := r1.eng.Standby(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.until("R2 holding after R1's standby", 2*dead, r2.holds)
	if c := r1.status().Counters; c.StopFailures != 1 || c.Releases != 1 || r1.hasIP() {
		t.Errorf("R1 released with a failed stop: stop failures %d, releases %d, kernel %q", c.StopFailures, c.Releases, r1.kern.String())
	}
	if c := r2.status().Counters; c.StopFailures != 0 {
		t.Errorf("R2: %d stop failures", c.StopFailures)
	}
}

// TestStatsConfigMismatchEpisodes (CL-B06): a peer's differing
// configuration counts once per episode, not per heartbeat.
func TestStatsConfigMismatchEpisodes(t *testing.T) {
	l, r1, r2 := pair(t, spec{})
	other := spec{services: []string{"10.6.0.100/24/eth2"}}
	for i, cfg := range []spec{other, {}, other} {
		r2.apply(parse(t, cfg))
		l.advance(5 * keepalive)
		want := uint64(i/2 + 1) // 1, 1, 2
		if got := r1.status().Counters.ConfigMismatches; got != want {
			t.Errorf("after reload %d of R2: R1 counts %d mismatches, want %d", i+1, got, want)
		}
	}
}

// TestStatsGates: a takeover gate wait ended by a holder's failure, or by
// the deadline, is counted; the takeover goes on either way.
func TestStatsGates(t *testing.T) {
	tests := []struct {
		name                     string
		prepare                  func(ctx context.Context, release <-chan struct{}) error
		wantDeadline, wantFailed uint64
	}{
		{name: "HolderFailed", wantFailed: 1,
			prepare: func(context.Context, <-chan struct{}) error { return errors.New("first resync not done") }},
		{name: "Deadline", wantDeadline: 1,
			prepare: func(ctx context.Context, release <-chan struct{}) error {
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLabAt(t, time.Now()) // the fake clock runs ahead of the holder's real one
			r1 := l.node("R1", 1)
			r1.gateDeadline = 200 * time.Millisecond // real time: the producer's wait
			r1.start(nil)
			dial := serveBus(t, r1)
			release := make(chan struct{})
			holder := bus.NewHolder(dial, "cluster/cluster1", "ctsyncd", func(ctx context.Context, _ bus.PrepareRequest) error {
				return tt.prepare(ctx, release)
			})
			// The demotion shows the holder registered before the group runs.
			holder.SetDemoted(true, "registering")
			ctx, cancel := context.WithCancel(context.Background())
			held := make(chan error, 1)
			go func() { held <- holder.Run(ctx) }()
			t.Cleanup(func() { close(release); cancel(); <-held })
			waitReal(t, "the holder registered", func() bool { d, _ := r1.producer.Demoted("cluster/cluster1"); return d })
			holder.SetDemoted(false, "")
			waitReal(t, "the demotion cleared", func() bool { d, _ := r1.producer.Demoted("cluster/cluster1"); return !d })

			r1.apply(parse(t, spec{}))
			l.until("R1 claiming the resources alone", initDead+dead, func() bool { return r1.state() == fsm.Active })
			waitReal(t, "the gate wait over", func() bool { return r1.status().View.Phase != fsm.Preparing })
			l.until("R1 holding", dead, r1.holds)
			if c := r1.status().Counters; c.GateDeadlines != tt.wantDeadline || c.GateFailures != tt.wantFailed {
				t.Errorf("gate deadlines %d, holder failures %d; want %d, %d", c.GateDeadlines, c.GateFailures, tt.wantDeadline, tt.wantFailed)
			}
		})
	}
}
