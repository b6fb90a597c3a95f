// Package engine is ctsyncd's loop: kernel conntrack events into the
// internal cache (cache, ctnl), the internal cache to the peer and the
// peer's entries into the external cache (sync, wire), the producer's
// failover state from the bus into commits and resyncs (controller), and a
// takeover gate so that the producer brings its addresses up only once the
// external cache is in the kernel.
//
// This file is the contract between the engine and its one client, the
// gRPC server (ctsyncd/internal/server): the types a status request
// returns and the methods the server calls. Everything a `show` command
// prints comes from Status or Cache.
package engine

import (
	"errors"
	"net/netip"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/cache"
	"github.com/hasuite/hasuite/ctsyncd/internal/config"
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/sync"
	"github.com/hasuite/hasuite/pkg/bus"
)

// Status is the daemon's whole view, taken on the loop at one instant.
type Status struct {
	// Configured is false while no `service conntrack-sync` is applied
	// (CS-C01); the other fields are then zero.
	Configured bool
	Config     *config.Config
	Now        time.Time
	// Mode is ctsyncd's failover state and Since when it was entered
	// (zero before the first transition: `none`, CS-O01); Reason is the
	// producer's reason with the state.
	Mode   Mode
	Since  time.Time
	Reason string
	// Producer is the failover source as last heard on the bus.
	Producer Producer
	// Demoted: this node holds a demotion of the group, because the
	// peer's table has not arrived yet since start (issue 5).
	Demoted     bool
	DemotionWhy string
	// Channel is the sync socket; Problem says why it does not work
	// (interface missing, no address...), empty when it does.
	Channel Channel
	// Session is the sync protocol's state and counters (peer, lag,
	// message tracking, last digest).
	Session sync.Status
	// PeerAddress is where the peer's last valid datagram came from
	// (zero before the first).
	PeerAddress netip.AddrPort
	// Main and Expect are the two tables' caches; Expect is zero without
	// expect-sync.
	Main, Expect Tables
	// Kernel are the event listener's and the kernel writes' counters.
	Kernel KernelCounters
	// LastCommit is the last write of the external cache into the kernel
	// (zero At if none yet).
	LastCommit Commit
	// Resyncs counts internal-cache rebuilds from a kernel dump, by
	// cause; LastResync is the latest.
	Resyncs    map[string]uint64
	LastResync Resync
}

// Producer is the failover source ctsyncd follows (CS-B10).
type Producer struct {
	// Group is the bus group ("sync-group/TESTING", "cluster/TEST").
	Group string
	// Source is the producer daemon ("vrrpd", "clusterd"), empty before
	// the first contact.
	Source string
	State  bus.State
	Reason string
	// Problem is what stops ctsyncd from following it, e.g. "producer
	// has no group TESTING" (CS-C06) or "vrrpd is not running".
	Problem string
}

// Channel is the sync socket.
type Channel struct {
	Interface string
	// Destination is where updates go: the multicast group or the peer,
	// with the port.
	Destination string
	Up          bool
	Problem     string
}

// Tables are one table's internal and external cache counters and sizes.
type Tables struct {
	Internal, External cache.Counters
	InternalLen        int
	ExternalLen        int
}

// KernelCounters are the kernel side's counters.
type KernelCounters struct {
	// Events received by kind, and events the filter dropped.
	Events, Filtered uint64
	// Overruns counts ENOBUFS on the event socket (CS-B08): events were
	// lost and a resync from a dump followed.
	Overruns uint64
	// Bytes and Packets processed: the counters of destroyed
	// connections (CS-O03 "traffic processed"; needs nf_conntrack_acct).
	Bytes, Packets uint64
	// Unsyncable counts kernel entries the sync protocol cannot carry,
	// left out of the internal cache (a bug to report if ever seen).
	Unsyncable uint64
}

// Commit is one write of the external cache into the kernel.
type Commit struct {
	At      time.Time
	Entries int
	Failed  int
	// Expects and ExpectsFailed are the expectations written and
	// refused (expect-sync).
	Expects, ExpectsFailed int
	Duration               time.Duration
	// Errors are the first kernel errors, one line each.
	Errors []string
	// Gate: it ran for a takeover gate (before the producer's addresses
	// came up); otherwise on the PRIMARY transition.
	Gate bool
}

// Resync is one rebuild of the internal cache from a kernel dump.
type Resync struct {
	At       time.Time
	Cause    string // "start", "overrun", "primary", "reset", "restart", "filter"
	Entries  int
	Duration time.Duration
}

// Which selects a cache for Cache and Reset.
type Which uint8

const (
	Internal Which = iota
	External
)

// Snapshot is a copy of a cache's entries, taken on the loop.
type Snapshot struct {
	Main   []ct.Entry
	Expect []ct.Expect
}

// The engine's methods the server calls (all safe from any goroutine; each
// runs on the loop and fails with ErrStopped when the loop is not running):
//
//	Apply(ctx, *config.Config) (changes []string, err error)
//	    applies a validated configuration as reload does (CS-B20); nil
//	    config = no `service conntrack-sync` (CS-C01): stops syncing and
//	    leaves the kernel table as it is.
//	Status(ctx) (Status, error)
//	Cache(ctx, Which, main, expect bool) (Snapshot, error)
//	Reset(ctx, Which) error   // CS-B18 (internal), CS-B19 (external)
//	Restart(ctx) error        // CS-B17: counters zeroed, caches rebuilt, resync both ways
//	Subscribe() (events <-chan Event, cancel func())  // for `monitor`
//	Shutdown(ctx) error       // stop: caches dropped, the kernel table kept

// ErrStopped is returned by requests made when the loop is not running.
var ErrStopped = errors.New("conntrack-sync engine is not running")

// Event is one change for `ctsyncd monitor` subscribers: a mode
// transition, a commit, a resync, the peer coming or going.
type Event struct {
	Time time.Time
	// Kind is "mode", "commit", "resync", "peer".
	Kind    string
	Message string
}
