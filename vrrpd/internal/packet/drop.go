package packet

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
)

// HopLimit is the TTL (IPv4) or hop limit (IPv6) every advert is sent with,
// so that one from beyond the link cannot pass for a local one.
const HopLimit = 255

// DropReason says why a received advert is discarded. The comment of each
// value names the counter of the guide's Example 2-16 it is counted under
// (VR-B21, VR-B23).
type DropReason uint8

const (
	// DropNone: the advert passed every check.
	DropNone DropReason = iota
	// DropHopLimit: TTL or hop limit not 255. Counter "TTL".
	DropHopLimit
	// DropVersion: a version other than the group's, or version 2 over
	// IPv6. Packet errors, "Invalid type".
	DropVersion
	// DropType: a message type other than advertisement. Packet errors,
	// "Invalid type".
	DropType
	// DropLength: shorter than the header, or a length other than the
	// address count implies. Packet errors, "Length".
	DropLength
	// DropChecksum: bad checksum. Counted under "Length" unless a separate
	// counter is shown.
	DropChecksum
	// DropAuthUnknown: an authentication type that does not exist.
	// Authentication errors, "Invalid type".
	DropAuthUnknown
	// DropAuthTypeMismatch: an authentication type other than the group's.
	// Authentication errors, "Type mismatch".
	DropAuthTypeMismatch
	// DropAuthFailure: wrong password. Authentication errors, "Failure".
	DropAuthFailure
	// DropInterval: a version 2 interval other than the group's. Counter
	// "Advertisement interval".
	DropInterval
	// DropAddressList: addresses differing from the group's while this
	// router owns them (priority 255); otherwise a difference is counted
	// under "Address List" but the advert is processed (VR-B22).
	DropAddressList
	// DropVRID: a VRID other than the group's. Ignored, never counted as
	// an error (VR-B24).
	DropVRID
)

var dropReasonNames = [...]string{
	DropNone:             "none",
	DropHopLimit:         "ttl",
	DropVersion:          "version",
	DropType:             "type",
	DropLength:           "length",
	DropChecksum:         "checksum",
	DropAuthUnknown:      "auth-type-unknown",
	DropAuthTypeMismatch: "auth-type-mismatch",
	DropAuthFailure:      "auth-failure",
	DropInterval:         "advert-interval",
	DropAddressList:      "address-list",
	DropVRID:             "vrid",
}

func (r DropReason) String() string {
	if int(r) < len(dropReasonNames) {
		return dropReasonNames[r]
	}
	return fmt.Sprintf("drop-reason(%d)", uint8(r))
}

// DropError is a received advert failing a check.
type DropError struct {
	Reason DropReason
	Detail string
}

func (e *DropError) Error() string {
	return "drop VRRP advert (" + e.Reason.String() + "): " + e.Detail
}

func drop(reason DropReason, format string, args ...any) *DropError {
	return &DropError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf is the reason carried by a *DropError in err's chain, DropNone if
// there is none.
func ReasonOf(err error) DropReason {
	var de *DropError
	if errors.As(err, &de) {
		return de.Reason
	}
	return DropNone
}

// CheckHopLimit checks the TTL or hop limit a received advert arrived with,
// read from the socket's control message.
func CheckHopLimit(ttl int) DropReason {
	if ttl != HopLimit {
		return DropHopLimit
	}
	return DropNone
}

// Expect is what a group accepts: the part of its configuration that
// received adverts must match.
type Expect struct {
	VRID    uint8
	Version Version
	// AuthType and AuthData (the password for AuthSimple) apply to version
	// 2 only.
	AuthType AuthType
	AuthData [AuthDataLen]byte
	// AdvertInterval is the version 2 interval in seconds. Version 3 has no
	// interval check: a backup adopts the master's (RFC 5798 §6.4.2).
	AdvertInterval uint8
	Addresses      []netip.Addr
	// Owner is set when the local priority is 255.
	Owner bool
}

// Check checks a decoded advert against the group, in the order of RFC 3768
// §7.1. A differing address list is only a drop for the owner; other
// routers process the advert and count the difference, see SameAddresses.
func (e Expect) Check(adv Advertisement) DropReason {
	switch {
	case adv.VRID != e.VRID:
		return DropVRID
	case adv.Version != e.Version:
		return DropVersion
	case adv.AuthType != e.AuthType:
		return DropAuthTypeMismatch
	case adv.AuthType == AuthSimple && subtle.ConstantTimeCompare(adv.AuthData[:], e.AuthData[:]) != 1:
		return DropAuthFailure
	case adv.Version == Version2 && adv.AdvertInterval != e.AdvertInterval:
		return DropInterval
	case e.Owner && !SameAddresses(adv.Addresses, e.Addresses):
		return DropAddressList
	}
	return DropNone
}

// SameAddresses reports whether two address lists hold the same set of
// addresses, whatever their order or repetitions. Zones are ignored: the
// wire carries none.
func SameAddresses(a, b []netip.Addr) bool {
	return containsAll(a, b) && containsAll(b, a)
}

func containsAll(set, elems []netip.Addr) bool {
	members := make(map[netip.Addr]struct{}, len(set))
	for _, addr := range set {
		members[addr.WithZone("")] = struct{}{}
	}
	for _, addr := range elems {
		if _, ok := members[addr.WithZone("")]; !ok {
			return false
		}
	}
	return true
}
