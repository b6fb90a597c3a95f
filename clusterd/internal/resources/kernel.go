package resources

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// Addr is one IPv4 address on an interface.
type Addr struct {
	Interface string
	Prefix    netip.Prefix
	// Broadcast is the broadcast address; AddAddr computes it from the
	// prefix when invalid.
	Broadcast netip.Addr
	// Label is the alias label (`eth0:0`); the kernel shows the interface
	// name for an address added without one.
	Label string
}

func (a Addr) String() string {
	s := fmt.Sprintf("%s dev %s", a.Prefix, a.Interface)
	if a.Broadcast.IsValid() {
		s += " brd " + a.Broadcast.String()
	}
	if a.Label != "" {
		s += " label " + a.Label
	}
	return s
}

// Kernel is the OS side of cluster IPs.
type Kernel interface {
	// Addrs lists the IPv4 addresses of interface ifname, or of every
	// interface when ifname is empty. A missing interface is ErrNoInterface.
	Addrs(ctx context.Context, ifname string) ([]Addr, error)
	// AddAddr adds a; an address already on the interface is ErrExists.
	AddAddr(ctx context.Context, a Addr) error
	// DelAddr removes a; an address or interface already gone is success.
	DelAddr(ctx context.Context, a Addr) error
	// Announce broadcasts one gratuitous ARP for ip from ifname's MAC.
	Announce(ctx context.Context, ifname string, ip netip.Addr) error
}

// Errors callers and tests branch on.
var (
	ErrNoInterface = errors.New("no such interface")
	ErrExists      = errors.New("address already present")
	// ErrNotOurs: a cluster IP is on an interface, and clusterd did not
	// put it there (CL-B17).
	ErrNotOurs = errors.New("address configured by something other than clusterd")
)

// broadcastOf is the all-ones host address of p, the broadcast address
// `ip addr add ... brd +` computes; /31 and /32 have none.
func broadcastOf(p netip.Prefix) netip.Addr {
	if !p.Addr().Is4() || p.Bits() >= 31 {
		return netip.Addr{}
	}
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
