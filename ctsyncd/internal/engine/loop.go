package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/cache"
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/sync"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
	"github.com/hasuite/hasuite/pkg/bus"
)

// shortTimeout is the timeout a node that leaves PRIMARY gives the entries
// it owned (CS-B13), so stale ones go within a minute instead of days.
const shortTimeout = 60

// drainKernel applies the queued kernel events to the internal caches and
// submits what changed to the peer; after an overrun it rebuilds the
// internal cache from a dump (CS-B08).
func (e *Engine) drainKernel() {
	b, overrun := e.kq.take(e.kbuf)
	defer func() { e.kbuf = e.kq.recycle(b) }()
	r := e.r
	if r == nil {
		return
	}
	now := e.opts.Clock.Now()
	b.each(func(ev *entryEvent) {
		e.kernel.Events++
		r.silent.note(ev.kind, &ev.e)
		if ev.kind != cache.Destroy && !e.carriable(&ev.e) {
			return
		}
		ch, ok := r.internal.Apply(ev.kind, &ev.e)
		if !ok {
			return
		}
		if ch.Op == cache.OpDelete {
			e.kernel.Bytes += ev.acct.Bytes
			e.kernel.Packets += ev.acct.Packets
		}
		e.submit(r, now, entryRecord(ch))
	})
	expects := b.expects
	if r.internalX != nil {
		e.expectationsSeen(r, now, expects)
		for i := range expects {
			ev := &expects[i]
			e.kernel.Events++
			if ev.kind != cache.Destroy && !e.carriableExpect(&ev.x) {
				continue
			}
			if ch, ok := r.internalX.Apply(ev.kind, &ev.x); ok {
				e.submit(r, now, expectRecord(ch))
			}
		}
	}
	e.flushSubmit(r, now)
	if overrun {
		e.kernel.Overruns++
		e.log.Warn("maximum netlink socket buffer size has been reached: kernel events were lost, resynchronizing from the kernel table (raise event-listen-queue-size if this repeats)",
			"event_listen_queue_bytes", r.cfg.EventQueueBytes)
		e.resyncInternal(r, "overrun")
	}
}

// submitChunk bounds the records handed to the session at once: a
// wire.Record is about half a KiB, and a batch of kernel events or a dump
// must not build a slice of every change.
const submitChunk = 1024

// submit queues one record for the session.
func (e *Engine) submit(r *syncRun, now time.Time, rec wire.Record) {
	e.recs = append(e.recs, rec)
	if len(e.recs) >= submitChunk {
		e.flushSubmit(r, now)
	}
}

// flushSubmit hands the queued records to the session.
func (e *Engine) flushSubmit(r *syncRun, now time.Time) {
	if len(e.recs) > 0 {
		r.session.Submit(now, e.recs...)
		clear(e.recs)
		e.recs = e.recs[:0]
	}
}

// resyncInternal rebuilds the internal caches from a kernel dump and
// submits the differences.
func (e *Engine) resyncInternal(r *syncRun, cause string) {
	r.resyncDue = ""
	start := time.Now()
	now := e.opts.Clock.Now()
	// Past maxResyncChanges the differences are not sent one by one: a
	// full sweep sends the rebuilt cache instead, walking it bucket by
	// bucket as the window allows, without a queue of every change.
	changes, full := 0, false
	add := func(rec wire.Record) {
		changes++
		if changes > maxResyncChanges {
			full = true
			return
		}
		e.submit(r, now, rec)
	}
	r.internal.BeginResync()
	clear(r.silent.keys)
	err := r.kernel.Dump(e.ctx, func(v *ct.Entry) error {
		if mayChangeSilently(v) {
			r.silent.add(v.Key())
		}
		if !e.carriable(v) {
			return nil
		}
		if ch, ok := r.internal.ResyncAdd(v); ok {
			add(entryRecord(ch))
		}
		return nil
	})
	if err != nil {
		// A failed dump must not delete what it did not see.
		e.log.Error("cannot dump the kernel's connection table", "cause", cause, "err", err)
		r.internal.AbortResync()
	}
	for _, ch := range r.internal.EndResync() {
		add(entryRecord(ch))
	}
	if r.internalX != nil {
		r.internalX.BeginResync()
		xerr := r.kernel.DumpExpect(e.ctx, func(v *ct.Expect) error {
			if !e.carriableExpect(v) {
				return nil
			}
			if ch, ok := r.internalX.ResyncAdd(v); ok {
				add(expectRecord(ch))
			}
			return nil
		})
		if xerr != nil {
			e.log.Error("cannot dump the kernel's expectation table", "cause", cause, "err", xerr)
			r.internalX.AbortResync()
		}
		for _, ch := range r.internalX.EndResync() {
			add(expectRecord(ch))
		}
	}
	e.flushSubmit(r, now)
	if full {
		r.session.Resync(now)
	}
	e.resyncs[cause]++
	e.resync = Resync{At: now, Cause: cause, Entries: r.internal.Len(), Duration: time.Since(start)}
	e.log.Info("internal cache resynchronized from the kernel", "cause", cause, "entries", r.internal.Len(),
		"changes", changes, "full_sweep", full, "duration", e.resync.Duration.Round(time.Microsecond))
}

// maxResyncChanges is where a resync stops sending its differences one by
// one and sends the whole cache instead.
const maxResyncChanges = 4 * submitChunk

// drainPackets hands the received datagrams to the session.
func (e *Engine) drainPackets() {
	packets := e.pq.take(e.packetBuf)
	defer func() { e.packetBuf = packets }()
	r := e.r
	if r == nil {
		return
	}
	now := e.opts.Clock.Now()
	for _, p := range packets {
		// Unmarshal, not UnmarshalInto a reused message: the session
		// keeps updates that arrive ahead of a gap.
		m, err := r.codec.Unmarshal(p.b)
		if err != nil {
			r.session.NoteReceived(nil, len(p.b), wire.ReasonOf(err))
			continue
		}
		r.session.NoteReceived(m, len(p.b), 0)
		r.peerAddr = p.from
		r.session.Handle(now, m)
	}
}

// pump sends what the session queued and acts on its events; it runs
// after every step of the loop.
func (e *Engine) pump() {
	r := e.r
	if r == nil {
		return
	}
	now := e.opts.Clock.Now()
	r.session.Flush(now)
	for _, m := range r.session.Outbox() {
		if r.channel == nil {
			continue // the session resends once the socket is open
		}
		b, err := r.codec.Marshal(m)
		if err != nil {
			e.log.Error("cannot encode a sync message; this is a bug", "type", m.Type, "err", err)
			continue
		}
		r.session.NoteSent(m, len(b), r.channel.Send(b))
	}
	for _, ev := range r.session.Events() {
		e.onSessionEvent(r, ev)
	}
}

func (e *Engine) onSessionEvent(r *syncRun, ev sync.Event) {
	switch ev.Kind {
	case sync.EventPeerAlive:
		r.peerEverHeard = true
		r.external.SetPeerAlive(ev.At, true)
		if r.externalX != nil {
			r.externalX.SetPeerAlive(ev.At, true)
		}
		e.log.Info("sync peer is alive", "boot", ev.Boot)
		e.publish("peer", "peer alive (boot %d)", ev.Boot)
	case sync.EventPeerDead:
		r.external.SetPeerAlive(ev.At, false)
		if r.externalX != nil {
			r.externalX.SetPeerAlive(ev.At, false)
		}
		e.log.Warn("sync peer is silent: its entries now age with their timeouts", "dead_interval", r.cfg.Dead)
		e.publish("peer", "peer dead")
		e.releaseDemotion(r, "the peer is silent: there is no table to wait for")
	case sync.EventPeerRestarted:
		e.log.Info("sync peer (re)started: asked it for its whole table", "boot", ev.Boot)
		e.publish("peer", "peer restarted (boot %d)", ev.Boot)
	case sync.EventPeerState:
		e.log.Info("sync peer's failover state", "state", ev.State)
	case sync.EventResyncReceived:
		if ev.Table == wire.TableMain {
			r.resyncReceived = true
			e.log.Info("the peer's whole table arrived", "entries", r.external.Len())
			e.publish("resync", "peer's table received: %d entries", r.external.Len())
			e.releaseDemotion(r, "")
		}
	case sync.EventResyncRequested:
		e.log.Info("the peer asked for our whole table: sending it", "entries", r.internal.Len())
	case sync.EventLost:
		e.log.Warn("sync updates lost for good; a full resync repairs it", "count", ev.Count)
	}
}

// releaseDemotion ends the start-up demotion.
func (e *Engine) releaseDemotion(r *syncRun, why string) {
	if !r.demoted {
		return
	}
	r.demoted, r.demotionWhy = false, ""
	r.gate.SetDemoted(false, "")
	if why != "" {
		e.log.Info("demotion released", "why", why)
	} else {
		e.log.Info("demotion released: the external cache holds the peer's table")
	}
}

// tick runs the session's timers and, every expireEvery, the external
// caches' expiry, the start-up demotion's deadline, a retry of the sync
// socket and a re-read of the node's addresses.
func (e *Engine) tick() {
	r := e.r
	now := e.opts.Clock.Now()
	if r == nil {
		return
	}
	r.session.Tick(now)
	e.refreshSilentDue(r, now)
	if now.Before(e.nextTick) {
		return
	}
	e.nextTick = now.Add(expireEvery)
	r.external.Expire(now)
	if r.externalX != nil {
		r.externalX.Expire(now)
	}
	if r.demoted && !r.peerEverHeard && now.Sub(r.started) >= r.cfg.Dead {
		e.releaseDemotion(r, "no peer answered within dead-interval")
	}
	if r.channel == nil && !now.Before(r.channelRetryAt) {
		e.openChannel(r)
	}
	if local := e.opts.LocalAddrs(); !slices.Equal(local, r.local) {
		// No dump: a new address (a VIP arriving at takeover) only
		// narrows the filter, and the connections that ended at an
		// address gone (a VIP leaving) die with it. A dump of a big
		// table here would compete with the peer's commit for the CPU
		// at the worst moment.
		r.local = local
		e.refilter(r, false)
	}
}

// onUpdate follows the producer's group (CS-B10).
func (e *Engine) onUpdate(u bus.Update) {
	r := e.r
	if r == nil {
		return
	}
	now := e.opts.Clock.Now()
	e.producer.Source, e.producer.State, e.producer.Reason = u.Source, u.State, u.Reason
	switch u.State {
	case bus.StateUnknownGroup:
		e.producer.Problem = fmt.Sprintf("producer has no group %s", r.cfg.Mechanism.Group)
	case bus.StateProducerGone:
		e.producer.Problem = fmt.Sprintf("cannot reach %s: %v", producerDaemon(r), u.Err)
	default:
		e.producer.Problem = ""
	}
	if e.producer.Problem != r.lastProducerProblem {
		if e.producer.Problem != "" {
			e.log.Warn("failover producer problem; ctsyncd acts as FAULT until it is solved", "problem", e.producer.Problem)
		}
		r.lastProducerProblem = e.producer.Problem
	}
	from := e.ctl.mode
	steps := e.ctl.onUpdate(now, u.State, u.Reason)
	if e.ctl.mode == from {
		return
	}
	e.log.Info("state transition", "from", from, "to", e.ctl.mode, "producer", u.Source, "group_state", u.State, "reason", u.Reason)
	e.publish("mode", "%s -> %s (%s %s)", from, e.ctl.mode, u.State, u.Reason)
	r.session.SetState(modeWire(e.ctl.mode))
	e.perform(r, steps, false)
}

func producerDaemon(r *syncRun) string {
	if r.cfg.Mechanism.Kind.String() == "cluster" {
		return "clusterd"
	}
	return "vrrpd"
}

// perform runs a transition's steps in order.
func (e *Engine) perform(r *syncRun, steps []Step, gate bool) {
	now := e.opts.Clock.Now()
	for _, s := range steps {
		switch s {
		case StepCommit:
			e.commitExternal(r, gate)
		case StepFlushExternal:
			r.external.Flush()
			if r.externalX != nil {
				r.externalX.Flush()
			}
		case StepSendFull:
			r.session.Resync(now)
		case StepRequestResync:
			r.session.RequestResync(now)
		case StepShortenTimeouts:
			e.shortenTimeouts(r)
		}
	}
}

// commitExternal writes the external caches into the kernel in batches
// (CS-B11, CS-B14).
func (e *Engine) commitExternal(r *syncRun, gate bool) {
	start := time.Now()
	c := Commit{At: e.opts.Clock.Now(), Gate: gate}
	// No events of what is written: the dump after the commit (resyncDue)
	// tells the internal cache, at a fraction of the cost.
	if err := r.events.Mute(true); err != nil {
		e.log.Warn("cannot mute the event listener for the commit; it goes on, slower", "err", err)
	}
	defer func() {
		if err := r.events.Mute(false); err != nil {
			e.log.Error("cannot unmute the event listener after the commit: new connections go unsynced until a restart", "err", err)
		}
		r.resyncDue = "commit"
	}()
	res, err := r.kernel.Commit(e.ctx, prefetched(liberal(r.external.Range)))
	c.Entries, c.Failed = res.Created+res.Updated, res.Failed
	r.external.CountCommit(c.Entries, res.Failed)
	for _, ke := range res.Errors {
		c.Errors = append(c.Errors, ke.Error())
	}
	if err != nil {
		c.Errors = append(c.Errors, err.Error())
	}
	if r.externalX != nil {
		xres, xerr := r.kernel.CommitExpect(e.ctx, func(yield func(*ct.Expect) bool) { r.externalX.Range(yield) })
		r.externalX.CountCommit(xres.Created+xres.Updated, xres.Failed)
		c.Expects, c.ExpectsFailed = xres.Created+xres.Updated, xres.Failed
		if xerr != nil {
			c.Errors = append(c.Errors, xerr.Error())
		}
	}
	c.Duration = time.Since(start)
	e.commit = c
	level := e.log.Info
	if c.Failed > 0 || err != nil {
		level = e.log.Warn
	}
	level("external cache committed into the kernel", "entries", c.Entries, "failed", c.Failed,
		"duration", c.Duration.Round(time.Microsecond), "gate", gate, "first_errors", c.Errors)
	e.publish("commit", "committed %d entries (%d failed) in %v", c.Entries, c.Failed, c.Duration.Round(time.Millisecond))
}

// shortenTimeouts gives this node's entries a short timeout (CS-B13).
func (e *Engine) shortenTimeouts(r *syncRun) {
	res, err := r.kernel.SetTimeout(e.ctx, func(yield func(ct.Key) bool) {
		r.internal.Range(func(v *ct.Entry) bool { return yield(v.Key()) })
	}, shortTimeout)
	e.log.Info("no longer PRIMARY: this node's entries expire within a minute unless traffic refreshes them",
		"entries", res.Done, "absent", res.Absent, "failed", res.Failed, "err", err)
}

// prepare is the takeover gate (issue 5): called by the producer before it
// brings its addresses up here, it commits the external cache first, on
// the loop, and answers ready when it is in the kernel.
func (e *Engine) prepare(ctx context.Context, req bus.PrepareRequest) error {
	var err error
	doErr := e.do(ctx, func() {
		r := e.r
		if r == nil {
			err = errNotConfigured
			return
		}
		if !e.ctl.onPrepare() {
			return
		}
		e.log.Info("takeover gate: committing the external cache before the producer's addresses come up",
			"group", req.Group, "target", req.Target, "deadline", req.Deadline)
		e.commitExternal(r, true)
	})
	if doErr != nil {
		return doErr
	}
	return err
}

func entryRecord(ch cache.Change[ct.Entry]) wire.Record {
	if ch.Op == cache.OpDelete {
		return wire.Record{Kind: wire.RecordDelete, Entry: keyEntry(ch.Value.Key())}
	}
	return wire.Record{Kind: wire.RecordUpsert, Entry: ch.Value}
}

func expectRecord(ch cache.Change[ct.Expect]) wire.Record {
	if ch.Op == cache.OpDelete {
		return wire.Record{Kind: wire.RecordExpectDelete, Expect: keyExpect(ch.Value.Key())}
	}
	x := ch.Value
	return wire.Record{Kind: wire.RecordExpectUpsert, Expect: &x}
}

// keyEntry is the entry a delete record carries: its key fields only.
func keyEntry(k ct.Key) ct.Entry { return ct.Entry{Orig: k.Orig, Zone: k.Zone} }

func keyExpect(k ct.ExpectKey) *ct.Expect {
	return &ct.Expect{Master: k.Master, Tuple: k.Tuple, Zone: k.Zone}
}

// carriable reports whether the sync protocol can carry e; one it cannot
// must stay out of the internal cache, or every datagram and sweep
// carrying it would fail again. Counted and logged (rate-limited).
func (e *Engine) carriable(v *ct.Entry) bool {
	err := wire.CheckEntry(v)
	if err != nil {
		e.uncarriable(err)
	}
	return err == nil
}

func (e *Engine) carriableExpect(v *ct.Expect) bool {
	err := wire.CheckExpect(v)
	if err != nil {
		e.uncarriable(err)
	}
	return err == nil
}

// uncarriableLogEvery spaces the warnings about entries left unsynced.
const uncarriableLogEvery = time.Minute

func (e *Engine) uncarriable(err error) {
	e.kernel.Unsyncable++
	if now := e.opts.Clock.Now(); now.Sub(e.lastUncarriableLog) >= uncarriableLogEvery {
		e.lastUncarriableLog = now
		e.log.Warn("a kernel entry the sync protocol cannot carry is not synced; please report it",
			"err", err, "total", e.kernel.Unsyncable)
	}
}

// liberal gives the committed TCP entries the kernel's be-liberal flag in
// both directions, as conntrackd does unless told otherwise: the sequence
// windows are not part of what ctnetlink carries, so the new master learns
// them from the first packets it sees — and after a takeover the two
// directions may pass different routers for a while (a host whose ARP entry
// for the VIP is younger than its locktime ignores the gratuitous ARP and
// keeps sending to the old master). Strict window tracking would then find
// one direction's segments out of window: dropped as INVALID, and for a
// DNATed connection answered with a reset by the new master's own stack.
func liberal(rangeFn func(func(*ct.Entry) bool)) func(func(*ct.Entry) bool) {
	return func(yield func(*ct.Entry) bool) {
		rangeFn(func(v *ct.Entry) bool {
			if v.Orig.Proto != ct.ProtoTCP {
				return yield(v)
			}
			c := *v
			c.TCP.FlagsOrig |= ct.TCPFlagBeLiberal
			c.TCP.FlagsReply |= ct.TCPFlagBeLiberal
			return yield(&c)
		})
	}
}
