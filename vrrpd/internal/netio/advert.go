package netio

import (
	"net/netip"
)

// Received is one advert as it arrived.
type Received struct {
	// Payload is the VRRP message, without the IP header.
	Payload []byte
	// Src and Dst are the addresses of the IP header.
	Src, Dst netip.Addr
	// HopLimit is the IPv4 TTL or the IPv6 hop limit; a conforming sender
	// sets 255 and anything else must be dropped by the caller.
	HopLimit int
	// IfIndex is the index of the interface the advert arrived on.
	IfIndex int
}

// AdvertConn sends and receives the VRRP adverts of one interface.
type AdvertConn interface {
	// Send sends payload to dst: the VRRP multicast group or a unicast
	// peer.
	Send(payload []byte, dst netip.Addr) error
	// Receive blocks until an advert arrives or the conn is closed, when
	// it returns an error wrapping net.ErrClosed.
	Receive() (Received, error)
	// Close releases the sockets and unblocks Receive.
	Close() error
}

// The multicast groups of RFC 5798 §5.1.1.2 and §5.1.2.2.
var (
	GroupIPv4 = netip.MustParseAddr("224.0.0.18")
	GroupIPv6 = netip.MustParseAddr("ff02::12")
)

// requiredHopLimit is the TTL or hop limit every advert leaves with, so that
// a receiver can tell it has crossed no router (RFC 5798 §5.1.1.3).
const requiredHopLimit = 255
