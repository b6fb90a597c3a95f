package engine

// How the loop works (the model is vrrpd's engine):
//
//   - One goroutine (Run) owns the configuration, the group and its
//     fsm.Machine; every request (Apply, Status, Standby, ...) and every
//     result of a goroutine (a heartbeat received, a monitor change, a
//     timer, resources started or stopped, gates settled) is a function
//     posted to it. Nothing on the loop waits for the network, a script
//     or a gate holder.
//   - Resources start and stop off the loop, one operation at a time per
//     group in the order the machine asked for them (a worker), with a
//     context that is never cancelled: a stop script runs to its own
//     timeout even when the daemon is stopping (CL-B24, CL-Q15).
//   - Monitors: a monitor not yet verified (Pending: no reply yet, and
//     monitor-dead-interval not over) counts as reachable for ipfail, so
//     two nodes starting together compare equal counts and the primary
//     takes the resources, and a monitor added by a reload moves nothing
//     while the nodes verify it. But it also counts once more in the
//     total the machine sees (and the heartbeat flags it, wire
//     FlagMonitorsPending), so that the node does not reach "all its
//     monitors": a restarting primary does not fail back (auto-failback)
//     onto an uplink it has not verified, from its very first heartbeat
//     on; it does once its monitors answer. The cost: a node not holding
//     the resources publishes DOWN until its monitors have answered
//     (usually one ping round trip after start). Status shows the true
//     counts.
//   - A rolling reload that adds a monitor compares counts of different
//     monitor lists while the nodes' configurations differ (status shows
//     the mismatch): reload the node holding the resources first, or both
//     within a keepalive.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/monitor"
	"github.com/hasuite/hasuite/clusterd/internal/netio"
	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/clusterd/internal/wire"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/clock"
)

// DefaultGateDeadline bounds the wait for the takeover gates
// (ARCHITECTURE.md).
const DefaultGateDeadline = time.Second

// Resources are a group's services; *resources.Group is the real one
// (GroupResources).
type Resources interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Reconcile(ctx context.Context, services []config.Service) error
	State() []resources.ServiceState
	Close()
}

// Monitor pings the monitor nodes; *monitor.Pinger is the real one
// (ICMPMonitor).
type Monitor interface {
	Run(ctx context.Context) error
	Changes() <-chan monitor.Status
	Reconfigure(ctx context.Context, cfg monitor.Config) error
	// Status is the current status, reply times and counts included,
	// which Changes does not announce; it must not block.
	Status() monitor.Status
}

// Options are the engine's collaborators. OpenConn and NewResources are
// required to run a group; NewMonitor is required when the group has
// monitors. Clock defaults to clock.Real(); without Producer nothing is
// published and there is no gate; without Cleanup no leftover is removed.
type Options struct {
	Clock clock.Clock
	// NodeName is this node's name (--node-name or the host name); UID its
	// persistent id (LoadUID).
	NodeName string
	UID      wire.UID
	// OpenConn opens the heartbeat sockets for cfg (netio.Open of
	// ConnConfig in production, netio.FakeConn in tests).
	OpenConn func(cfg *config.Config) (netio.Conn, error)
	// NewResources resolves a group's services (GroupResources).
	NewResources func(group string, services []config.Service) (Resources, error)
	// CheckResources, if set, tells whether services resolve before a
	// reload changes anything (resources.Check).
	CheckResources func(services []config.Service) error
	// NewMonitor makes the monitor pinger; exclude returns the addresses
	// never to ping from: the cluster IPs (CL-B09).
	NewMonitor func(cfg monitor.Config, exclude func() []netip.Addr) (Monitor, error)
	// Cleanup removes what a killed run left behind (LedgerCleanup); Run
	// calls it before serving anything.
	Cleanup func(ctx context.Context) error
	// Producer publishes `cluster/<group>` on the bus and runs its gates.
	Producer *bus.Producer
	// GateDeadline bounds the gate wait (DefaultGateDeadline if zero).
	GateDeadline time.Duration
	Logger       *slog.Logger
}

// Engine runs the cluster group. Create it with New, run it with Run.
type Engine struct {
	opts  Options
	log   *slog.Logger
	inbox chan func()
	done  chan struct{}
	// applyMu serialises Apply and Shutdown, which wait off the loop for
	// a group to release its resources.
	applyMu sync.Mutex
	hub     hub
	// excluded holds the cluster IPs, for the monitor prober's goroutine.
	excluded atomic.Pointer[[]netip.Addr]
	// busy counts the resource operations running off the loop whose
	// result is still to be fed back; tests wait for zero.
	busy atomic.Int64

	// Owned by the loop.
	cfg       *config.Config
	notMember bool
	g         *group
	// stopping are groups releasing their resources before they leave.
	stopping []*group
	counters Counters
	// links are the per-interface counters (Counters.Links).
	links map[string]*LinkCounters
	// pastDrops are the drop counts of the verifiers of groups gone.
	pastDrops       wire.DropCounts
	lastFailover    time.Time
	lastFailoverWhy string
	queue           []queued
	draining        bool
	lastDropLog     time.Time
	dropsLogged     uint64
}

type queued struct {
	g  *group
	ev fsm.Event
}

// New returns an engine with nothing configured. It starts nothing.
func New(opts Options) *Engine {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.GateDeadline <= 0 {
		opts.GateDeadline = DefaultGateDeadline
	}
	e := &Engine{
		opts:  opts,
		log:   opts.Logger,
		inbox: make(chan func(), 256),
		done:  make(chan struct{}),
		links: map[string]*LinkCounters{},
	}
	e.excluded.Store(&[]netip.Addr{})
	return e
}

// Run removes a killed run's leftovers, then runs the loop until ctx ends.
// It leaves the resources as they are: call Shutdown first for a clean
// stop.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.done)
	if e.opts.Cleanup != nil {
		if err := e.opts.Cleanup(ctx); err != nil {
			e.log.Error("cannot remove every cluster IP an earlier run left behind; remove them by hand (ip addr del)", "err", err)
		}
	}
	defer e.closeAll()
	for {
		select {
		case <-ctx.Done():
			return nil
		case f := <-e.inbox:
			f()
		}
	}
}

// post hands f to the loop from any goroutine; it reports false when the
// loop has ended and f will never run.
func (e *Engine) post(f func()) bool {
	select {
	case e.inbox <- f:
		return true
	case <-e.done:
		return false
	}
}

// do runs f on the loop and waits for it.
func (e *Engine) do(ctx context.Context, f func()) error {
	finished := make(chan struct{})
	select {
	case e.inbox <- func() { f(); close(finished) }:
	case <-e.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-finished:
		return nil
	case <-e.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when Run has returned.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Apply applies a validated configuration as reload does (CL-B23): the
// first one starts the group; later ones follow config.Diff: timers,
// monitors, auto-failback and services in place (services start and stop
// on the holder only), heartbeat transport by reopening the sockets, a new
// group name, primary or secondary by releasing the resources and starting
// again. A nil or disabled configuration releases everything (CL-C01). A
// node that is neither primary nor secondary runs no group (CL-B02). It
// returns the changes, one line each. An error before anything changed
// leaves the running configuration as it was.
func (e *Engine) Apply(ctx context.Context, cfg *config.Config) ([]string, error) {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	if cfg == nil {
		cfg = &config.Config{}
	}
	var (
		changes []string
		wait    []*group
		start   bool
		errs    error
	)
	err := e.do(ctx, func() { changes, wait, start, errs = e.plan(cfg) })
	if err != nil || errs != nil {
		return changes, errors.Join(err, errs)
	}
	if err := e.waitLeft(ctx, wait); err != nil {
		return changes, err
	}
	if start {
		if err := e.do(ctx, func() { errs = e.startGroup(cfg) }); err != nil {
			return changes, err
		}
	}
	return changes, errs
}

// plan applies what can be applied at once and says what is left: the
// groups to wait for (releasing their resources) and whether to start the
// group afterwards.
func (e *Engine) plan(cfg *config.Config) (changes []string, wait []*group, start bool, err error) {
	r := config.Diff(e.cfg, cfg)
	changes = r.Changes
	role := config.RoleNone
	if cfg.Enabled {
		role = cfg.Group.RoleOf(e.opts.NodeName)
	}
	wantRun := role != config.RoleNone
	g := e.g
	switch {
	case g == nil:
	case !wantRun || r.Action == config.ReloadStop || r.Action == config.ReloadRestart:
		forget := !wantRun || g.busName != cfg.Group.BusName()
		why := "configuration changed: restarting the group"
		if !wantRun {
			why = "cluster configuration removed"
		}
		e.log.Info("releasing the cluster group: "+why, "group", g.busName, "changes", r.Changes)
		e.beginStop(g, forget)
	case r.Action == config.ReloadApply:
		if err := e.reconfigure(g, cfg, r); err != nil {
			return changes, nil, false, err
		}
	}
	if wantRun && e.g == nil && e.opts.CheckResources != nil {
		if err := e.opts.CheckResources(cfg.Group.Services); err != nil {
			return changes, nil, false, fmt.Errorf("cluster group %s: %w", cfg.Group.Name, err)
		}
	}
	e.cfg = cfg
	if !cfg.Enabled {
		e.cfg = nil
	}
	e.notMember = cfg.Enabled && !wantRun
	if e.notMember {
		e.log.Error("this node is neither the primary nor the secondary of the cluster group, which does not run here: set --node-name to one of them or fix the configuration (CL-B02)",
			"group", cfg.Group.BusName(), "node", e.opts.NodeName, "primary", cfg.Group.Primary, "secondary", cfg.Group.Secondary)
	}
	return changes, e.stopping, wantRun && e.g == nil, nil
}

// waitLeft waits until every group in gs has sent its leaving heartbeat.
func (e *Engine) waitLeft(ctx context.Context, gs []*group) error {
	for _, g := range gs {
		select {
		case <-g.left:
		case <-e.done:
			return ErrStopped
		case <-ctx.Done():
			return fmt.Errorf("cluster group %s is still releasing its resources: %w", g.busName, ctx.Err())
		}
	}
	return nil
}

// Status returns the node's whole view.
func (e *Engine) Status(ctx context.Context) (Status, error) {
	var s Status
	err := e.do(ctx, func() { s = e.status() })
	return s, err
}

// Standby is the operator's standby (hb_standby): hand the resources to a
// peer that can serve, and stay standby until the next failure.
func (e *Engine) Standby(ctx context.Context) error {
	return e.command(ctx, fsm.ManualStandby{}, "standby")
}

// Takeover is the operator's takeover (hb_takeover): take the resources
// once the peer has released them, and keep them until the next failure.
func (e *Engine) Takeover(ctx context.Context) error {
	return e.command(ctx, fsm.ManualTakeover{}, "takeover")
}

func (e *Engine) command(ctx context.Context, ev fsm.Event, what string) error {
	var cmdErr error
	err := e.do(ctx, func() {
		g := e.g
		switch {
		case g == nil && e.notMember:
			cmdErr = fmt.Errorf("%s refused: node %s is not a member of the cluster group (CL-B02)", what, e.opts.NodeName)
			return
		case g == nil:
			cmdErr = fmt.Errorf("%s refused: no cluster group runs here", what)
			return
		}
		g.command = nil
		e.dispatch(g, ev)
		switch res := g.command; {
		case res == nil:
			cmdErr = fmt.Errorf("%s: the state machine gave no answer", what)
		case !res.Accepted:
			cmdErr = fmt.Errorf("%s refused: %s", what, res.Message)
		default:
			e.log.Info("operator "+what+": "+res.Message, "group", g.busName)
		}
	})
	return errors.Join(err, cmdErr)
}

// Shutdown releases the resources in reverse order and sends the leaving
// heartbeat (CL-B24), waiting at most until ctx ends; the stop scripts are
// not cut short by ctx. The group stays on the bus in INIT. Run keeps
// going, so a later Apply starts again.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	var wait []*group
	err := e.do(ctx, func() {
		if e.g != nil {
			e.log.Info("shutting down: releasing the resources", "group", e.g.busName)
			e.beginStop(e.g, false)
		}
		e.cfg, e.notMember = nil, false
		wait = e.stopping
	})
	if err != nil {
		return err
	}
	return e.waitLeft(ctx, wait)
}

// DemotionChanged tells the engine that a bus consumer's demotion of group
// (a bus name) changed. The daemon passes it to bus.WithDemotionHook; it
// does not block.
func (e *Engine) DemotionChanged(name string) {
	go e.post(func() {
		if g := e.g; g != nil && g.busName == name {
			e.updateDemotion(g)
		}
	})
}

// Subscribe delivers every state change from now on, for `clusterd
// monitor` and `watch`. The loop never waits for a subscriber: when its
// buffer is full, changes are dropped. cancel ends the subscription and
// closes the channel.
func (e *Engine) Subscribe() (events <-chan Event, cancel func()) {
	return e.hub.subscribe(64)
}

// closeAll stops what runs on its own when Run ends.
func (e *Engine) closeAll() {
	if e.g != nil {
		e.g.release()
	}
	for _, g := range e.stopping {
		g.release()
	}
}

func (e *Engine) status() Status {
	now := e.opts.Clock.Now()
	s := Status{
		Configured: e.cfg != nil,
		NodeName:   e.opts.NodeName,
		UID:        e.opts.UID,
		Config:     e.cfg,
		NotMember:  e.notMember,
		Now:        now,
		Counters:   e.countersSnapshot(),

		LastFailover:    e.lastFailover,
		LastFailoverWhy: e.lastFailoverWhy,
	}
	g := e.g
	if g == nil && len(e.stopping) > 0 {
		g = e.stopping[len(e.stopping)-1] // still releasing: worth showing
	}
	if g == nil {
		return s
	}
	s.View = trueCounts(g.machine.View(now), g)
	s.Monitors = freshMonitors(g)
	s.Services = g.res.State()
	s.Peer = g.peer
	s.Peer.Links = make(map[string]time.Time, len(g.peer.Links))
	for k, v := range g.peer.Links {
		s.Peer.Links[k] = v
	}
	for _, l := range g.links {
		s.Links = append(s.Links, linkOf(l, g.cfg.Peers))
	}
	return s
}

func (e *Engine) countersSnapshot() Counters {
	c := e.counters
	drops := e.pastDrops
	for _, g := range e.groups() {
		d := g.verifier.Drops()
		for i := range drops {
			drops[i] += d[i]
		}
	}
	c.Drops = map[string]uint64{}
	for _, r := range wire.DropReasons() {
		c.Drops[r.String()] = drops[r]
	}
	c.Links = make(map[string]LinkCounters, len(e.links))
	for name, l := range e.links {
		c.Links[name] = *l
	}
	return c
}

// link is the counters of the cluster interface name, made at first use.
func (e *Engine) link(name string) *LinkCounters {
	l := e.links[name]
	if l == nil {
		l = &LinkCounters{}
		e.links[name] = l
	}
	return l
}

// freshMonitors are g's monitors with the states the machine saw and the
// reply times and counts the pinger has now. The pinger announces state
// changes only (Changes), so g.monStatus alone would show the last reply
// of the last change; the states stay the machine's so that the status
// agrees with the view (a change in flight lands on the next request).
func freshMonitors(g *group) []monitor.MonitorStatus {
	out := slices.Clone(g.monStatus.Monitors)
	if g.mon == nil {
		return out
	}
	now := g.mon.Status()
	for i, m := range out {
		j := slices.IndexFunc(now.Monitors, func(o monitor.MonitorStatus) bool { return o.Addr == m.Addr })
		if j < 0 {
			continue // added by a reload the pinger has not applied yet
		}
		state, since := m.State, m.Since
		out[i] = now.Monitors[j]
		out[i].State, out[i].Since = state, since
	}
	return out
}

// groups are the running group and those still stopping.
func (e *Engine) groups() []*group {
	gs := append([]*group(nil), e.stopping...)
	if e.g != nil {
		gs = append(gs, e.g)
	}
	return gs
}

// linkOf describes a cluster interface for status.
func linkOf(l netio.LinkStatus, unicastPeers []netip.Addr) Link {
	out := Link{Interface: l.Name, Up: l.Usable()}
	if l.Source.IsValid() {
		out.Address = l.Source.String()
	}
	if out.Up {
		return out
	}
	switch {
	case !l.Exists:
		out.Problem = "missing"
	case !l.Up:
		out.Problem = "down"
	case !l.Carrier:
		out.Problem = "no carrier"
	case !l.Source.IsValid():
		out.Problem = "no address"
	case len(unicastPeers) == 0 && !l.Joined:
		out.Problem = "not joined"
	case l.Err != nil:
		out.Problem = l.Err.Error()
	}
	return out
}

// hub holds the subscribers; its zero value is ready.
type hub struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
}

func (h *hub) subscribe(buffer int) (<-chan Event, func()) {
	c := make(chan Event, buffer)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan Event]struct{}{}
	}
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return c, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			delete(h.subs, c)
			close(c) // under mu: notify never sends on a closed channel
		})
	}
}

func (h *hub) notify(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- ev:
		default:
		}
	}
}

// trueCounts undoes machineCounts in v: a Pending monitor counts once, as
// not known unreachable, and does not make a node Down (monitor).
func trueCounts(v fsm.View, g *group) fsm.View {
	if g.reasonFrom != "" && v.LastTransition.Reason == g.reasonFrom {
		v.LastTransition.Reason = g.reasonTo
	}
	st := g.monStatus
	v.LocalReachable, v.LocalTotal = len(st.Monitors)-st.Unreachable(), len(st.Monitors)
	if v.Local == fsm.NodeDownMonitor && v.LocalReachable == v.LocalTotal {
		v.Local = fsm.NodeActiveStandby
		if v.Phase != fsm.Released {
			v.Local = fsm.NodeActive
		}
	}
	if g.peerPending && v.PeerTotal > 0 {
		v.PeerTotal--
		if v.Peer == fsm.NodeDownMonitor && v.PeerReachable >= v.PeerTotal {
			v.Peer = fsm.NodeActiveStandby
			if v.Holder == fsm.HolderPeer {
				v.Peer = fsm.NodeActive
			}
		}
	}
	return v
}
