package wire

import (
	"errors"
	"fmt"
)

// DropReason says why a received datagram was dropped. String gives the
// counter name (kebab case, for `show conntrack-sync statistics`, the
// "Malformed msgs" breakdown of CS-B21, and metrics labels).
type DropReason uint8

const (
	// DropNone: the datagram passed every check.
	DropNone DropReason = iota
	// DropTruncated: the datagram ends before its header, its type's
	// fields, its MAC or one of its records (a record overrunning the
	// datagram, or a record count larger than the records present).
	DropTruncated
	// DropTooLong: longer than MaxDatagram; no sender of this version
	// builds one.
	DropTooLong
	// DropBadMagic: not a ctsyncd datagram: something else on the port.
	DropBadMagic
	// DropBadVersion: a format version this node does not speak.
	DropBadVersion
	// DropUnexpectedMAC: the datagram carries a MAC and this node has no
	// secret: the peer has a secret configured and this node does not.
	DropUnexpectedMAC
	// DropUnauthenticated: this node has a secret and the datagram carries
	// no MAC: the peer has no secret configured, or someone injects.
	DropUnauthenticated
	// DropBadMAC: the MAC does not verify: another secret, or tampering.
	DropBadMAC
	// DropUnknownType: a message type this version does not define.
	DropUnknownType
	// DropBadField: a header or type field with an impossible value
	// (undefined flag bits, non-zero reserved octet, Seq 0, a Nack range
	// upside down, an unknown state or table, an empty bucket set).
	DropBadField
	// DropBadRecord: a record this version cannot apply: unknown kind,
	// family other than 4 or 6, impossible fields (a presence bit with a
	// zero value, TCP state on a UDP entry...), or an Update without any.
	DropBadRecord
	// DropTrailing: octets after the last record (or after the type's
	// fields) and before the MAC.
	DropTrailing

	numDropReasons
)

var dropReasonNames = [...]string{
	DropNone:            "none",
	DropTruncated:       "truncated",
	DropTooLong:         "too-long",
	DropBadMagic:        "bad-magic",
	DropBadVersion:      "bad-version",
	DropUnexpectedMAC:   "unexpected-mac",
	DropUnauthenticated: "unauthenticated",
	DropBadMAC:          "bad-mac",
	DropUnknownType:     "unknown-type",
	DropBadField:        "bad-field",
	DropBadRecord:       "bad-record",
	DropTrailing:        "trailing",
}

// String is the counter name.
func (r DropReason) String() string {
	if int(r) < len(dropReasonNames) {
		return dropReasonNames[r]
	}
	return fmt.Sprintf("drop-reason-%d", uint8(r))
}

// DropReasons lists every reason but DropNone, in counter order.
func DropReasons() []DropReason {
	rs := make([]DropReason, 0, numDropReasons-1)
	for r := DropNone + 1; r < numDropReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// DropError is a received datagram failing a check. Detail says what was
// wrong and, where the fix is on this side, what to do.
type DropError struct {
	Reason DropReason
	Detail string
}

func (e *DropError) Error() string {
	return "drop sync message (" + e.Reason.String() + "): " + e.Detail
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

// DropCounts counts drops by reason; index it with a DropReason.
type DropCounts [numDropReasons]uint64

// Total is the sum over every reason.
func (c DropCounts) Total() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}
