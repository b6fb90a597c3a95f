package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/monitor"
	"github.com/hasuite/hasuite/clusterd/internal/netio"
	"github.com/hasuite/hasuite/clusterd/internal/wire"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/clock"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
)

// logEvery bounds how often dropped heartbeats and send errors are
// logged, so a misconfigured or hostile sender cannot flood the log.
const logEvery = 10 * time.Second

// group is the running cluster group; only the loop touches it.
type group struct {
	cfg     *config.Config
	busName string
	role    fsm.Role
	machine *fsm.Machine
	hash    config.Hash

	conn     netio.Conn
	sealer   *wire.Sealer
	verifier *wire.Verifier
	links    []netio.LinkStatus

	res  Resources
	work worker

	mon       Monitor
	monCancel context.CancelFunc
	monStatus monitor.Status

	timer    clock.Timer
	timerGen uint64

	prepareGen    uint64
	cancelPrepare context.CancelFunc

	peer      Peer
	peerAlive bool
	// peerPending: the peer's latest heartbeat flags Pending monitors.
	peerPending bool
	// demoted is what the machine was last told.
	demoted    bool
	warnedSame bool

	// reasonFrom is a transition reason of the machine's that status
	// shows as reasonTo (see transition).
	reasonFrom, reasonTo string
	// acquireWhy is the reason of the last transition to ACTIVE.
	acquireWhy     string
	lastSendErrLog time.Time
	// command is the machine's answer to the last manual command.
	command *fsm.CommandResult

	// stopping: Shutdown was fed; forget: remove it from the bus once
	// it has left. left is closed after the leaving heartbeat; closed is
	// set then, and results arriving later are ignored.
	stopping, forget bool
	left             chan struct{}
	closed           bool
}

// release stops everything of g that runs on its own: the receive
// goroutine (by closing the conn), the pinger, timers, a gate wait.
func (g *group) release() {
	g.timerGen++
	g.prepareGen++
	if g.timer != nil {
		g.timer.Stop()
	}
	if g.cancelPrepare != nil {
		g.cancelPrepare()
	}
	if g.monCancel != nil {
		g.monCancel()
	}
	if g.conn != nil {
		_ = g.conn.Close()
	}
	if g.res != nil {
		g.res.Close()
	}
}

func fsmRole(r config.Role) fsm.Role {
	if r == config.RolePrimary {
		return fsm.Primary
	}
	return fsm.Secondary
}

func fsmConfig(cfg *config.Config, role fsm.Role) fsm.Config {
	return fsm.Config{
		Role:         role,
		Keepalive:    cfg.KeepaliveInterval,
		DeadInterval: cfg.DeadInterval,
		InitDead:     cfg.InitDeadInterval,
		Monitors:     len(cfg.Group.Monitors),
		AutoFailback: cfg.Group.AutoFailback,
	}
}

func monitorConfig(cfg *config.Config) monitor.Config {
	return monitor.Config{
		Monitors:     cfg.Group.Monitors,
		Interval:     cfg.KeepaliveInterval,
		DeadInterval: cfg.MonitorDeadInterval,
	}
}

// pendingMonitors is the status before the pinger's first report: every
// monitor Pending from now.
func pendingMonitors(cfg *config.Config, now time.Time) monitor.Status {
	var s monitor.Status
	for _, a := range cfg.Group.Monitors {
		s.Monitors = append(s.Monitors, monitor.MonitorStatus{Addr: a, State: monitor.Pending, Since: now})
	}
	return s
}

func clusterIPs(cfg *config.Config) []netip.Addr {
	var out []netip.Addr
	if cfg == nil {
		return out
	}
	for _, s := range cfg.Group.Services {
		if s.Kind == config.ServiceIP {
			out = append(out, s.Addr.Addr())
		}
	}
	return out
}

// startGroup brings up the group of cfg: state machine, heartbeat
// sockets, resources, monitors; then starts the machine (CL-B04, CL-B07).
func (e *Engine) startGroup(cfg *config.Config) error {
	if e.g != nil || e.cfg != cfg {
		return nil // a later Apply or a Shutdown came first
	}
	name := cfg.Group.Name
	role := fsmRole(cfg.Group.RoleOf(e.opts.NodeName))
	fail := func(what string, err error) error {
		return fmt.Errorf("start cluster group %s: %s: %w", name, what, err)
	}
	if e.opts.OpenConn == nil || e.opts.NewResources == nil {
		return fail("engine", errors.New("no OpenConn or NewResources in the engine's options"))
	}
	key, err := wire.DeriveKey(cfg.Secret, name)
	if err != nil {
		return fail("heartbeat key", err)
	}
	machine, err := fsm.New(fsmConfig(cfg, role))
	if err != nil {
		return fail("configuration", err)
	}
	sealer, err := wire.NewSealer(key, name, e.opts.NodeName, e.opts.UID, wire.NewBootID())
	if err != nil {
		return fail("node identity", err)
	}
	verifier, err := wire.NewVerifier(wire.VerifierConfig{Key: key, Group: name, Self: e.opts.NodeName,
		SelfUID: e.opts.UID, Peer: cfg.Group.Peer(cfg.Group.RoleOf(e.opts.NodeName))})
	if err != nil {
		return fail("node identity", err)
	}
	res, err := e.opts.NewResources(name, cfg.Group.Services)
	if err != nil {
		return fail("services", err)
	}
	now := e.opts.Clock.Now()
	g := &group{
		cfg: cfg, busName: cfg.Group.BusName(), role: role, machine: machine, hash: cfg.Hash(),
		sealer: sealer, verifier: verifier, res: res,
		monStatus: pendingMonitors(cfg, now),
		peer:      Peer{Links: map[string]time.Time{}},
		left:      make(chan struct{}),
	}
	e.excluded.Store(new(clusterIPs(cfg)))
	if len(cfg.Group.Monitors) > 0 {
		if err := e.startMonitor(g); err != nil {
			res.Close()
			return fail("monitors", err)
		}
	}
	conn, err := e.opts.OpenConn(cfg)
	if err != nil {
		g.release()
		return fail("heartbeat sockets", err)
	}
	g.conn = conn
	g.links = conn.Refresh()
	e.logLinks(g, nil)
	go e.receive(g, conn)
	e.g = g
	e.log.Info("cluster group starting", "group", g.busName, "node", e.opts.NodeName, "role", role.String(),
		"uid", e.opts.UID.String(), "init_dead", cfg.InitDeadInterval.String())
	e.monitorsChanged(g, g.monStatus) // before Start: the monitors are not verified yet
	e.updateDemotion(g)
	e.dispatch(g, fsm.Start{})
	return nil
}

func (e *Engine) startMonitor(g *group) error {
	if e.opts.NewMonitor == nil {
		return errors.New("no NewMonitor in the engine's options")
	}
	mon, err := e.opts.NewMonitor(monitorConfig(g.cfg), func() []netip.Addr { return *e.excluded.Load() })
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.mon, g.monCancel = mon, cancel
	go func() {
		if err := mon.Run(ctx); err != nil {
			e.log.Error("monitor pinger stopped; monitors keep their last state until a reload", "group", g.busName, "err", err)
		}
	}()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case st := <-mon.Changes():
				e.post(func() {
					if !g.closed {
						e.monitorsChanged(g, st)
					}
				})
			}
		}
	}()
	return nil
}

// reconfigure applies a reload to the running group in place (CL-B23). It
// checks what can fail first, so that an error changes nothing.
func (e *Engine) reconfigure(g *group, cfg *config.Config, r config.Reload) error {
	if len(r.ServicesAdded) > 0 && e.opts.CheckResources != nil {
		if err := e.opts.CheckResources(cfg.Group.Services); err != nil {
			return fmt.Errorf("cluster group %s: %w", g.busName, err)
		}
	}
	next := fsmConfig(cfg, g.role)
	if err := validateMachine(next); err != nil {
		return fmt.Errorf("cluster group %s: %w", g.busName, err)
	}
	if r.Transport {
		if err := e.reopen(g, cfg); err != nil {
			return err
		}
	}
	g.cfg, g.hash = cfg, cfg.Hash()
	e.excluded.Store(new(clusterIPs(cfg)))
	now := e.opts.Clock.Now()
	acts, err := g.machine.Reconfigure(now, next)
	if err != nil { // validateMachine said it would not
		e.log.Error("the state machine refused the reload; timers and auto-failback are unchanged", "group", g.busName, "err", err)
	}
	for _, a := range acts {
		if g.closed {
			break
		}
		e.execute(g, a, now)
	}
	e.watchPeer(g, now)
	e.arm(g, now)
	if len(r.MonitorsAdded)+len(r.MonitorsRemoved) > 0 || r.Timers {
		e.reconfigureMonitors(g)
	}
	if len(r.ServicesAdded)+len(r.ServicesRemoved) > 0 {
		services := cfg.Group.Services
		e.offLoop(g, func() (fsm.Event, error) {
			if err := g.res.Reconcile(context.Background(), services); err != nil {
				e.log.Error("reloading the services failed", "group", g.busName, "err", err)
			}
			return nil, nil
		})
	}
	e.log.Info("cluster configuration reloaded", "group", g.busName, "changes", r.Changes)
	return nil
}

// validateMachine tells whether fsm.New (and so Reconfigure) accepts c.
func validateMachine(c fsm.Config) error {
	_, err := fsm.New(c)
	return err
}

// reopen replaces g's heartbeat sockets and key by those of cfg (a reload
// changed the transport or the secret). The old sockets close first, as
// the new ones may bind the same port; if the new ones cannot open, the
// old ones are reopened and nothing changes.
func (e *Engine) reopen(g *group, cfg *config.Config) error {
	key, err := wire.DeriveKey(cfg.Secret, cfg.Group.Name)
	if err != nil {
		return fmt.Errorf("cluster group %s: heartbeat key: %w", g.busName, err)
	}
	vcfg := wire.VerifierConfig{Key: key, Group: cfg.Group.Name, Self: e.opts.NodeName,
		SelfUID: e.opts.UID, Peer: cfg.Group.Peer(cfg.Group.RoleOf(e.opts.NodeName))}
	_ = g.conn.Close()
	conn, openErr := e.opts.OpenConn(cfg)
	if openErr != nil {
		conn, err = e.opts.OpenConn(g.cfg)
		if err != nil {
			e.log.Error("cannot reopen the old heartbeat sockets either; the peer will declare this node dead: fix the interfaces and reload",
				"group", g.busName, "err", err)
			return fmt.Errorf("cluster group %s: heartbeat sockets: %w", g.busName, openErr)
		}
		g.conn = conn
		go e.receive(g, conn)
		return fmt.Errorf("cluster group %s: heartbeat sockets: %w", g.busName, openErr)
	}
	g.conn = conn
	prev := g.links
	g.links = conn.Refresh()
	e.logLinks(g, prev)
	go e.receive(g, conn)
	if err := g.sealer.Rekey(key); err != nil {
		return err
	}
	return g.verifier.Reconfigure(vcfg)
}

// reconfigureMonitors hands the new monitor list and timers to the pinger,
// starting one if the group had no monitor before.
func (e *Engine) reconfigureMonitors(g *group) {
	// Until the pinger reports, the kept monitors keep their state and
	// the added ones are Pending.
	now := e.opts.Clock.Now()
	next := pendingMonitors(g.cfg, now)
	for i, m := range next.Monitors {
		if j := slices.IndexFunc(g.monStatus.Monitors, func(o monitor.MonitorStatus) bool { return o.Addr == m.Addr }); j >= 0 {
			next.Monitors[i] = g.monStatus.Monitors[j]
		}
	}
	if g.mon == nil {
		if len(g.cfg.Group.Monitors) == 0 {
			return
		}
		if err := e.startMonitor(g); err != nil {
			e.log.Error("cannot start pinging the monitors; they count as reachable", "group", g.busName, "err", err)
			return
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.mon.Reconfigure(ctx, monitorConfig(g.cfg)); err != nil {
			e.log.Error("cannot hand the new monitors to the pinger; restart clusterd", "group", g.busName, "err", err)
		}
	}
	e.monitorsChanged(g, next)
}

// beginStop feeds Shutdown to g: it releases the resources (off the loop),
// then sends the leaving heartbeat, and leaves (finishStop).
func (e *Engine) beginStop(g *group, forget bool) {
	if e.g == g {
		e.g = nil
	}
	if g.stopping {
		g.forget = g.forget || forget
		return
	}
	g.stopping, g.forget = true, forget
	e.stopping = append(e.stopping, g)
	e.dispatch(g, fsm.Shutdown{})
}

// finishStop forgets g once its leaving heartbeat is out.
func (e *Engine) finishStop(g *group) {
	if g.closed {
		return
	}
	g.closed = true
	g.release()
	d := g.verifier.Drops()
	for i := range e.pastDrops {
		e.pastDrops[i] += d[i]
	}
	e.stopping = slices.DeleteFunc(e.stopping, func(o *group) bool { return o == g })
	if e.g == g {
		e.g = nil
	}
	if e.opts.Producer != nil {
		if g.forget {
			e.opts.Producer.Remove(g.busName)
		} else if err := e.opts.Producer.Publish(g.busName, busv1.State_STATE_INIT, "clusterd stopped the group"); err != nil {
			e.log.Error("cannot publish transition", "group", g.busName, "err", err)
		}
	}
	e.log.Info("cluster group left: resources released, leaving heartbeat sent", "group", g.busName)
	close(g.left)
}

// dispatch feeds ev to g's machine, then the events that follow from it
// (a timer already due), each after the previous one's actions.
func (e *Engine) dispatch(g *group, ev fsm.Event) {
	e.queue = append(e.queue, queued{g, ev})
	if e.draining {
		return
	}
	e.draining = true
	defer func() { e.draining = false }()
	for len(e.queue) > 0 {
		next := e.queue[0]
		e.queue = e.queue[1:]
		if !next.g.closed {
			e.handle(next.g, next.ev)
		}
	}
}

func (e *Engine) handle(g *group, ev fsm.Event) {
	now := e.opts.Clock.Now()
	for _, a := range g.machine.Handle(now, ev) {
		if g.closed {
			break
		}
		e.execute(g, a, now)
	}
	if g.closed {
		return
	}
	e.watchPeer(g, now)
	e.arm(g, now)
}

// watchPeer notices the peer coming alive and dying from the machine's
// view, for status, counters and the log.
func (e *Engine) watchPeer(g *group, now time.Time) {
	v := g.machine.View(now)
	alive := !v.PeerLeft && (v.Peer == fsm.NodeActive || v.Peer == fsm.NodeActiveStandby ||
		v.Peer == fsm.NodeDownMonitor || v.PeerFailed)
	switch {
	case alive && !g.peerAlive:
		g.peer.AliveSince = now
		e.log.Info("peer alive", "group", g.busName, "peer", g.peer.Name, "address", g.peer.Address)
	case !alive && g.peerAlive && v.PeerLeft:
		e.log.Info("peer left the cluster (clean stop)", "group", g.busName, "peer", g.peer.Name)
	case !alive && g.peerAlive:
		e.counters.PeerDeclaredDead++
		e.log.Warn("peer declared dead: no heartbeat within dead-interval", "group", g.busName, "peer", g.peer.Name,
			"dead_interval", g.cfg.DeadInterval.String(), "last_heard", g.peer.LastHeard)
	}
	g.peerAlive = alive
}

// arm re-arms g's timer to the machine's next deadline.
func (e *Engine) arm(g *group, now time.Time) {
	g.timerGen++
	if g.timer != nil {
		g.timer.Stop()
	}
	deadline, ok := g.machine.NextDeadline()
	if !ok {
		return
	}
	if !deadline.After(now) {
		e.dispatch(g, fsm.TimerFired{}) // queued behind the current event
		return
	}
	gen := g.timerGen
	g.timer = e.opts.Clock.AfterFunc(deadline.Sub(now), func() {
		e.post(func() {
			if !g.closed && g.timerGen == gen {
				e.dispatch(g, fsm.TimerFired{})
			}
		})
	})
}

func (e *Engine) execute(g *group, a fsm.Action, now time.Time) {
	switch a := a.(type) {
	case fsm.SendHeartbeat:
		e.send(g, heartbeatOf(a.Claim, g))
	case fsm.SendLeaving:
		e.send(g, wire.Message{Type: wire.TypeLeaving, Role: wireRole(g.role), ConfigHash: g.hash})
		if g.stopping {
			e.finishStop(g)
		}
	case fsm.Prepare:
		e.prepare(g, now)
	case fsm.CancelPrepare:
		g.prepareGen++
		if g.cancelPrepare != nil {
			g.cancelPrepare()
		}
	case fsm.AcquireResources:
		e.offLoop(g, func() (fsm.Event, error) {
			if err := g.res.Start(context.Background()); err != nil {
				return fsm.ResourcesFailed{Reason: err.Error()}, nil
			}
			return fsm.ResourcesStarted{}, nil
		})
	case fsm.ReleaseResources:
		e.offLoop(g, func() (fsm.Event, error) {
			// The machine goes on either way: a failed stop is logged
			// here (even if the loop has ended) and counted on the loop.
			err := g.res.Stop(context.Background())
			if err != nil {
				e.log.Error("some services failed to stop; the cluster IPs are removed regardless (CL-Q15)", "group", g.busName, "err", err)
			}
			return fsm.ResourcesStopped{}, err
		})
	case fsm.Transition:
		e.transition(g, a, now)
	case fsm.SplitBrainDetected:
		e.counters.SplitBrains++
		sb := a.Event
		verdict := "the peer keeps the resources; releasing them here"
		if sb.LocalWon {
			verdict = "this node keeps the resources; the peer releases them"
		}
		e.log.Error("SPLIT BRAIN: both nodes held the resources while they could not hear each other (CL-B21); "+verdict+
			". Give the cluster at least two heartbeat links on separate switches to make this rarer.",
			"group", g.busName, "winner", sb.Winner.String(), "reason", sb.Reason, "split_brains", e.counters.SplitBrains)
	case fsm.CommandResult:
		g.command = &a
	default:
		e.log.Error("unknown state machine action", "group", g.busName, "action", fmt.Sprintf("%T", a))
	}
}

// offLoop runs f on g's worker, after the operations submitted before it,
// and feeds its event (if any) back to the machine, with the error of a
// failed stop.
func (e *Engine) offLoop(g *group, f func() (fsm.Event, error)) {
	e.busy.Add(1)
	g.work.submit(func() {
		ev, err := f()
		if !e.post(func() {
			defer e.busy.Add(-1)
			if ev != nil && !g.closed {
				e.resourcesDone(g, ev, err)
			}
		}) {
			e.busy.Add(-1)
		}
	})
}

func (e *Engine) resourcesDone(g *group, ev fsm.Event, stopErr error) {
	now := e.opts.Clock.Now()
	switch ev := ev.(type) {
	case fsm.ResourcesStarted:
		e.counters.Acquisitions++
		e.lastFailover, e.lastFailoverWhy = now, "acquired: "+g.acquireWhy
		e.log.Info("resources started", "group", g.busName, "services", len(g.cfg.Group.Services))
	case fsm.ResourcesFailed:
		e.counters.StartFailures++
		e.log.Error("resources failed to start; asking the peer to take over (CL-B14)", "group", g.busName, "err", ev.Reason)
	case fsm.ResourcesStopped:
		e.counters.Releases++
		if stopErr != nil {
			e.counters.StopFailures++
		}
		e.lastFailover, e.lastFailoverWhy = now, "released: "+g.machine.View(now).LastTransition.Reason
		e.log.Info("resources stopped", "group", g.busName)
	}
	e.dispatch(g, ev)
}

// prepare runs the takeover gates off the loop and feeds GatesDone back.
func (e *Engine) prepare(g *group, now time.Time) {
	g.prepareGen++
	gen := g.prepareGen
	finish := func(res bus.GateResult) {
		if g.closed || g.prepareGen != gen {
			return
		}
		if !res.Ready() {
			e.countGates(res)
			e.log.Warn("taking over without every gate ready", "group", g.busName, "gates", res.String())
		}
		e.dispatch(g, fsm.GatesDone{})
	}
	if e.opts.Producer == nil {
		finish(bus.GateResult{}) // queued behind the current event: no gate, no wait
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancelPrepare = cancel
	deadline := now.Add(e.opts.GateDeadline)
	go func() {
		res := e.opts.Producer.Prepare(ctx, g.busName, busv1.State_STATE_ACTIVE, deadline)
		cancel()
		e.post(func() { finish(res) })
	}()
}

// countGates counts a gate wait that ended by the deadline, or with a
// holder failed or gone (a wait can count as both).
func (e *Engine) countGates(res bus.GateResult) {
	var deadline, failed bool
	for _, h := range res.Holders {
		switch h.Outcome {
		case busv1.GateOutcome_GATE_OUTCOME_TIMED_OUT:
			deadline = true
		case busv1.GateOutcome_GATE_OUTCOME_FAILED, busv1.GateOutcome_GATE_OUTCOME_DISCONNECTED:
			failed = true
		}
	}
	if deadline {
		e.counters.GateDeadlines++
	}
	if failed {
		e.counters.GateFailures++
	}
}

func busState(s fsm.State) busv1.State {
	switch s {
	case fsm.Active:
		return busv1.State_STATE_ACTIVE
	case fsm.Standby:
		return busv1.State_STATE_STANDBY
	case fsm.Down:
		return busv1.State_STATE_DOWN
	}
	return busv1.State_STATE_INIT // Init, and Stopped while shutting down
}

func (e *Engine) transition(g *group, t fsm.Transition, now time.Time) {
	if st := g.monStatus; t.To == fsm.Down && pendingCount(st) > 0 && st.Unreachable() == 0 &&
		strings.HasPrefix(t.Reason, "at least 1 monitor not reachable") {
		// The machine's wording counts the Pending monitors twice
		// (machineCounts): say what it is.
		why := fmt.Sprintf("monitors not verified yet (%d of %d have not answered)", pendingCount(st), len(st.Monitors))
		g.reasonFrom, g.reasonTo = t.Reason, why
		t.Reason = why
	}
	if t.To == fsm.Active {
		g.acquireWhy = t.Reason
	}
	e.log.Info("cluster transition", "group", g.busName, "from", t.From.String(), "to", t.To.String(), "reason", t.Reason)
	e.hub.notify(Event{Time: now, From: t.From, To: t.To, Reason: t.Reason})
	if e.opts.Producer == nil {
		return
	}
	if err := e.opts.Producer.Publish(g.busName, busState(t.To), t.Reason); err != nil {
		e.log.Error("cannot publish transition", "group", g.busName, "err", err)
	}
}

// monitorsChanged feeds the pinger's report to the machine (see the
// notes in engine.go on Pending monitors).
func (e *Engine) monitorsChanged(g *group, st monitor.Status) {
	g.monStatus = st
	reachable, total := machineCounts(st)
	e.dispatch(g, fsm.MonitorsChanged{Reachable: reachable, Total: total})
}

// machineCounts are the monitor counts the machine compares: a Pending
// monitor counts as reachable (ipfail compares equal while both nodes
// verify), and once more in the total, so that the node does not reach
// "all its monitors", which auto-failback requires (CL-B20).
func machineCounts(st monitor.Status) (reachable, total int) {
	n, pending := len(st.Monitors), pendingCount(st)
	return n - st.Unreachable(), n + pending
}

func pendingCount(st monitor.Status) int {
	n := 0
	for _, m := range st.Monitors {
		if m.State == monitor.Pending {
			n++
		}
	}
	return n
}

// updateDemotion tells the machine whether a bus consumer demotes this
// node.
func (e *Engine) updateDemotion(g *group) {
	held := false
	if e.opts.Producer != nil {
		held, _ = e.opts.Producer.Demoted(g.busName)
	}
	if held == g.demoted {
		return
	}
	g.demoted = held
	e.dispatch(g, fsm.Demotion{Held: held})
}

func wireRole(r fsm.Role) wire.Role {
	if r == fsm.Primary {
		return wire.RolePrimary
	}
	return wire.RoleSecondary
}

func clamp16(n int) uint16 { return uint16(max(0, min(n, 0xffff))) }

// heartbeatOf is the heartbeat saying c. The monitor counts come from the
// pinger's status, which c's reflect: the wire carries the configured
// total and flags the Pending monitors rather than counting them twice.
func heartbeatOf(c fsm.Claim, g *group) wire.Message {
	st := g.monStatus
	m := wire.Message{
		Type:              wire.TypeHeartbeat,
		Role:              wireRole(g.role),
		MonitorsReachable: clamp16(len(st.Monitors) - st.Unreachable()),
		MonitorsTotal:     clamp16(len(st.Monitors)),
		ConfigHash:        g.hash,
	}
	if pendingCount(st) > 0 {
		m.Flags |= wire.FlagMonitorsPending
	}
	for _, f := range []struct {
		set  bool
		flag wire.Flags
	}{
		{c.Holds, wire.FlagHoldsResources},
		{c.FailedStart, wire.FlagResourcesFailed},
		{c.Releasing, wire.FlagReleasing},
		{c.Standby, wire.FlagStandby},
		{c.Takeover, wire.FlagTakeover},
		{c.Demoted, wire.FlagDemoted},
	} {
		if f.set {
			m.Flags |= f.flag
		}
	}
	if c.Holds {
		m.HeldFor = max(c.HeldFor, 0)
	}
	return m
}

// claimOf is what a received heartbeat says of its sender. Pending
// monitors there count once more in the total, as this node's own do
// (machineCounts).
func claimOf(m wire.Message) fsm.Claim {
	total := int(m.MonitorsTotal)
	if m.Flags.Has(wire.FlagMonitorsPending) {
		total++
	}
	return fsm.Claim{
		Holds:       m.Flags.Has(wire.FlagHoldsResources),
		Releasing:   m.Flags.Has(wire.FlagReleasing),
		HeldFor:     m.HeldFor,
		Reachable:   int(m.MonitorsReachable),
		Total:       total,
		FailedStart: m.Flags.Has(wire.FlagResourcesFailed),
		Standby:     m.Flags.Has(wire.FlagStandby),
		Takeover:    m.Flags.Has(wire.FlagTakeover),
		Demoted:     m.Flags.Has(wire.FlagDemoted),
	}
}

// send seals m once per usable cluster interface, each copy with its own
// sequence number, and sends it there (CL-B04).
func (e *Engine) send(g *group, m wire.Message) {
	prev := g.links
	g.links = g.conn.Refresh()
	e.logLinks(g, prev)
	for _, l := range g.links {
		if !l.Usable() {
			continue
		}
		m.Interface = l.Name
		b, err := g.sealer.Seal(m)
		if err == nil {
			err = g.conn.Send(l.Name, b)
		}
		lc := e.link(l.Name)
		if err != nil {
			e.counters.SendErrors++
			lc.SendErrors++
			if now := e.opts.Clock.Now(); g.lastSendErrLog.IsZero() || now.Sub(g.lastSendErrLog) >= logEvery {
				g.lastSendErrLog = now
				e.log.Error("cannot send heartbeat (further failures are counted, logged at most every 10s)",
					"group", g.busName, "interface", l.Name, "err", err, "failures", e.counters.SendErrors)
			}
			continue
		}
		e.counters.HeartbeatsSent++
		lc.Sent++
	}
}

// logLinks logs the cluster interfaces whose usability changed since prev
// (nil: the first look, which logs the unusable ones only).
func (e *Engine) logLinks(g *group, prev []netio.LinkStatus) {
	for _, l := range g.links {
		i := slices.IndexFunc(prev, func(p netio.LinkStatus) bool { return p.Name == l.Name })
		was := i >= 0 && prev[i].Usable()
		switch {
		case l.Usable() && i >= 0 && !was:
			e.log.Info("cluster interface usable again", "group", g.busName, "interface", l.Name, "source", l.Source.String())
		case !l.Usable() && (i < 0 || was):
			e.log.Warn("cluster interface unusable: no heartbeats on it until it comes back", "group", g.busName,
				"interface", l.Name, "err", l.Err)
		}
	}
}

// receive reads heartbeats from conn until it closes; it touches g only
// through the loop.
func (e *Engine) receive(g *group, conn netio.Conn) {
	for {
		r, err := conn.Receive()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				e.log.Error("heartbeat socket failed; reload to reopen it", "group", g.busName, "err", err)
			}
			return
		}
		if !e.post(func() {
			if !g.closed && g.conn == conn {
				e.received(g, r)
			}
		}) {
			return
		}
	}
}

// received checks a datagram (wire.Verifier) and feeds an authentic
// heartbeat to the machine.
func (e *Engine) received(g *group, r netio.Received) {
	a, err := g.verifier.Check(r.Payload)
	if err != nil {
		if wire.ReasonOf(err) == wire.DropBadMAC {
			e.link(r.Interface).AuthFailures++
		}
		e.logDrop(g, r, err)
		return
	}
	now := e.opts.Clock.Now()
	e.counters.HeartbeatsReceived++
	e.linkHeard(g, r.Interface, now)
	p := &g.peer
	if a.NewBoot && !p.FirstHeard.IsZero() {
		e.log.Info("peer restarted (new boot id)", "group", g.busName, "peer", a.Node, "boot", a.BootID.String())
	}
	if a.UIDChanged {
		e.log.Warn("the peer's name now comes from another node UID: it was re-installed, or two hosts use the name (then this repeats)",
			"group", g.busName, "peer", a.Node, "uid", a.UID.String(), "previous_uid", a.PreviousUID.String())
	}
	if a.SameUIDAsSelf && !g.warnedSame {
		g.warnedSame = true
		e.log.Warn("the peer uses this node's UID: one state directory was copied to the other node; delete the UID file there and restart it",
			"group", g.busName, "peer", a.Node, "uid", a.UID.String())
	}
	if p.FirstHeard.IsZero() {
		p.FirstHeard = now
	}
	p.Name, p.UID, p.BootID = a.Node, a.UID, a.BootID.String()
	p.Address = r.Src.Addr().String()
	p.LastHeard = now
	p.Links[r.Interface] = now
	leaving := a.Type == wire.TypeLeaving
	if mismatch := a.ConfigHash != g.hash; !leaving && mismatch != p.ConfigMismatch {
		p.ConfigMismatch = mismatch
		if mismatch {
			e.counters.ConfigMismatches++
			e.log.Warn("the peer's cluster configuration differs from this node's (CL-B06): compare clusterd.conf on both nodes",
				"group", g.busName, "peer", a.Node)
		} else {
			e.log.Info("the peer's cluster configuration matches this node's again", "group", g.busName, "peer", a.Node)
		}
	}
	claim := claimOf(a.Message)
	if !leaving {
		g.peerPending = a.Flags.Has(wire.FlagMonitorsPending)
	}
	role := fsm.Primary
	if a.Role == wire.RoleSecondary {
		role = fsm.Secondary
	}
	e.dispatch(g, fsm.Heartbeat{Link: r.Interface, Role: role, Boot: a.BootID.String(), Seq: a.Seq, Claim: claim, Leaving: leaving})
}

// linkHeard counts a heartbeat accepted on ifname at now; one more than
// dead-interval after the one before ends a silence (LinkCounters).
func (e *Engine) linkHeard(g *group, ifname string, now time.Time) {
	l := e.link(ifname)
	l.Received++
	if l.FirstReceived.IsZero() {
		l.FirstReceived = now
	}
	if gap := now.Sub(l.LastReceived); l.LastReceived.IsZero() || gap > g.cfg.DeadInterval {
		l.AliveSince = now
		if !l.LastReceived.IsZero() {
			l.Silences++
		}
	}
	l.LastReceived = now
}

func (e *Engine) logDrop(g *group, r netio.Received, err error) {
	now := e.opts.Clock.Now()
	if !e.lastDropLog.IsZero() && now.Sub(e.lastDropLog) < logEvery {
		return
	}
	total := e.countersSnapshot().dropTotal()
	e.log.Warn("dropped a heartbeat (further drops are counted, logged at most every 10s)",
		"group", g.busName, "from", r.Src.String(), "interface", r.Interface, "reason", wire.ReasonOf(err).String(),
		"err", err, "dropped_since_last_log", total-e.dropsLogged)
	e.lastDropLog, e.dropsLogged = now, total
}

func (c Counters) dropTotal() uint64 {
	var n uint64
	for _, v := range c.Drops {
		n += v
	}
	return n
}

// worker runs functions one at a time, in submission order, on a
// goroutine that exists only while there is work.
type worker struct {
	mu      sync.Mutex
	queue   []func()
	running bool
}

func (w *worker) submit(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue = append(w.queue, f)
	if !w.running {
		w.running = true
		go w.run()
	}
}

func (w *worker) run() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		f := w.queue[0]
		w.queue = w.queue[1:]
		w.mu.Unlock()
		f()
	}
}
