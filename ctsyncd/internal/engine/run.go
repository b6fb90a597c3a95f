package engine

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/cache"
	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/sync"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
	"github.com/hasuite/hasuite/pkg/bus"
)

// clusterHeartbeatGroup is clusterd's default heartbeat group: its flows
// are the cluster's own and never worth syncing (CS-B04).
var clusterHeartbeatGroup = netip.MustParseAddr("239.251.252.253")

// linkLocalMulticast carries VRRP adverts, IGMP and the like (the guide's
// "multicast such as 224.0.0.0/24", CS-C07).
var linkLocalMulticast = netip.MustParsePrefix("224.0.0.0/24")

// retryChannelEvery is how often a sync socket that could not be opened
// (interface missing, no address yet) is tried again.
const retryChannelEvery = 2 * time.Second

// syncRun is synchronization running with one configuration: caches,
// session, sockets and the bus subscription.
type syncRun struct {
	cfg            *config.Config
	started        time.Time
	internal       *cache.Internal
	external       *cache.External
	internalX      *cache.InternalExpect // nil without expect-sync
	externalX      *cache.ExternalExpect
	codec          *wire.Codec
	session        *sync.Session
	kernel         Kernel
	events         Events
	channel        SyncSocket
	channelProblem string
	channelRetryAt time.Time
	local          []netip.Addr
	peerAddr       netip.AddrPort     // source of the peer's last valid datagram
	cancel         context.CancelFunc // the goroutines below
	updates        <-chan bus.Update
	stopFollowing  func()
	gate           Gate
	demoted        bool
	demotionWhy    string
	resyncReceived bool
	// resyncDue is the cause of a resync the loop owes once the current
	// step is answered (after a commit: its gate answers first).
	resyncDue           string
	peerEverHeard       bool
	lastProducerProblem string
	// silent are the entries read again for changes the kernel announces
	// by no event (silent.go).
	silent *silentWatch
}

// startRun opens everything for cfg; on error nothing is left open.
func (e *Engine) startRun(cfg *config.Config, cause string) error {
	now := e.opts.Clock.Now()
	kernel, err := e.opts.OpenKernel(cfg)
	if err != nil {
		return err
	}
	r := &syncRun{cfg: cfg, started: now, kernel: kernel, codec: wire.NewCodec([]byte(cfg.Secret)), silent: newSilentWatch(now)}
	r.local = e.opts.LocalAddrs()
	f := e.filterFor(r)
	r.internal, r.external = cache.NewInternal(f), cache.NewExternal()
	if len(cfg.Expect) > 0 {
		r.internalX, r.externalX = cache.NewInternalExpect(f), cache.NewExternalExpect()
	}
	// Nobody vouches for the peer's entries until it is heard.
	r.external.SetPeerAlive(now, false)
	r.session = e.newSession(r)
	ctx, cancel := context.WithCancel(e.ctx)
	r.cancel = cancel
	eventsWere := e.enableEvents()
	events, err := e.opts.OpenEvents(cfg, e.kq)
	if err != nil {
		cancel()
		_ = kernel.Close()
		return err
	}
	r.events = events
	go func() {
		if err := events.Run(ctx); err != nil && ctx.Err() == nil {
			e.post(func() { e.log.Error("conntrack event listener stopped; restart ctsyncd", "err", err) })
		}
	}()
	e.r = r
	e.openChannel(r)
	// Hold a demotion until the peer's table has arrived, so that a node
	// with an empty external cache does not preempt a healthy master
	// (issue 5); released at once if no peer answers within dead-interval.
	r.demoted, r.demotionWhy = true, "waiting for the peer's connection table"
	e.follow(r)
	e.resyncInternal(r, cause)
	if eventsWere != "1" && eventsWere != "" && r.internal.Len() > 0 {
		e.log.Warn("these connections existed before any process listened for conntrack events: the kernel will announce neither their changes nor their end, which reach the peer only with a resync (ctsyncd reset conntrack-sync internal-cache)",
			"connections", r.internal.Len(), "nf_conntrack_events_was", eventsWere)
	}
	e.log.Info("conntrack-sync started", "interface", cfg.Interface, "destination", cfg.Destination(),
		"failover", cfg.Mechanism.String(), "expect_sync", cfg.Expect, "entries", r.internal.Len())
	e.publish("start", "conntrack-sync started on %s (%s)", cfg.Interface, cause)
	return nil
}

// newSession starts a session (a new boot: the peer resyncs with it)
// over r's caches.
func (e *Engine) newSession(r *syncRun) *sync.Session {
	cfg := sync.Config{
		Boot:         sync.NewBoot(e.opts.Clock.Now()),
		QueueBytes:   r.cfg.SyncQueueBytes,
		MaxDatagram:  wire.MaxDatagram,
		Overhead:     r.codec.Overhead(),
		Expect:       r.internalX != nil,
		Keepalive:    r.cfg.Keepalive,
		DeadInterval: r.cfg.Dead,
	}
	var s *sync.Session
	if r.internalX != nil {
		s = sync.New(cfg, r.internal, r.internalX, r.external, r.externalX)
	} else {
		s = sync.New(cfg, r.internal, nil, r.external, nil)
	}
	s.SetState(modeWire(e.ctl.mode))
	return s
}

// openChannel opens the sync socket; a failure is kept as the channel's
// problem and retried from tick.
func (e *Engine) openChannel(r *syncRun) {
	ch, err := e.opts.OpenChannel(r.cfg, e.pq.push)
	if err != nil {
		if r.channelProblem != err.Error() {
			e.log.Warn("cannot open the sync socket; retrying", "interface", r.cfg.Interface, "err", err)
		}
		r.channelProblem = err.Error()
		r.channelRetryAt = e.opts.Clock.Now().Add(retryChannelEvery)
		return
	}
	if r.channelProblem != "" {
		e.log.Info("sync socket open", "interface", r.cfg.Interface)
	}
	r.channel, r.channelProblem = ch, ""
}

// follow subscribes to the producer's group and registers the gate.
func (e *Engine) follow(r *syncRun) {
	ctx, cancel := context.WithCancel(e.ctx)
	r.stopFollowing = cancel
	e.producer = Producer{Group: r.cfg.BusGroup(), State: bus.StateUnspecified}
	r.updates = e.opts.Follow(ctx, r.cfg)
	r.gate = e.opts.NewGate(r.cfg, e.prepare)
	r.gate.SetDemoted(r.demoted, r.demotionWhy)
	go func() { _ = r.gate.Run(ctx) }()
}

// stopRun closes everything; the kernel table stays as it is (CS-C01).
func (e *Engine) stopRun(why string) {
	r := e.r
	if r == nil {
		return
	}
	e.r = nil
	r.stopFollowing()
	r.cancel()
	_ = r.events.Close()
	if r.channel != nil {
		_ = r.channel.Close()
	}
	_ = r.kernel.Close()
	// Events queued for the old caches mean nothing to the next run.
	b, _ := e.kq.take(e.kbuf)
	e.kbuf = e.kq.recycle(b)
	e.log.Info("conntrack-sync stopped; the kernel's connection table is kept", "why", why)
	e.publish("stop", "conntrack-sync stopped: %s", why)
}

// filterFor is the internal cache's filter (CS-B04): the configured
// protocols and ignored addresses, plus what is never worth syncing (the
// sync channel's and clusterd's multicast groups, link-local multicast)
// and the node's own addresses.
func (e *Engine) filterFor(r *syncRun) cache.Filter {
	ignore := slices.Clone(r.cfg.Ignore)
	if r.cfg.Multicast() {
		ignore = append(ignore, netip.PrefixFrom(r.cfg.MulticastGroup, 32))
	}
	ignore = append(ignore, netip.PrefixFrom(clusterHeartbeatGroup, 32), linkLocalMulticast)
	return cache.Filter{Protocols: r.cfg.Protocols, Ignore: ignore, Local: r.local}
}

// refilter applies a new filter: the entries it drops leave the internal
// cache and are deleted at the peer (the kernel keeps them, CS-B20). When
// the filter may have widened, the connections it now admits are only in
// the kernel table: a resync reads them.
func (e *Engine) refilter(r *syncRun, widened bool) {
	f := e.filterFor(r)
	now := e.opts.Clock.Now()
	n := 0
	for _, k := range r.internal.SetFilter(f) {
		e.submit(r, now, wire.Record{Kind: wire.RecordDelete, Entry: keyEntry(k)})
		n++
	}
	if r.internalX != nil {
		for _, k := range r.internalX.SetFilter(f) {
			e.submit(r, now, wire.Record{Kind: wire.RecordExpectDelete, Expect: keyExpect(k)})
			n++
		}
	}
	e.flushSubmit(r, now)
	if n > 0 {
		e.log.Info("filter changed: entries no longer synced removed from the internal cache", "entries", n)
	}
	if widened {
		e.resyncInternal(r, "filter")
	}
}

// enableEvents turns the kernel's conntrack events on for every new
// connection, before the listener subscribes. With the default of Linux
// 6.0 and later (nf_conntrack_events=2) a connection created while no
// process listens gets no event extension and never announces a change
// or its end, even once someone listens: every connection created during
// a restart of ctsyncd would be followed no more. It returns the setting
// found ("" when unknown).
func (e *Engine) enableEvents() string {
	was, err := e.opts.EnableEvents()
	switch {
	case err != nil:
		e.log.Warn("cannot set net.netfilter.nf_conntrack_events=1: connections created while ctsyncd does not listen (during a restart) will never announce their changes; set it at boot (sysctl.d)",
			"was", was, "err", err)
	case was == "0":
		e.log.Warn("conntrack events were off (net.netfilter.nf_conntrack_events=0): ctsyncd cannot follow the table without them and turned them on")
	case was != "1":
		e.log.Info("set net.netfilter.nf_conntrack_events=1 so that connections created while ctsyncd restarts still announce their changes", "was", was)
	}
	return was
}
