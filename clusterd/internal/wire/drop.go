package wire

import (
	"errors"
	"fmt"
)

// DropReason says why a received datagram is not a heartbeat to act on.
// String gives the counter name (snake case, for `show cluster statistics`
// and metrics labels).
type DropReason uint8

const (
	// DropNone: the message passed every check.
	DropNone DropReason = iota
	// DropMalformed: too short or long, a length overrunning the message,
	// a field out of range, a non-zero reserved octet.
	DropMalformed
	// DropNotHeartbeat: the magic is not ours: some other protocol on the
	// port (Linux-HA heartbeat also uses 694).
	DropNotHeartbeat
	// DropVersion: a format version this node does not speak.
	DropVersion
	// DropUnknownGroup: a heartbeat of another cluster group sharing the
	// segment and multicast group. Not an attack; not checked further.
	DropUnknownGroup
	// DropBadMAC: the MAC does not verify: another pre-shared-secret, or
	// tampering (CL-B05).
	DropBadMAC
	// DropUnknownNode: authentic, from a node name that is neither this
	// node nor its peer (CL-B05).
	DropUnknownNode
	// DropDuplicateName: authentic, carrying this node's own name from
	// another UID: two hosts use one node name (spec §5).
	DropDuplicateName
	// DropOwnMessage: this node's own message (name and UID), looped back.
	DropOwnMessage
	// DropReplay: a sequence number already seen, older than the replay
	// window, or of a boot the sender has since left behind (CL-B05).
	DropReplay

	numDropReasons
)

var dropReasonNames = [...]string{
	DropNone:          "none",
	DropMalformed:     "malformed",
	DropNotHeartbeat:  "not_heartbeat",
	DropVersion:       "version",
	DropUnknownGroup:  "unknown_group",
	DropBadMAC:        "bad_mac",
	DropUnknownNode:   "unknown_node",
	DropDuplicateName: "duplicate_name",
	DropOwnMessage:    "own_message",
	DropReplay:        "replay",
}

func (r DropReason) String() string {
	if int(r) < len(dropReasonNames) {
		return dropReasonNames[r]
	}
	return fmt.Sprintf("drop_reason_%d", uint8(r))
}

// DropReasons lists every reason but DropNone, in counter order.
func DropReasons() []DropReason {
	rs := make([]DropReason, 0, numDropReasons-1)
	for r := DropNone + 1; r < numDropReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// DropError is a received datagram failing a check.
type DropError struct {
	Reason DropReason
	Detail string
}

func (e *DropError) Error() string {
	return "drop heartbeat (" + e.Reason.String() + "): " + e.Detail
}

func drop(reason DropReason, format string, args ...any) *DropError {
	return &DropError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf is the reason carried by a *DropError in err's chain, DropNone if
// there is none.
func ReasonOf(err error) DropReason {
	if de, ok := errors.AsType[*DropError](err); ok {
		return de.Reason
	}
	return DropNone
}

// DropCounts counts drops by reason.
type DropCounts [numDropReasons]uint64

// Total is the sum over every reason.
func (c DropCounts) Total() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}
