package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/clock"
	"github.com/hasuite/hasuite/pkg/hook"
	busv1 "github.com/hasuite/hasuite/proto/hasuite/bus/v1"
	"github.com/hasuite/hasuite/vrrpd/internal/config"
	"github.com/hasuite/hasuite/vrrpd/internal/firewall"
	"github.com/hasuite/hasuite/vrrpd/internal/fsm"
	"github.com/hasuite/hasuite/vrrpd/internal/kernel"
	"github.com/hasuite/hasuite/vrrpd/internal/netio"
	"github.com/hasuite/hasuite/vrrpd/internal/packet"
)

// dropLogEvery bounds how often a group logs dropped adverts, so a
// misconfigured peer cannot flood the log.
const dropLogEvery = 10 * time.Second

// group is one running VRRP group; only the loop touches it.
type group struct {
	cfg       config.Group
	machine   *fsm.Machine
	conn      netio.AdvertConn
	announcer Announcer
	// source is the advert source address; mac the virtual router's MAC
	// as the announcements carry it.
	source netip.Addr
	mac    net.HardwareAddr
	// ownAddresses are the VIPs an owner's interface carried before the
	// group started: the admin's addresses (VR-Q04), never removed
	// (VR-B34).
	ownAddresses map[netip.Addr]bool

	// deadline is when the machine next wants TimerFired; zero for
	// never. The loop's one wake-up timer serves every group's.
	deadline time.Time

	// prepareGen invalidates a gate result arriving after CancelPrepare.
	prepareGen    uint64
	cancelPrepare context.CancelFunc

	garpTimer clock.Timer
	garpGen   uint64
	garpStart time.Time
	garpDone  int

	demoted        bool
	counters       Counters
	lastTransition time.Time
	lastReason     string
	takeover       Takeover
	lastDropLog    time.Time
	lastSendErrLog time.Time

	// copyErr is the last error applying the VRRP interface's mirror and
	// redirect, logged once rather than at every link event.
	copyErr string
}

func (g *group) busName() string   { return g.cfg.Key.String() }
func (g *group) syncGroup() string { return g.cfg.SyncGroup }

func (g *group) status() GroupStatus {
	s := GroupStatus{
		Config:         g.cfg,
		State:          g.machine.State(),
		Preparing:      g.machine.Preparing(),
		Demoted:        g.demoted,
		LastTransition: g.lastTransition,
		LastReason:     g.lastReason,
		Counters:       g.counters,
		LastTakeover:   g.takeover,
	}
	if s.State == fsm.Master {
		s.MasterIP, s.MasterPriority = g.source, g.machine.Config().Priority
	} else {
		s.MasterIP, s.MasterPriority = g.machine.LastMaster()
	}
	return s
}

// release stops everything of g that runs on its own: the receive
// goroutine (by closing the conn), timers and a pending gate wait.
func (g *group) release() {
	g.deadline = time.Time{}
	g.prepareGen++
	g.garpGen++
	if g.garpTimer != nil {
		g.garpTimer.Stop()
	}
	if g.cancelPrepare != nil {
		g.cancelPrepare()
	}
	if g.conn != nil {
		_ = g.conn.Close()
	}
	if g.announcer != nil {
		_ = g.announcer.Close()
	}
}

// current reports whether g still runs: messages for a group that was
// stopped or restarted since they were sent are dropped.
func (e *Engine) current(g *group) bool { return e.groups[g.cfg.Key] == g }

func machineConfig(c config.Group, source netip.Addr) fsm.Config {
	return fsm.Config{
		Version:        c.Version,
		Priority:       c.Priority,
		AdvertInterval: c.Interval,
		Preempt:        c.Preempt,
		PreemptDelay:   c.PreemptDelay,
		PrimaryIP:      source,
	}
}

// ownAddresses are the VIPs of owner group c already on its interface
// ifc, in legacy mode where the VIPs go on that interface.
func ownAddresses(c config.Group, ifc kernel.Interface) map[netip.Addr]bool {
	if c.RFC3768 {
		return nil
	}
	own := map[netip.Addr]bool{}
	for _, vip := range c.VIPs {
		for _, a := range ifc.Addresses {
			if a.Addr() == vip.Addr() {
				own[vip.Addr()] = true
			}
		}
	}
	return own
}

// startGroup brings up the group c: its VRRP interface, sockets and machine.
func (e *Engine) startGroup(ctx context.Context, c config.Group) error {
	ifc, ifErr := e.opts.Kernel.Interface(ctx, c.Interface)
	g := &group{cfg: c, source: advertSource(c, ifc), mac: ifc.MAC}
	machineSource := g.source
	if !machineSource.IsValid() {
		// No address to advertise from yet (VR-B30): the group starts
		// in FAULT below, with the unspecified address standing in for
		// the election's tie-break until the interface gets one.
		machineSource = netip.IPv4Unspecified()
		if c.IPv6() {
			machineSource = netip.IPv6Unspecified()
		}
	}
	m, err := fsm.New(machineConfig(c, machineSource))
	if err != nil {
		return fmt.Errorf("start VRRP group %s: %w", c.Key, err)
	}
	g.machine = m
	if c.RFC3768 {
		v := kernel.VMAC{Name: c.VRRPInterface.Name, Parent: c.Interface, MAC: c.VRRPInterface.MAC, Description: c.VRRPInterface.Description}
		if c.IPv6() {
			v.LinkLocal = g.source
		}
		if err := e.opts.Kernel.EnsureVMAC(ctx, v); err != nil {
			return fmt.Errorf("start VRRP group %s: create its VRRP interface: %w", c.Key, err)
		}
		e.setBackupDrop(ctx, c, true) // until it holds the VIPs
		g.mac = c.VRRPInterface.MAC
		e.applyIngressCopy(ctx, g)
	}
	// A vrrpd killed as master leaves its VIPs in the kernel, answering
	// (FIELD-NOTES); a group starts without them, or as BACKUP it would
	// answer next to the master (VR-B15). The owner keeps them: they are
	// its own addresses and it is MASTER at once.
	if c.Priority == 255 {
		g.ownAddresses = ownAddresses(c, ifc)
	} else {
		for _, vip := range c.VIPs {
			if err := e.opts.Kernel.RemoveVIP(ctx, vrrpInterfaceName(c), vip); err != nil {
				e.log.Warn("cannot remove a virtual address left by an earlier run", "group", c.Key.String(), "vip", vip.String(), "err", err)
			}
		}
	}
	if g.conn, err = e.opts.OpenAdverts(c, g.source); err != nil {
		return fmt.Errorf("start VRRP group %s: open its advert socket: %w", c.Key, err)
	}
	if e.opts.OpenAnnouncer != nil {
		if g.announcer, err = e.opts.OpenAnnouncer(c.Interface); err != nil {
			e.log.Warn("no gratuitous ARP for this group", "group", c.Key.String(), "err", err)
		}
	}
	e.groups[c.Key] = g
	go e.receive(g, c.Key, g.conn)
	e.setFilter(g)

	switch {
	case ifErr != nil || !ifc.AdminUp || !ifc.Running:
		e.dispatch(g, fsm.LinkDown{})
	case !sourcePresent(c, ifc):
		e.dispatch(g, fsm.AddressLost{})
	}
	e.setDemotion(g, e.demoted(g))
	if c.Disabled {
		e.dispatch(g, fsm.Disable{})
	} else {
		e.dispatch(g, fsm.Start{})
	}
	return nil
}

// stopGroup resigns g, removes its addresses and VRRP interface, and
// forgets it.
//
// forget also removes it from the bus, for a group the configuration
// dropped; a daemon shutting down leaves its groups there, in INIT.
func (e *Engine) stopGroup(ctx context.Context, g *group, forget bool) {
	if g == nil {
		return
	}
	e.dispatch(g, fsm.Shutdown{})
	g.release()
	if e.opts.Filter != nil {
		e.opts.Filter.Remove(g.cfg.Key.String())
	}
	if g.cfg.RFC3768 {
		if err := e.opts.Kernel.DeleteVMAC(ctx, g.cfg.VRRPInterface.Name); err != nil {
			e.log.Warn("cannot delete VRRP interface", "group", g.busName(), "err", err)
		}
	}
	if forget && e.opts.Producer != nil {
		e.opts.Producer.Remove(g.busName())
	}
	delete(e.groups, g.cfg.Key)
}

// applyIngressCopy makes g's VRRP interface mirror and redirect its inbound
// traffic as configured (VR-C20, VR-C21), removing a copy no longer
// configured. A missing target does not stop the group: the error is
// logged, and kernelEvent retries when the target's link appears.
func (e *Engine) applyIngressCopy(ctx context.Context, g *group) {
	c := g.cfg
	if !c.RFC3768 {
		return
	}
	want := kernel.IngressCopy{Mirror: c.VRRPInterface.Mirror, Redirect: c.VRRPInterface.Redirect}
	err := e.opts.Kernel.SetIngressCopy(ctx, c.VRRPInterface.Name, want)
	var msg string
	if err != nil {
		msg = err.Error()
	}
	switch {
	case msg == g.copyErr:
	case err != nil:
		e.log.Error("cannot mirror or redirect the VRRP interface's inbound traffic; the group runs without it until the target exists",
			"group", g.busName(), "interface", c.VRRPInterface.Name, "mirror", want.Mirror, "redirect", want.Redirect, "err", err)
	default:
		e.log.Info("VRRP interface's inbound traffic copy applied", "group", g.busName(), "interface", c.VRRPInterface.Name,
			"mirror", want.Mirror, "redirect", want.Redirect)
	}
	g.copyErr = msg
}

// setFilter gives g's VIPs their iptables rules, the static half of the
// state filter (VR-B15): the same in every state.
func (e *Engine) setFilter(g *group) {
	if e.opts.Filter == nil {
		return
	}
	c := g.cfg
	e.opts.Filter.Set(firewall.Group{Key: c.Key.String(), VIPs: c.VIPs, Owner: c.Owner()})
}

// setBackupDrop makes the VRRP interface of RFC 3768 group c drop all but
// adverts, or stop dropping: the half of the state filter (VR-B15) that
// changes on failover. It runs synchronously, in step with the VIPs: a
// failure is logged, and the group runs on.
func (e *Engine) setBackupDrop(ctx context.Context, c config.Group, drop bool) {
	if !c.RFC3768 {
		return
	}
	if err := e.opts.Kernel.SetBackupDrop(ctx, c.VRRPInterface.Name, drop); err != nil {
		msg := "cannot drop what reaches the VRRP interface while not master; it may forward traffic for the virtual router"
		if !drop {
			msg = "cannot stop dropping what reaches the VRRP interface; as master it may not forward traffic for the virtual router"
		}
		e.log.Error(msg, "group", c.Key.String(), "interface", c.VRRPInterface.Name, "err", err)
	}
}

// reopenAdverts replaces g's advert socket by one sending from g's current
// source. Without a socket the group cannot win an election: it stays in
// the machine's state, silent, and the error says to reload.
func (e *Engine) reopenAdverts(g *group) {
	conn, err := e.opts.OpenAdverts(g.cfg, g.source)
	if err != nil {
		e.log.Error("cannot reopen the advert socket for the new source address; fix the interface and reload", "group", g.busName(), "source", g.source.String(), "err", err)
		return
	}
	_ = g.conn.Close()
	g.conn = conn
	go e.receive(g, g.cfg.Key, conn)
}

// receive reads g's adverts from conn until it closes. It runs on its own
// goroutine, so it touches g only through the loop.
func (e *Engine) receive(g *group, key config.GroupKey, conn netio.AdvertConn) {
	for {
		r, err := conn.Receive()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				e.log.Error("advert socket failed; restart the group with a reload", "group", key.String(), "err", err)
			}
			return
		}
		e.post(func() {
			if e.current(g) {
				e.received(g, r)
			}
		})
	}
}

// received validates an advert (RFC 3768 §7.1 order) and feeds it.
func (e *Engine) received(g *group, r netio.Received) {
	if r.Src == g.source {
		return // our own, looped back
	}
	reason := packet.CheckHopLimit(r.HopLimit)
	var adv packet.Advertisement
	if reason == packet.DropNone {
		var err error
		adv, err = packet.Unmarshal(r.Payload, r.Src, r.Dst, packetOptions(g.cfg))
		if err != nil {
			reason = packet.ReasonOf(err)
			if reason == packet.DropNone {
				reason = packet.DropLength
			}
		}
	}
	if reason == packet.DropNone {
		reason = expect(g.cfg).Check(adv)
	}
	if reason == packet.DropVRID {
		return // another group's advert on the same link (VR-B24)
	}
	if reason != packet.DropNone {
		g.count(reason)
		e.logDrop(g, r, reason)
		return
	}
	if !packet.SameAddresses(adv.Addresses, vipAddrs(g.cfg)) {
		// Only the owner drops it (VR-B22); the others count and go on.
		g.count(packet.DropAddressList)
		e.logDrop(g, r, packet.DropAddressList)
	}
	g.counters.AdvertsReceived++
	if adv.Priority == 0 {
		g.counters.Priority0Received++
	}
	e.dispatch(g, fsm.Advert{Priority: adv.Priority, Source: r.Src, Interval: adv.Interval()})
}

func (e *Engine) logDrop(g *group, r netio.Received, reason packet.DropReason) {
	now := e.opts.Clock.Now()
	if !g.lastDropLog.IsZero() && now.Sub(g.lastDropLog) < dropLogEvery {
		return
	}
	g.lastDropLog = now
	e.log.Warn("dropped VRRP advert (further drops of this group are counted, logged at most every 10s)",
		"group", g.busName(), "from", r.Src.String(), "reason", reason.String())
}

func (g *group) count(r packet.DropReason) {
	c := &g.counters
	switch r {
	case packet.DropHopLimit:
		c.TTLErrors++
	case packet.DropVersion, packet.DropType:
		c.InvalidTypeErrors++
	case packet.DropLength, packet.DropChecksum:
		c.PacketLengthErrors++
	case packet.DropAuthUnknown:
		c.AuthInvalidType++
	case packet.DropAuthTypeMismatch:
		c.AuthTypeMismatch++
	case packet.DropAuthFailure:
		c.AuthFailures++
	case packet.DropInterval:
		c.IntervalErrors++
	case packet.DropAddressList:
		c.AddressListErrors++
	}
}

func packetOptions(c config.Group) packet.Options {
	return packet.Options{V3ChecksumAsV2: c.Checksum == config.ChecksumWithoutPseudoHeader}
}

func vipAddrs(c config.Group) []netip.Addr {
	out := make([]netip.Addr, len(c.VIPs))
	for i, v := range c.VIPs {
		out[i] = v.Addr()
	}
	return out
}

func expect(c config.Group) packet.Expect {
	x := packet.Expect{VRID: c.VRID, Version: packet.Version(c.Version), Addresses: vipAddrs(c), Owner: c.Owner()}
	if c.Version == 2 {
		switch c.Auth.Type {
		case config.AuthPlaintext:
			x.AuthType = packet.AuthSimple
			// The configuration checked the password's length.
			x.AuthData, _ = packet.PasswordAuthData(c.Auth.Password)
		case config.AuthAH:
			x.AuthType = packet.AuthAH
		}
		x.AdvertInterval = uint8(c.Interval / time.Second)
	}
	return x
}

// dispatch feeds ev to g's machine, then every event that follows from it
// (sync group commands) in order, each after the previous one's actions.
func (e *Engine) dispatch(g *group, ev fsm.Event) {
	e.queue = append(e.queue, queuedEvent{g, ev})
	if e.draining {
		return
	}
	e.draining = true
	defer func() { e.draining = false }()
	for len(e.queue) > 0 {
		next := e.queue[0]
		e.queue = e.queue[1:]
		e.handle(next.g, next.ev)
	}
}

func (e *Engine) handle(g *group, ev fsm.Event) {
	now := e.opts.Clock.Now()
	e.debugEvent(g, ev)
	for _, a := range g.machine.Handle(now, ev) {
		e.execute(g, a, now)
	}
	e.arm(g, now)
}

// arm records g's next deadline for the loop's wake-up timer. It runs at
// the end of handle, inside dispatch's drain, so what it dispatches is
// queued.
//
// One timer for every group, not one each: a group's expiry then costs
// the loop one wake-up instead of a timer goroutine handing a message to
// the loop on another thread, and groups due together fire on one.
func (e *Engine) arm(g *group, now time.Time) {
	g.deadline = time.Time{}
	deadline, ok := g.machine.NextDeadline()
	if ok && e.current(g) {
		if !deadline.After(now) {
			// Already due (it expired while this event was queued):
			// fire now, behind the current event, rather than wait
			// for a clock that may not tick again soon.
			e.dispatch(g, fsm.TimerFired{})
			return
		}
		g.deadline = deadline
	}
	e.rearm(now)
}

// rearm sets the wake-up timer to the earliest deadline of any group.
func (e *Engine) rearm(now time.Time) {
	var next time.Time
	for _, g := range e.groups {
		if !g.deadline.IsZero() && (next.IsZero() || g.deadline.Before(next)) {
			next = g.deadline
		}
	}
	if next.Equal(e.wakeAt) {
		return
	}
	e.wakeAt = next
	e.wake.Stop()
	if !next.IsZero() {
		e.wake.Reset(next.Sub(now))
	}
}

// fireDue feeds TimerFired to every group whose deadline has come, in key
// order, and re-arms the wake-up.
func (e *Engine) fireDue() {
	now := e.opts.Clock.Now()
	e.wakeAt = time.Time{}
	var due []*group
	for _, g := range e.groups {
		if !g.deadline.IsZero() && !g.deadline.After(now) {
			due = append(due, g)
		}
	}
	slices.SortFunc(due, func(a, b *group) int { return strings.Compare(a.cfg.Key.String(), b.cfg.Key.String()) })
	for _, g := range due {
		g.deadline = time.Time{}
		if e.current(g) {
			e.dispatch(g, fsm.TimerFired{})
		}
	}
	e.rearm(now)
}

func (e *Engine) execute(g *group, a fsm.Action, now time.Time) {
	ctx := context.Background()
	switch a := a.(type) {
	case fsm.SendAdvert:
		e.sendAdvert(g, a.Priority)
	case fsm.PrepareDataPlane:
		e.prepare(g, now)
	case fsm.CancelPrepare:
		g.prepareGen++
		if g.cancelPrepare != nil {
			g.cancelPrepare()
		}
	case fsm.AddVIPs:
		// Before the VIPs: from the first GARP on, hosts send to the
		// virtual MAC.
		e.setBackupDrop(ctx, g.cfg, false)
		for _, vip := range g.cfg.VIPs {
			if err := e.opts.Kernel.AddVIP(ctx, vrrpInterfaceName(g.cfg), vip); err != nil {
				e.log.Error("cannot add virtual address", "group", g.busName(), "vip", vip.String(), "err", err)
			}
		}
		g.takeover.VIPsAdded = e.opts.Clock.Now()
	case fsm.RemoveVIPs:
		for _, vip := range g.cfg.VIPs {
			if g.ownAddresses[vip.Addr()] {
				continue
			}
			if err := e.opts.Kernel.RemoveVIP(ctx, vrrpInterfaceName(g.cfg), vip); err != nil {
				e.log.Error("cannot remove virtual address", "group", g.busName(), "vip", vip.String(), "err", err)
			}
		}
		e.setBackupDrop(ctx, g.cfg, true)
	case fsm.SendGARP:
		g.garpGen++
		g.garpStart, g.garpDone = now, 0
		e.announce(g, g.garpGen)
	case fsm.RunScript:
		e.runScript(g, a.State)
	case fsm.Transition:
		e.transition(g, a, now)
	default:
		e.log.Error("unknown state machine action", "group", g.busName(), "action", fmt.Sprintf("%T", a))
	}
}

func (e *Engine) sendAdvert(g *group, priority uint8) {
	c := g.cfg
	adv := packet.Advertisement{
		Version: packet.Version(c.Version), Type: packet.TypeAdvertisement,
		VRID: c.VRID, Priority: priority, Addresses: vipAddrs(c),
	}
	if c.Version == 2 {
		x := expect(c)
		adv.AuthType, adv.AuthData, adv.AdvertInterval = x.AuthType, x.AuthData, x.AdvertInterval
	} else {
		adv.MaxAdvertInterval = uint16(g.machine.Config().AdvertInterval / (10 * time.Millisecond))
	}
	group := netio.GroupIPv4
	if c.IPv6() {
		group = netio.GroupIPv6
	}
	dsts := c.Peers
	if len(dsts) == 0 {
		dsts = []netip.Addr{group}
	}
	for _, dst := range dsts {
		sumDst := dst
		if c.Checksum == config.ChecksumMulticastPseudoHeader {
			sumDst = group
		}
		payload, err := packet.Marshal(adv, g.source, sumDst, packetOptions(c))
		if err == nil {
			err = g.conn.Send(payload, dst)
		}
		if err != nil {
			g.counters.SendErrors++
			// A peer without a route fails every advert: say so
			// loudly, but not at the advert rate. There is no
			// fall back to multicast.
			if now := e.opts.Clock.Now(); g.lastSendErrLog.IsZero() || now.Sub(g.lastSendErrLog) >= dropLogEvery {
				g.lastSendErrLog = now
				e.log.Error("cannot send advert (further failures of this group are counted, logged at most every 10s)",
					"group", g.busName(), "to", dst.String(), "err", err, "failures", g.counters.SendErrors)
			}
			continue
		}
		g.counters.AdvertsSent++
		if priority == 0 {
			g.counters.Priority0Sent++
		}
	}
}

// prepare runs the takeover gates off the loop and feeds GatesDone back.
func (e *Engine) prepare(g *group, now time.Time) {
	g.takeover = Takeover{Claimed: now}
	g.prepareGen++
	gen := g.prepareGen
	finish := func(res bus.GateResult) {
		if !e.current(g) || g.prepareGen != gen {
			return
		}
		g.takeover.GatesDone, g.takeover.Gates = e.opts.Clock.Now(), res
		if !res.Ready() {
			e.log.Warn("taking over without every gate ready", "group", g.busName(), "gates", res.String())
		}
		e.dispatch(g, fsm.GatesDone{})
	}
	if e.opts.Producer == nil {
		// dispatch queues it behind the current Handle: no gate, no wait.
		finish(bus.GateResult{})
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancelPrepare = cancel
	name, deadline, sg := g.busName(), now.Add(g.cfg.GateDeadline), g.syncGroup()
	go func() {
		res := e.opts.Producer.Prepare(ctx, name, busv1.State_STATE_MASTER, deadline)
		// A holder that follows the sync group (ctsyncd's Example 4-8)
		// gates its members too, as its demotion does.
		if sg != "" && res.Ready() {
			sres := e.opts.Producer.Prepare(ctx, SyncGroupPrefix+sg, busv1.State_STATE_MASTER, deadline)
			res.Holders, res.Duration = append(res.Holders, sres.Holders...), res.Duration+sres.Duration
		}
		cancel()
		e.post(func() { finish(res) })
	}()
}

// announce sends the announcement rounds due now and arms the next.
func (e *Engine) announce(g *group, gen uint64) {
	if g.garpGen != gen || g.machine.State() != fsm.Master {
		return
	}
	now := e.opts.Clock.Now()
	sched := netio.Schedule{
		Repeat: g.cfg.GARP.MasterRepeat, SecondBurstDelay: g.cfg.GARP.MasterDelay,
		Refresh: g.cfg.GARP.MasterRefresh, RefreshRepeat: g.cfg.GARP.MasterRefreshRepeat,
	}
	due, next, more := sched.Due(now.Sub(g.garpStart), g.garpDone)
	g.garpDone += due
	for range due {
		e.announceRound(g)
	}
	if !more {
		return
	}
	if g.garpTimer != nil {
		g.garpTimer.Stop()
	}
	g.garpTimer = e.opts.Clock.AfterFunc(g.garpStart.Add(next).Sub(now), func() {
		e.post(func() {
			if e.current(g) {
				e.announce(g, gen)
			}
		})
	})
}

func (e *Engine) announceRound(g *group) {
	if g.announcer == nil {
		return
	}
	for _, vip := range g.cfg.VIPs {
		var err error
		if vip.Addr().Is4() {
			err = g.announcer.AnnounceIPv4(vip.Addr(), g.mac)
		} else {
			err = g.announcer.AnnounceIPv6(vip.Addr(), g.source, g.mac, true)
		}
		if err != nil {
			e.log.Warn("cannot announce virtual address", "group", g.busName(), "vip", vip.String(), "err", err)
		}
	}
}

func (e *Engine) runScript(g *group, state fsm.State) {
	var script string
	switch state {
	case fsm.Master:
		script = g.cfg.Scripts.Master
	case fsm.Backup:
		script = g.cfg.Scripts.Backup
	case fsm.Fault:
		script = g.cfg.Scripts.Fault
	}
	if script == "" || e.opts.Hooks == nil {
		return
	}
	name := strings.ToLower(state.String())
	vrid := fmt.Sprint(g.cfg.VRID)
	args := []string{name, g.cfg.Interface, vrid, vrrpInterfaceName(g.cfg)}
	for _, vip := range g.cfg.VIPs {
		args = append(args, vip.Addr().String())
	}
	job := hook.Job{
		Script: script,
		Args:   args,
		Env: []string{
			"VRRP_STATE=" + name, "VRRP_INTERFACE=" + g.cfg.Interface, "VRRP_GROUP=" + vrid,
			"VRRP_VRRP_INTERFACE=" + vrrpInterfaceName(g.cfg), "VRRP_SYNC_GROUP=" + g.cfg.SyncGroup,
			"VRRP_VIPS=" + vipList(g.cfg),
		},
	}
	if err := e.opts.Hooks.Submit(g.busName(), job); err != nil {
		e.log.Error("cannot run transition script", "group", g.busName(), "script", script, "err", err)
	}
}

func busState(s fsm.State) busv1.State {
	switch s {
	case fsm.Master:
		return busv1.State_STATE_MASTER
	case fsm.Backup:
		return busv1.State_STATE_BACKUP
	case fsm.Fault:
		return busv1.State_STATE_FAULT
	}
	return busv1.State_STATE_INIT
}

func (e *Engine) transition(g *group, t fsm.Transition, now time.Time) {
	g.lastTransition, g.lastReason = now, t.Reason
	if t.To == fsm.Master {
		g.counters.BecameMaster++
	}
	if t.From == fsm.Master {
		g.counters.ReleasedMaster++
		g.garpGen++
		if g.garpTimer != nil {
			g.garpTimer.Stop()
		}
	}
	e.log.Info("VRRP transition", "group", g.busName(), "from", t.From.String(), "to", t.To.String(), "reason", t.Reason)
	e.monitorTransition(g, t, now)
	e.publish(g.busName(), t.To, t.Reason)
	sg := e.syncOf[g.cfg.Key]
	if sg == nil {
		return
	}
	for _, cmd := range sg.Observe(g.busName(), t) {
		for _, member := range e.groups {
			if member.busName() == cmd.Member {
				e.dispatch(member, cmd.Event)
			}
		}
	}
	e.publish(SyncGroupPrefix+sg.Name(), sg.State(), "member "+g.busName()+": "+t.Reason)
}

func (e *Engine) publish(name string, s fsm.State, reason string) {
	if e.opts.Producer == nil {
		return
	}
	if err := e.opts.Producer.Publish(name, busState(s), reason); err != nil {
		e.log.Error("cannot publish transition", "group", name, "err", err)
	}
}
