package engine

import (
	"net/netip"
	"time"

	"github.com/hasuite/hasuite/pkg/bus"
	"github.com/hasuite/hasuite/vrrpd/internal/config"
	"github.com/hasuite/hasuite/vrrpd/internal/fsm"
)

// GroupStatus is everything `show vrrp` and `show vrrp statistics` print
// about one group.
type GroupStatus struct {
	Config config.Group
	State  fsm.State
	// Preparing: MASTER with the takeover gates still pending.
	Preparing bool
	// Demoted: a bus holder demotes the group or its sync group, so it
	// does not preempt a healthy master.
	Demoted bool
	// MasterIP and MasterPriority come from the last advert received, or
	// are this router's own while it is MASTER.
	MasterIP       netip.Addr
	MasterPriority uint8
	// LastTransition is when the group entered State, and why.
	LastTransition time.Time
	LastReason     string
	Counters       Counters
	// LastTakeover is the most recent way to MASTER; zero if none yet.
	LastTakeover Takeover
}

// Counters are the statistics of the guide's Example 2-16.
type Counters struct {
	AdvertsReceived, AdvertsSent      uint64
	BecameMaster, ReleasedMaster      uint64
	PacketLengthErrors                uint64
	TTLErrors                         uint64
	InvalidTypeErrors                 uint64
	IntervalErrors                    uint64
	AddressListErrors                 uint64
	AuthInvalidType, AuthTypeMismatch uint64
	AuthFailures                      uint64
	Priority0Sent, Priority0Received  uint64
	// SendErrors are adverts the kernel refused (not in Example 2-16).
	SendErrors uint64
}

// Takeover records the phases of one way to MASTER: claiming the role,
// settling the gates, adding the virtual addresses.
type Takeover struct {
	Claimed time.Time
	// GatesDone is when the gates settled; Gates says how.
	GatesDone time.Time
	Gates     bus.GateResult
	// VIPsAdded is when the virtual addresses went on; zero if the group
	// left MASTER before.
	VIPsAdded time.Time
}
