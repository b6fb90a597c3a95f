package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/clock"
	"github.com/hasuite/hasuite/pkg/hook"
	"github.com/hasuite/hasuite/vrrpd/internal/config"
	"github.com/hasuite/hasuite/vrrpd/internal/firewall"
	"github.com/hasuite/hasuite/vrrpd/internal/fsm"
	"github.com/hasuite/hasuite/vrrpd/internal/kernel"
	"github.com/hasuite/hasuite/vrrpd/internal/netio"
)

// Announcer sends the announcements of a new master; *announce.Announcer is
// the real one.
type Announcer interface {
	AnnounceIPv4(vip netip.Addr, mac net.HardwareAddr) error
	AnnounceIPv6(vip, source netip.Addr, mac net.HardwareAddr, router bool) error
	Close() error
}

// Options are the engine's collaborators. Kernel and OpenAdverts are
// required; Clock defaults to clock.Real(); without OpenAnnouncer no announcement is sent, without Producer
// nothing is published and there are no gates, without Hooks no script runs.
type Options struct {
	Clock  clock.Clock
	Kernel kernel.Kernel
	// OpenAdverts opens the advert socket of a group sending from source
	// (netio.ListenAdverts of ListenConfig in production, a
	// netio.FakeLink in tests).
	OpenAdverts   func(g config.Group, source netip.Addr) (netio.AdvertConn, error)
	OpenAnnouncer func(ifname string) (Announcer, error)
	Producer      *bus.Producer
	Hooks         *hook.Runner
	// Filter drops traffic for a group's VIPs while it is not MASTER
	// (VR-B15); nil filters nothing.
	Filter Filter
	Logger *slog.Logger
}

// Filter is the static half of the state-specific filtering of VR-B15,
// the VIP rules (firewall.Iptables in production); the half that changes
// on failover is Kernel.SetBackupDrop. Its calls return at once.
type Filter interface {
	Set(g firewall.Group)
	Remove(key string)
}

// ErrStopped is returned by requests made when Run is not running.
var ErrStopped = errors.New("vrrp engine is not running")

// ErrUnknownGroup is returned by ResetMaster for a group not configured.
var ErrUnknownGroup = errors.New("no such VRRP group")

// SyncGroupPrefix starts the bus name of a sync group ("sync-group/NAME").
const SyncGroupPrefix = "sync-group/"

// Engine runs the configured groups. Create it with New, start it with Run.
type Engine struct {
	opts  Options
	log   *slog.Logger
	inbox chan func()
	done  chan struct{} // closed when Run returns

	// Owned by the loop.
	cfg        *config.Config
	groups     map[config.GroupKey]*group
	syncGroups map[string]*fsm.SyncGroup
	// syncOf maps a member's key to its sync group.
	syncOf map[config.GroupKey]*fsm.SyncGroup
	// queue holds the events still to feed in the current cascade.
	queue    []queuedEvent
	draining bool
	// wake fires at wakeAt, the earliest group deadline (zero: stopped).
	wake   clock.Timer
	wakeAt time.Time

	// monitors receive every transition (monitor.go); safe from any
	// goroutine.
	monitors monitorHub
}

type queuedEvent struct {
	g  *group
	ev fsm.Event
}

// New returns an engine with no group. It starts nothing.
func New(opts Options) *Engine {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	wake := opts.Clock.NewTimer(time.Hour)
	wake.Stop()
	return &Engine{
		wake:       wake,
		opts:       opts,
		log:        logger,
		inbox:      make(chan func(), 256),
		done:       make(chan struct{}),
		groups:     map[config.GroupKey]*group{},
		syncGroups: map[string]*fsm.SyncGroup{},
		syncOf:     map[config.GroupKey]*fsm.SyncGroup{},
	}
}

// Run runs the loop until ctx ends. It leaves the groups' kernel state as it
// is: call Shutdown first for a clean stop.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.done)
	events, err := e.opts.Kernel.Subscribe(ctx)
	if err != nil {
		return fmt.Errorf("subscribe to kernel link and address events: %w", err)
	}
	defer e.closeAll()
	for {
		select {
		case <-ctx.Done():
			return nil
		case f := <-e.inbox:
			f()
		case <-e.wake.C():
			e.fireDue()
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				// Events may have been lost: subscribe again and
				// re-read every group's interface.
				if events, err = e.opts.Kernel.Subscribe(ctx); err != nil {
					return fmt.Errorf("subscribe again to kernel events: %w", err)
				}
				for _, g := range e.groups {
					e.refreshInterface(g)
				}
				continue
			}
			e.kernelEvent(ev)
		}
	}
}

// post hands f to the loop from any goroutine; it gives up when the loop
// has ended.
func (e *Engine) post(f func()) {
	select {
	case e.inbox <- f:
	case <-e.done:
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

// Apply loads cfg: at the first call every group starts, later calls
// follow config.Diff (see the package documentation).
func (e *Engine) Apply(ctx context.Context, cfg *config.Config) error {
	var errs error
	err := e.do(ctx, func() { errs = e.apply(ctx, cfg) })
	return errors.Join(err, errs)
}

// Status returns every group's status, in configuration order.
func (e *Engine) Status(ctx context.Context) ([]GroupStatus, error) {
	var out []GroupStatus
	err := e.do(ctx, func() {
		if e.cfg == nil {
			return
		}
		for _, c := range e.cfg.Groups {
			if g := e.groups[c.Key]; g != nil {
				out = append(out, g.status())
			}
		}
	})
	return out, err
}

// ResetMaster makes a MASTER group resign (`reset vrrp master`, VR-O05);
// other states ignore it.
func (e *Engine) ResetMaster(ctx context.Context, key config.GroupKey) error {
	var found bool
	err := e.do(ctx, func() {
		g := e.groups[key]
		if found = g != nil; found {
			e.dispatch(g, fsm.ResetMaster{})
		}
	})
	if err == nil && !found {
		return fmt.Errorf("reset master of %s: %w: check `show vrrp`", key, ErrUnknownGroup)
	}
	return err
}

// Shutdown resigns every group (priority-0 advert), removes the virtual
// addresses and VRRP interfaces, and forgets the configuration. Run keeps
// going, so a later Apply starts again.
func (e *Engine) Shutdown(ctx context.Context) error {
	return e.do(ctx, func() {
		for _, c := range e.configuredGroups() {
			e.stopGroup(ctx, e.groups[c], false)
		}
		e.cfg = nil
		e.syncGroups = map[string]*fsm.SyncGroup{}
		e.syncOf = map[config.GroupKey]*fsm.SyncGroup{}
	})
}

// DemotionChanged tells the engine that a holder's demotion of group (a
// group or a sync group bus name) changed. The daemon passes it to
// bus.WithDemotionHook; it does not block.
func (e *Engine) DemotionChanged(name string) {
	go e.post(func() {
		for _, g := range e.groups {
			if g.busName() == name || (g.syncGroup() != "" && SyncGroupPrefix+g.syncGroup() == name) {
				e.setDemotion(g, e.demoted(g))
			}
		}
	})
}

func (e *Engine) setDemotion(g *group, held bool) {
	if held == g.demoted {
		return
	}
	g.demoted = held
	e.dispatch(g, fsm.Demotion{Held: held})
}

// demoted reports whether a holder demotes g or its sync group.
func (e *Engine) demoted(g *group) bool {
	if e.opts.Producer == nil {
		return false
	}
	if held, _ := e.opts.Producer.Demoted(g.busName()); held {
		return true
	}
	if sg := g.syncGroup(); sg != "" {
		held, _ := e.opts.Producer.Demoted(SyncGroupPrefix + sg)
		return held
	}
	return false
}

func (e *Engine) configuredGroups() []config.GroupKey {
	var keys []config.GroupKey
	if e.cfg != nil {
		for _, c := range e.cfg.Groups {
			if e.groups[c.Key] != nil {
				keys = append(keys, c.Key)
			}
		}
	}
	return keys
}

func (e *Engine) apply(ctx context.Context, cfg *config.Config) error {
	first := e.cfg == nil
	added, removed, changed, unchanged := config.Diff(e.cfg, cfg)
	var errs []error
	if first {
		errs = append(errs, e.removeLeftovers(ctx, cfg))
	}
	for _, k := range removed {
		e.stopGroup(ctx, e.groups[k], true)
	}
	oldCfg := e.cfg
	e.cfg = cfg
	e.rebuildSyncGroups(oldCfg, cfg)
	for _, k := range changed {
		g := e.groups[k]
		next := *cfg.Group(k)
		if g != nil && reconfigurable(g.cfg, next) {
			if err := g.machine.Reconfigure(machineConfig(next, g.source)); err == nil {
				copyChanged := g.cfg.VRRPInterface.Mirror != next.VRRPInterface.Mirror || g.cfg.VRRPInterface.Redirect != next.VRRPInterface.Redirect
				g.cfg = next
				e.setFilter(g) // a new priority may make it the owner
				if copyChanged {
					e.applyIngressCopy(ctx, g)
				}
				continue
			}
		}
		// Restarted, not removed: consumers see it go through INIT.
		e.stopGroup(ctx, g, false)
		errs = append(errs, e.startGroup(ctx, next))
	}
	for _, k := range added {
		errs = append(errs, e.startGroup(ctx, *cfg.Group(k)))
	}
	for _, k := range unchanged {
		if e.groups[k] == nil { // its start failed: a reload retries it
			errs = append(errs, e.startGroup(ctx, *cfg.Group(k)))
		}
	}
	return errors.Join(errs...)
}

// reconfigurable reports whether old and next differ only in what
// fsm.Machine.Reconfigure applies in place, or in the VRRP interface's
// mirror and redirect, which apply without touching the group.
func reconfigurable(old, next config.Group) bool {
	old.Priority, old.Interval, old.Preempt, old.PreemptDelay = next.Priority, next.Interval, next.Preempt, next.PreemptDelay
	old.VRRPInterface.Mirror, old.VRRPInterface.Redirect = next.VRRPInterface.Mirror, next.VRRPInterface.Redirect
	return reflect.DeepEqual(old, next)
}

// rebuildSyncGroups keeps the sync groups whose members did not change, so
// that they keep their view of their members' states.
func (e *Engine) rebuildSyncGroups(old, next *config.Config) {
	kept := map[string]*fsm.SyncGroup{}
	for name, members := range next.SyncGroups {
		sg := e.syncGroups[name]
		if sg == nil || old == nil || !reflect.DeepEqual(old.SyncGroups[name], members) {
			names := make([]string, len(members))
			for i, m := range members {
				names[i] = m.String()
			}
			sg = fsm.NewSyncGroup(name, names)
		}
		kept[name] = sg
	}
	e.syncGroups = kept
	e.syncOf = map[config.GroupKey]*fsm.SyncGroup{}
	for name, members := range next.SyncGroups {
		for _, m := range members {
			e.syncOf[m] = kept[name]
		}
	}
}

// removeLeftovers deletes the VRRP interfaces a previous run left that the
// configuration no longer has; configured ones are adopted by EnsureVMAC.
func (e *Engine) removeLeftovers(ctx context.Context, cfg *config.Config) error {
	leftovers, err := e.opts.Kernel.Leftovers(ctx)
	if err != nil {
		return fmt.Errorf("list leftover VRRP interfaces: %w", err)
	}
	wanted := map[string]bool{}
	for _, g := range cfg.Groups {
		if g.RFC3768 {
			wanted[g.VRRPInterface.Name] = true
		}
	}
	var errs []error
	for _, v := range leftovers {
		if wanted[v.Name] {
			continue
		}
		e.log.Info("deleting leftover VRRP interface", "interface", v.Name)
		if err := e.opts.Kernel.DeleteVMAC(ctx, v.Name); err != nil {
			errs = append(errs, fmt.Errorf("delete leftover VRRP interface %s: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// closeAll releases every group's sockets and timers when Run ends.
func (e *Engine) closeAll() {
	for _, g := range e.groups {
		g.release()
	}
}

// kernelEvent turns a link or address change into events for the groups on
// that interface.
func (e *Engine) kernelEvent(ev kernel.Event) {
	if (ev.Kind == kernel.AddressAdded || ev.Kind == kernel.AddressRemoved) && e.isVIP(ev.Address.Addr()) {
		// Our own doing: a master adding or removing its VIPs changes no
		// group's link or source address. Re-reading the interface for
		// every group on it at each of them made a takeover of n groups
		// cost n² netlink dumps.
		return
	}
	// One read of the interface serves every group on it.
	var ifc kernel.Interface
	var ifcErr error
	read := false
	for _, g := range e.groups {
		if ev.Kind != kernel.AddressAdded && ev.Kind != kernel.AddressRemoved && g.cfg.RFC3768 &&
			(ev.Interface == g.cfg.VRRPInterface.Mirror || ev.Interface == g.cfg.VRRPInterface.Redirect) {
			// The target appeared, went or came back (with a new index):
			// the copy follows it.
			e.applyIngressCopy(context.Background(), g)
		}
		if g.cfg.Interface != ev.Interface {
			continue
		}
		if ev.Kind == kernel.LinkDown || ev.Kind == kernel.LinkGone {
			e.dispatch(g, fsm.LinkDown{})
			continue
		}
		// A link coming up may also bring back its address: re-read both.
		if !read {
			ifc, ifcErr = e.opts.Kernel.Interface(context.Background(), ev.Interface)
			read = true
		}
		e.applyInterface(g, ifc, ifcErr)
	}
}

// isVIP reports whether addr is a virtual address vrrpd adds and removes:
// a running group's, not the address owner's (its VIP is a real address of
// the interface, whose loss matters).
func (e *Engine) isVIP(addr netip.Addr) bool {
	for _, g := range e.groups {
		if g.cfg.Owner() {
			continue
		}
		for _, vip := range g.cfg.VIPs {
			if vip.Addr() == addr {
				return true
			}
		}
	}
	return false
}

// refreshInterface re-reads g's interface and reports its link and source
// address to the machine (which ignores what did not change).
func (e *Engine) refreshInterface(g *group) {
	ifc, err := e.opts.Kernel.Interface(context.Background(), g.cfg.Interface)
	e.applyInterface(g, ifc, err)
}

// applyInterface reports g's interface as read to the machine.
func (e *Engine) applyInterface(g *group, ifc kernel.Interface, err error) {
	if err != nil || !ifc.AdminUp || !ifc.Running {
		e.dispatch(g, fsm.LinkDown{})
		return
	}
	if src := advertSource(g.cfg, ifc); src.IsValid() && src != g.source {
		// The interface was missing or renumbered: adverts now come
		// from its current primary address.
		if err := g.machine.Reconfigure(machineConfig(g.cfg, src)); err == nil {
			g.source = src
			e.reopenAdverts(g)
		}
	}
	e.dispatch(g, fsm.LinkUp{})
	if sourcePresent(g.cfg, ifc) {
		e.dispatch(g, fsm.AddressRestored{})
	} else {
		e.dispatch(g, fsm.AddressLost{})
	}
}

// advertSource is the address g's adverts come from: the hello-source, or
// the interface's primary address of the group's family.
func advertSource(c config.Group, ifc kernel.Interface) netip.Addr {
	var src netip.Addr
	switch {
	case c.HelloSource.IsValid():
		return c.HelloSource
	case c.IPv6():
		src = ifc.LinkLocalIPv6
	default:
		src = ifc.PrimaryIPv4
	}
	if !src.IsValid() && c.Owner() && !c.IPv6() && len(c.VIPs) > 0 {
		// The owner's VIP is its address (VR-B35): an interface that
		// carries no other, as Example 2-5 prints it, advertises from
		// the VIP, which the owner holds whenever it runs.
		return c.VIPs[0].Addr()
	}
	return src
}

func sourcePresent(c config.Group, ifc kernel.Interface) bool {
	src := advertSource(c, ifc)
	if !src.IsValid() {
		return false
	}
	if c.Owner() && slices.ContainsFunc(c.VIPs, func(v netip.Prefix) bool { return v.Addr() == src }) {
		return true // it adds the VIP itself as master
	}
	for _, p := range ifc.Addresses {
		if p.Addr() == src {
			return true
		}
	}
	return false
}

// vrrpInterfaceName is the name scripts get as the VRRP interface.
func vrrpInterfaceName(c config.Group) string {
	if c.RFC3768 {
		return c.VRRPInterface.Name
	}
	return c.Interface
}

func vipList(c config.Group) string {
	parts := make([]string, len(c.VIPs))
	for i, v := range c.VIPs {
		parts[i] = v.String()
	}
	return strings.Join(parts, " ")
}

// ListenConfig is where group g's adverts travel, for the daemon's
// OpenAdverts (netio.ListenAdverts): read on the interface (and on the VRRP
// interface, where RFC 3768 mode's peers' adverts arrive), sent through the
// VRRP interface in RFC 3768 mode so they leave with the virtual MAC
// (VR-B03), from source: the address the checksum is summed over, which
// must not be left to the kernel, as it would pick the VIP on the VRRP
// interface (VR-B02).
func ListenConfig(g config.Group, source netip.Addr) netio.AdvertConfig {
	return netio.AdvertConfig{
		IPv6:             g.IPv6(),
		ReceiveInterface: g.Interface,
		SendInterface:    vrrpInterfaceName(g),
		Source:           source,
		Unicast:          len(g.Peers) > 0,
	}
}
