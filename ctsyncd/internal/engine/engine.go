package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	gosync "sync"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/pkg/clock"
)

// Options configure an Engine.
type Options struct {
	Clock  clock.Clock
	Logger *slog.Logger
	// RunDir is where the producers' sockets are (<run-dir>/vrrpd.sock,
	// clusterd.sock), for the real Follow and NewGate.
	RunDir string
	// Factories open the OS side; nil fields take the real ones.
	Factories
}

// expireEvery is how often the external cache's timeouts are applied
// while the peer is silent, and the node's addresses re-read.
const expireEvery = time.Second

// Engine runs conntrack synchronization. Create it with New, run it with
// Run, configure it with Apply.
type Engine struct {
	opts  Options
	log   *slog.Logger
	inbox chan func()
	done  chan struct{}
	kq    *kernelQueue
	pq    *packetQueue
	hub   hub
	// applyMu serialises Apply, Restart and Shutdown.
	applyMu gosync.Mutex

	// Owned by the loop.
	ctx      context.Context // Run's, for the kernel requests
	r        *syncRun        // nil while not configured
	ctl      controller
	producer Producer
	kernel   KernelCounters
	commit   Commit
	resyncs  map[string]uint64
	resync   Resync
	// Batches handed back to the queues for reuse.
	kbuf      batch
	packetBuf []packet
	recs      []wire.Record
	nextTick  time.Time
	// lastUncarriableLog rate-limits the warning of uncarriable.
	lastUncarriableLog time.Time
}

// New returns an engine with nothing configured. It starts nothing.
func New(opts Options) *Engine {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Factories = opts.Factories.withDefaults(opts.RunDir, opts.Logger)
	return &Engine{
		opts:    opts,
		log:     opts.Logger,
		inbox:   make(chan func(), 64),
		done:    make(chan struct{}),
		kq:      newKernelQueue(),
		pq:      newPacketQueue(),
		resyncs: map[string]uint64{},
		ctx:     context.Background(),
	}
}

// Run runs the loop until ctx ends. It leaves the kernel table as it is.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.done)
	e.ctx = ctx
	timer := e.opts.Clock.NewTimer(time.Hour)
	defer timer.Stop()
	defer func() { e.stopRun("the daemon stops") }()
	for {
		e.arm(timer)
		var updates <-chan bus.Update
		if e.r != nil {
			updates = e.r.updates
		}
		select {
		case <-ctx.Done():
			return nil
		case f := <-e.inbox:
			f()
		case <-e.kq.notify:
			e.drainKernel()
		case <-e.pq.notify:
			e.drainPackets()
		case u, ok := <-updates:
			if ok {
				e.onUpdate(u)
			}
		case <-timer.C():
			e.tick()
		}
		e.pump()
		if r := e.r; r != nil && r.resyncDue != "" {
			e.resyncInternal(r, r.resyncDue)
			e.pump()
		}
	}
}

// arm sets the timer to the next deadline: the session's, or the periodic
// tick.
func (e *Engine) arm(timer clock.Timer) {
	now := e.opts.Clock.Now()
	if e.nextTick.IsZero() || e.nextTick.Before(now) {
		e.nextTick = now.Add(expireEvery)
	}
	next := e.nextTick
	if e.r != nil {
		if t := e.r.session.Next(now); !t.IsZero() && t.Before(next) {
			next = t
		}
		if t := e.r.silent.due(); t.Before(next) {
			next = t
		}
	}
	if !timer.Stop() {
		select {
		case <-timer.C():
		default:
		}
	}
	timer.Reset(max(next.Sub(now), time.Millisecond))
}

// post hands f to the loop from any goroutine; false if the loop ended.
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
	case e.inbox <- func() { f(); e.pump(); close(finished) }:
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

// Apply applies a validated configuration as reload does (CS-B20): the
// first one starts synchronization; later ones touch only what changed. A
// nil or disabled configuration stops it and leaves the kernel table as it
// is (CS-C01). It returns the changes, one line each. An error leaves the
// running configuration as it was.
func (e *Engine) Apply(ctx context.Context, cfg *config.Config) ([]string, error) {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	var changes []string
	var err error
	if doErr := e.do(ctx, func() { changes, err = e.apply(cfg) }); doErr != nil {
		return nil, doErr
	}
	return changes, err
}

func (e *Engine) apply(cfg *config.Config) ([]string, error) {
	var old *config.Config
	if e.r != nil {
		old = e.r.cfg
	}
	d := config.Diff(old, cfg)
	switch d.Action {
	case config.ReloadNone:
		return nil, nil
	case config.ReloadStop:
		e.stopRun("service conntrack-sync was removed from the configuration")
		return d.Changes, nil
	case config.ReloadStart:
		return d.Changes, e.startRun(cfg, "start")
	}
	r := e.r
	switch {
	case d.Expect || d.EventQueue:
		// The caches' shape or the event socket changes: start again,
		// keeping the external cache so that a takeover meanwhile still
		// has the peer's table.
		ext, extX := r.external, r.externalX
		e.stopRun("reload: " + firstLine(d.Changes))
		if err := e.startRun(cfg, "reload"); err != nil {
			return nil, err
		}
		e.r.external = ext
		if e.r.externalX != nil && extX != nil {
			e.r.externalX = extX
		}
		e.r.session = e.newSession(e.r)
		return d.Changes, nil
	}
	r.cfg = cfg
	if d.Filter {
		e.refilter(r, true)
	}
	if d.Channel || d.SyncQueue || d.Timers {
		// A new session (and boot): the peer sees a restart and both
		// sides resync (CS-B20).
		if r.channel != nil {
			_ = r.channel.Close()
			r.channel = nil
		}
		r.session = e.newSession(r)
		e.openChannel(r)
	}
	if d.Mechanism {
		r.stopFollowing()
		e.follow(r)
	}
	e.log.Info("configuration applied", "changes", d.Changes)
	return d.Changes, nil
}

func firstLine(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[0]
}

// Status returns the daemon's view.
func (e *Engine) Status(ctx context.Context) (Status, error) {
	var st Status
	err := e.do(ctx, func() { st = e.status() })
	return st, err
}

func (e *Engine) status() Status {
	now := e.opts.Clock.Now()
	st := Status{Now: now, Producer: e.producer, Kernel: e.kernel, LastCommit: e.commit,
		Resyncs: maps.Clone(e.resyncs), LastResync: e.resync}
	st.Mode, st.Since, st.Reason = e.ctl.mode, e.ctl.since, e.ctl.reason
	r := e.r
	if r == nil {
		return st
	}
	st.Configured, st.Config = true, r.cfg
	st.Demoted, st.DemotionWhy = r.demoted, r.demotionWhy
	st.Channel = Channel{Interface: r.cfg.Interface, Destination: r.cfg.Destination().String(),
		Up: r.channel != nil, Problem: r.channelProblem}
	st.Session = r.session.Status(now)
	st.PeerAddress = r.peerAddr
	st.Main = Tables{Internal: r.internal.Counters(), External: r.external.Counters(),
		InternalLen: r.internal.Len(), ExternalLen: r.external.Len()}
	if r.internalX != nil {
		st.Expect = Tables{Internal: r.internalX.Counters(), External: r.externalX.Counters(),
			InternalLen: r.internalX.Len(), ExternalLen: r.externalX.Len()}
	}
	return st
}

// Cache copies a cache's entries (main and/or expectations).
func (e *Engine) Cache(ctx context.Context, which Which, main, expect bool) (Snapshot, error) {
	var snap Snapshot
	err := e.do(ctx, func() {
		r := e.r
		if r == nil {
			return
		}
		if main {
			var src interface{ Range(func(*ct.Entry) bool) } = r.internal
			if which == External {
				src = r.external
			}
			src.Range(func(v *ct.Entry) bool { snap.Main = append(snap.Main, *v); return true })
		}
		if expect && r.internalX != nil {
			var src interface{ Range(func(*ct.Expect) bool) } = r.internalX
			if which == External {
				src = r.externalX
			}
			src.Range(func(v *ct.Expect) bool { snap.Expect = append(snap.Expect, *v); return true })
		}
	})
	return snap, err
}

// errNotConfigured answers requests that need synchronization running.
var errNotConfigured = errors.New("conntrack-sync is not configured: add `service { conntrack-sync { ... } }` to the configuration and reload")

// Reset empties a cache and fills it again (CS-B18, CS-B19).
func (e *Engine) Reset(ctx context.Context, which Which) error {
	var err error
	doErr := e.do(ctx, func() {
		r := e.r
		if r == nil {
			err = errNotConfigured
			return
		}
		now := e.opts.Clock.Now()
		switch which {
		case Internal:
			// CS-B18: flush, rebuild from the kernel, send it all.
			r.internal.Flush()
			if r.internalX != nil {
				r.internalX.Flush()
			}
			e.resyncInternal(r, "reset")
			r.session.Resync(now)
			e.log.Info("internal cache reset: rebuilt from the kernel and sent to the peer", "entries", r.internal.Len())
		case External:
			// CS-B19: flush, ask the peer for its table.
			r.external.Flush()
			if r.externalX != nil {
				r.externalX.Flush()
			}
			r.session.RequestResync(now)
			e.log.Info("external cache reset: asked the peer for its table")
		}
	})
	if doErr != nil {
		return doErr
	}
	return err
}

// Restart starts synchronization again from nothing (CS-B17): counters
// zeroed, the internal cache rebuilt from the kernel, a resync asked of the
// peer and the internal cache sent to it.
func (e *Engine) Restart(ctx context.Context) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	var err error
	doErr := e.do(ctx, func() {
		if e.r == nil {
			err = errNotConfigured
			return
		}
		cfg := e.r.cfg
		e.stopRun("restart conntrack-sync")
		e.kernel, e.commit, e.resync = KernelCounters{}, Commit{}, Resync{}
		e.resyncs = map[string]uint64{}
		err = e.startRun(cfg, "restart")
	})
	if doErr != nil {
		return doErr
	}
	return err
}

// Shutdown stops synchronization: sockets closed, caches dropped, the
// kernel table left as it is.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	return e.do(ctx, func() { e.stopRun("the daemon stops") })
}

// Subscribe returns the events for `monitor` until cancel.
func (e *Engine) Subscribe() (<-chan Event, func()) { return e.hub.subscribe() }

// publish tells the subscribers.
func (e *Engine) publish(kind, format string, args ...any) {
	e.hub.publish(Event{Time: e.opts.Clock.Now(), Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// modeWire is what the session tells the peer of this node's mode.
func modeWire(m Mode) wire.State {
	switch m {
	case ModePrimary:
		return wire.StatePrimary
	case ModeBackup:
		return wire.StateBackup
	case ModeFault:
		return wire.StateFault
	}
	return wire.StateUnknown
}
