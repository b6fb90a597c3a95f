// Package engine is clusterd's loop: heartbeats in and out (netio, wire),
// monitor changes (monitor), the state machine (fsm), the resources
// (resources), takeover gates and transitions on the bus (pkg/bus).
//
// This file is the contract between the engine and its one client, the
// gRPC server (clusterd/internal/server): the types a status request
// returns and the methods the server calls. Everything a `show` command
// prints comes from Status.
package engine

import (
	"errors"
	"time"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/clusterd/internal/fsm"
	"github.com/hasuite/hasuite/clusterd/internal/monitor"
	"github.com/hasuite/hasuite/clusterd/internal/resources"
	"github.com/hasuite/hasuite/clusterd/internal/wire"
)

// Status is the node's whole view, taken on the loop at one instant.
type Status struct {
	// Configured is false while no `cluster` is applied (CL-C01); the
	// other fields are then zero.
	Configured bool
	// NodeName is this node's name (--node-name or the host name), UID
	// its persistent id (spec §5, CUBE).
	NodeName string
	UID      wire.UID
	// Config is the applied configuration.
	Config *config.Config
	// NotMember: NodeName is neither the primary nor the secondary, so
	// the group does not run here (CL-B02); View is then zero.
	NotMember bool
	// View is the state machine's view at Now.
	View fsm.View
	Now  time.Time
	// Monitors are this node's monitor states, in configuration order:
	// each State as the state machine last saw it, the reply time and
	// counts as the pinger has them at Now.
	Monitors []monitor.MonitorStatus
	// Services are the resources' states, in configuration order.
	Services []resources.ServiceState
	// Peer is what the heartbeats tell of the other node.
	Peer Peer
	// Links are this node's cluster interfaces as the heartbeat socket
	// sees them.
	Links []Link
	// Counters are the heartbeat and failover counters (`show cluster
	// statistics`).
	Counters Counters
	// LastFailover is the last time this node acquired or released the
	// resources, and why; zero if never.
	LastFailover    time.Time
	LastFailoverWhy string
}

// Peer is the other node as its heartbeats describe it.
type Peer struct {
	Name string
	UID  wire.UID
	// Address is the source address of its last heartbeat.
	Address string
	// BootID changes when the peer's clusterd restarts.
	BootID string
	// FirstHeard, LastHeard: its first and last heartbeat since this
	// daemon started; zero if never.
	FirstHeard, LastHeard time.Time
	// AliveSince is when it was last declared alive (a heartbeat after
	// being dead or unknown).
	AliveSince time.Time
	// Links is the last heartbeat per interface it arrived on.
	Links map[string]time.Time
	// ConfigMismatch: its config hash differs from ours (CL-B06).
	ConfigMismatch bool
}

// Link is one cluster interface of this node.
type Link struct {
	Interface string
	// Up: the socket sends and receives on it; Problem says why not
	// (missing, down, no carrier, no address, not joined).
	Up      bool
	Problem string
	Address string
}

// Counters are cumulative since the daemon started.
type Counters struct {
	HeartbeatsSent, HeartbeatsReceived uint64
	SendErrors                         uint64
	// Drops are received messages dropped, by reason (wire.DropReason's
	// String is the counter name).
	Drops map[string]uint64
	// Links are the heartbeat counters per cluster interface, by name;
	// an interface a reload removed keeps its entry.
	Links map[string]LinkCounters
	// PeerDeclaredDead counts peer deaths (dead-interval expiries).
	PeerDeclaredDead uint64
	// Acquisitions and Releases count this node's resource starts and
	// stops; StartFailures the failed starts (CL-B14), StopFailures the
	// releases where a service failed to stop (CL-Q15).
	Acquisitions, Releases, StartFailures, StopFailures uint64
	// GateDeadlines counts takeover gate waits ended by the deadline
	// (a holder had not answered), GateFailures those where a holder
	// failed or disconnected; a wait can count in both.
	GateDeadlines, GateFailures uint64
	// ConfigMismatches counts the episodes of the peer's configuration
	// differing from ours (CL-B06): each start of one, not each heartbeat.
	ConfigMismatches uint64
	// SplitBrains counts split-brain episodes resolved (CL-B21).
	SplitBrains uint64
}

// LinkCounters are one cluster interface's heartbeat counters.
type LinkCounters struct {
	// Sent and SendErrors count this node's heartbeats out of it;
	// Received the peer's accepted on it, AuthFailures those dropped for
	// a bad MAC (CL-B05).
	Sent, Received, SendErrors, AuthFailures uint64
	// FirstReceived and LastReceived are the peer's first and last
	// heartbeat on it; zero if never.
	FirstReceived, LastReceived time.Time
	// AliveSince starts the current run of heartbeats on it, none more
	// than dead-interval after the one before.
	AliveSince time.Time
	// Silences counts the gaps longer than dead-interval that ended (a
	// heartbeat came after it); TimesDown adds the one going on.
	Silences uint64
}

// TimesDown is how often heartbeats stopped on the link for longer than
// dead: the silences that ended, and the current one if any.
func (l LinkCounters) TimesDown(now time.Time, dead time.Duration) uint64 {
	n := l.Silences
	if !l.LastReceived.IsZero() && now.Sub(l.LastReceived) > dead {
		n++
	}
	return n
}

// The engine's methods the server calls (all safe from any goroutine; each
// runs on the loop and fails with ErrStopped when the loop is not running):
//
//	Apply(ctx, *config.Config) (changes []string, err error)
//	    applies a validated configuration as reload does (CL-B23); nil
//	    config = no `cluster` (CL-C01): releases everything.
//	Status(ctx) (Status, error)
//	Standby(ctx) error   // manual standby (hb_standby); error says why not
//	Takeover(ctx) error  // manual takeover (hb_takeover)
//	Subscribe() (events <-chan Event, cancel func())  // for `monitor` and `watch`
//	Shutdown(ctx) error  // release resources, send the leaving heartbeat (CL-B24)

// ErrStopped is returned by requests made when the loop is not running.
var ErrStopped = errors.New("cluster engine is not running")

// Event is one state change for `clusterd monitor` subscribers.
type Event struct {
	Time     time.Time
	From, To fsm.State
	Reason   string
}
