package ctnl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// ListenerOptions say what a Listener reports and to whom. The callbacks
// run synchronously on the Run goroutine, one at a time, with a reused
// Entry/Expect that they must copy to keep.
type ListenerOptions struct {
	// RcvBuf is the socket's receive buffer in octets
	// (event-listen-queue-size, CS-C03; set with SO_RCVBUFFORCE).
	RcvBuf int
	// OnEntry receives conntrack events; nil = not subscribed. acct is
	// the connection's final traffic on a destroy event (zero otherwise,
	// or without nf_conntrack_acct).
	OnEntry func(kind EventKind, e *ct.Entry, acct Acct)
	// OnExpect receives expectation events; nil = not subscribed
	// (expect-sync off, CS-B02).
	OnExpect func(kind EventKind, x *ct.Expect)
	// OnOverrun is called after the kernel dropped events because the
	// buffer was full (ENOBUFS); the listener keeps reading, the caller
	// resyncs from a dump (CS-B08). The call comes once the socket's
	// queue is drained: the kernel drops every event from the overrun
	// until then, and delivers (or reports as a new overrun) every event
	// after, so a dump started after the call covers all that was lost.
	OnOverrun func()
	// OnError receives messages that did not decode (counted too).
	OnError func(error)
}

// ListenerStats are the listener's counters.
type ListenerStats struct {
	// Events decoded and handed to a callback; Overruns is the number of
	// ENOBUFS the socket reported (several may precede one OnOverrun).
	Events, Overruns, DecodeErrors uint64
	// RcvBuf is the receive buffer the kernel granted (it doubles the
	// requested size for its bookkeeping).
	RcvBuf int
}

// Listener reads conntrack (and expectation) events.
type Listener struct {
	opts ListenerOptions
	s    *sock
	buf  []byte

	events, overruns, decodeErrors atomic.Uint64
	closeOnce                      sync.Once
	closed                         atomic.Bool
}

// Listen opens an event socket in the caller's network namespace,
// subscribed to the groups the callbacks ask for.
func Listen(opts ListenerOptions) (*Listener, error) {
	var groups []int
	if opts.OnEntry != nil {
		groups = append(groups, groupCTNew, groupCTUpdate, groupCTDestroy)
	}
	if opts.OnExpect != nil {
		groups = append(groups, groupExpNew, groupExpUpdate, groupExpDestroy)
	}
	if len(groups) == 0 {
		return nil, errors.New("ctnl.Listen: neither OnEntry nor OnExpect set: nothing to listen to")
	}
	s, err := openSocket(groups, opts.RcvBuf)
	if err != nil {
		return nil, err
	}
	return &Listener{opts: opts, s: s, buf: make([]byte, recvBufLen)}, nil
}

// Stats returns the counters; safe from any goroutine.
func (l *Listener) Stats() ListenerStats {
	return ListenerStats{Events: l.events.Load(), Overruns: l.overruns.Load(),
		DecodeErrors: l.decodeErrors.Load(), RcvBuf: l.s.rcvbuf}
}

// Close stops Run and closes the socket.
func (l *Listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		err = l.s.close()
	})
	return err
}

// Run reads events until ctx ends (returns nil) or Close (returns nil) or
// the socket fails. It does not close the socket on return.
func (l *Listener) Run(ctx context.Context) error {
	// A previous Run's cancellation left its deadline behind.
	_ = l.s.setReadDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { _ = l.s.setReadDeadline(time.Now()) })
	defer stop()
	var e ct.Entry
	var x ct.Expect
	var fatal error
	overrun := false
	// read is built once, not per wakeup: it reads every datagram queued
	// (one event each: the kernel multicasts events one per skb) without
	// going back to the poller, until the queue is empty.
	read := func(fd uintptr) bool {
		got := false
		for {
			n, err := unix.Read(int(fd), l.buf)
			switch {
			case err == unix.EAGAIN:
				return got
			case err == unix.EINTR:
				continue
			case err == unix.ENOBUFS:
				l.overruns.Add(1)
				overrun = true
			case err != nil:
				fatal = fmt.Errorf("read conntrack events: %w", err)
				return true
			default:
				l.handle(l.buf[:n], &e, &x)
				if ctx.Err() != nil {
					return true
				}
			}
			got = true
		}
	}
	for {
		overrun = false
		err := l.s.rc.Read(read)
		if overrun && err == nil && fatal == nil && ctx.Err() == nil && l.opts.OnOverrun != nil {
			// The batch ended on an empty queue: that read lifted the
			// kernel's congestion state.
			l.opts.OnOverrun()
		}
		if fatal != nil {
			return fatal
		}
		if ctx.Err() != nil || l.closed.Load() {
			return nil
		}
		if err != nil {
			if isClosed(err) {
				return nil
			}
			return fmt.Errorf("read conntrack events: %w", err)
		}
	}
}

func (l *Listener) handle(b []byte, e *ct.Entry, x *ct.Expect) {
	for len(b) > 0 {
		h, payload, rest, err := splitMessage(b)
		if err != nil {
			l.decodeError(err)
			return
		}
		b = rest
		switch h.subsys() {
		case subsysCT:
			if l.opts.OnEntry == nil {
				continue
			}
			if err := DecodeEntry(payload, e); err != nil {
				l.decodeError(err)
				continue
			}
			l.events.Add(1)
			kind := kindOf(h)
			var acct Acct
			if kind == EventDestroy {
				acct = DecodeAcct(payload)
			}
			l.opts.OnEntry(kind, e, acct)
		case subsysExp:
			if l.opts.OnExpect == nil {
				continue
			}
			if err := DecodeExpect(payload, x); err != nil {
				l.decodeError(err)
				continue
			}
			l.events.Add(1)
			l.opts.OnExpect(kindOf(h), x)
		}
	}
}

func (l *Listener) decodeError(err error) {
	l.decodeErrors.Add(1)
	if l.opts.OnError != nil {
		l.opts.OnError(err)
	}
}

// Mute leaves (true) or rejoins (false) the groups of new and changed
// entries. While ctsyncd writes the peer's table into the kernel at a
// takeover, the kernel would otherwise build an event for every entry it
// inserts — nearly half the commit's time (ctsyncd/bench) — only for this
// node to read back what it just wrote, overrunning the buffer on the way.
// Destroy events stay: they are rare and cheap. The caller rebuilds its
// view from a dump after unmuting, which covers whatever happened
// meanwhile.
func (l *Listener) Mute(muted bool) error {
	if l.opts.OnEntry == nil {
		return nil
	}
	opt := unix.NETLINK_ADD_MEMBERSHIP
	if muted {
		opt = unix.NETLINK_DROP_MEMBERSHIP
	}
	var serr error
	err := l.s.rc.Control(func(fd uintptr) {
		for _, g := range []int{groupCTNew, groupCTUpdate} {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_NETLINK, opt, g); e != nil && serr == nil {
				serr = fmt.Errorf("ctnetlink socket: %s group %d: %w", map[bool]string{true: "leave", false: "join"}[muted], g, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}
