package engine

import (
	"context"
	"iter"
	"net/netip"

	"github.com/hasuite/hasuite/ctsyncd/internal/cache"
	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/ctnl"
	"github.com/hasuite/hasuite/pkg/bus"
)

// The engine's view of the operating system: small interfaces the real
// implementations (factories.go) and the tests' fakes satisfy.

// Kernel is the request side of the conntrack table (*ctnl.Conn).
type Kernel interface {
	Dump(ctx context.Context, fn func(*ct.Entry) error) error
	DumpExpect(ctx context.Context, fn func(*ct.Expect) error) error
	// Commit creates the entries, or updates those that exist (CS-B11),
	// in batches.
	Commit(ctx context.Context, entries iter.Seq[*ct.Entry]) (ctnl.Result, error)
	CommitExpect(ctx context.Context, xs iter.Seq[*ct.Expect]) (ctnl.Result, error)
	SetTimeout(ctx context.Context, keys iter.Seq[ct.Key], seconds uint32) (ctnl.Result, error)
	// Get reads the entries of keys; fn sees those the kernel has.
	Get(ctx context.Context, keys iter.Seq[ct.Key], fn func(*ct.Entry)) (ctnl.Result, error)
	Close() error
}

// Events is the kernel's event stream (*ctnl.Listener); it hands every
// event to the EventSink it was opened with.
type Events interface {
	Run(ctx context.Context) error
	// Mute stops (true) and restarts (false) the events of new and
	// changed entries, for the time of a commit.
	Mute(muted bool) error
	Close() error
}

// EventSink takes kernel events on the listener's goroutine; acct is a
// destroyed connection's final traffic (CS-O03 "traffic processed").
type EventSink interface {
	Entry(kind cache.EventKind, e *ct.Entry, acct ctnl.Acct)
	Expect(kind cache.EventKind, x *ct.Expect)
	// Overrun: the kernel dropped events (ENOBUFS, CS-B08).
	Overrun()
}

// SyncSocket is the sync socket. Its reader runs on its own goroutine and
// hands each datagram, with its source, to the receive function it was
// opened with.
type SyncSocket interface {
	Send(b []byte) error
	Close() error
}

// Gate is the takeover gate and demotion on the producer's group
// (*bus.Holder).
type Gate interface {
	SetDemoted(demoted bool, reason string)
	Run(ctx context.Context) error
}

// Factories open the operating system's side for a configuration; nil
// fields of Options take the real ones.
type Factories struct {
	OpenKernel  func(cfg *config.Config) (Kernel, error)
	OpenEvents  func(cfg *config.Config, sink EventSink) (Events, error)
	OpenChannel func(cfg *config.Config, receive func(b []byte, from netip.AddrPort)) (SyncSocket, error)
	// Follow watches the producer's group (bus.WatchFailover) until ctx
	// ends.
	Follow func(ctx context.Context, cfg *config.Config) <-chan bus.Update
	// NewGate registers the takeover gate on the producer's group.
	NewGate func(cfg *config.Config, prepare bus.PrepareFunc) Gate
	// LocalAddrs are the node's own addresses (the filter's default,
	// CS-B04).
	LocalAddrs func() []netip.Addr
	// EnableEvents makes the kernel give every new connection its events
	// (net.netfilter.nf_conntrack_events=1) and returns the setting it
	// found.
	EnableEvents func() (was string, err error)
}
