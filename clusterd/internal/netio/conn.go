package netio

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Defaults of CL-C11: heartbeat's multicast group and UDP port.
var DefaultGroup = netip.MustParseAddr("239.251.252.253")

const DefaultPort = 694

// TTL is the TTL of every heartbeat: a heartbeat never crosses a router
// (CL-B04), so unicast peers must be on a cluster interface's subnet.
const TTL = 1

// Config says where heartbeats go.
type Config struct {
	// Interfaces are the cluster interfaces (CL-C09), at least one.
	Interfaces []string
	// Group is the multicast group (CL-C11); the zero Addr means
	// DefaultGroup. Unused in unicast mode.
	Group netip.Addr
	// Port is the UDP port, sent to and listened on; 0 means DefaultPort.
	Port uint16
	// Peers, if any, switch to unicast mode (CL-Q12): each heartbeat sent
	// on an interface goes to every peer address inside one of that
	// interface's IPv4 subnets, and no group is joined.
	Peers []netip.Addr
}

// Unicast reports whether c is in unicast mode.
func (c Config) Unicast() bool { return len(c.Peers) > 0 }

// withDefaults fills in the group and port and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if len(c.Interfaces) == 0 {
		return c, errors.New("netio: no cluster interface: configure at least one `cluster interface`")
	}
	for i, name := range c.Interfaces {
		if name == "" {
			return c, fmt.Errorf("netio: cluster interface %d has an empty name", i+1)
		}
		if slices.Contains(c.Interfaces[:i], name) {
			return c, fmt.Errorf("netio: cluster interface %s listed twice", name)
		}
	}
	if !c.Group.IsValid() {
		c.Group = DefaultGroup
	}
	if !c.Group.Is4() || !c.Group.IsMulticast() {
		return c, fmt.Errorf("netio: group %s is not an IPv4 multicast address (224.0.0.0/4)", c.Group)
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	for _, p := range c.Peers {
		if !p.Is4() || p.IsMulticast() || p.IsUnspecified() {
			return c, fmt.Errorf("netio: peer %s is not an IPv4 unicast address", p)
		}
	}
	c.Interfaces = slices.Clone(c.Interfaces)
	c.Peers = slices.Clone(c.Peers)
	return c, nil
}

// Received is one datagram as it arrived.
type Received struct {
	Payload []byte
	// Src is the sender's address and port, Dst the destination address
	// (the group, or this node's address in unicast mode).
	Src netip.AddrPort
	Dst netip.Addr
	// Interface and IfIndex name the cluster interface it arrived on.
	Interface string
	IfIndex   int
	// TTL as received; 1 from a conforming sender on the link.
	TTL int
}

// LinkStatus is the state of one cluster interface as the last Refresh
// found it.
type LinkStatus struct {
	Name string
	// Index is the interface index, 0 when it does not exist.
	Index int
	// Exists, Up (administratively) and Carrier describe the link.
	Exists, Up, Carrier bool
	// Joined: member of the multicast group there (never in unicast
	// mode).
	Joined bool
	// Source is the interface's primary IPv4 address, heartbeats' source.
	Source netip.Addr
	// Peers are the unicast peers reached through the interface.
	Peers []netip.Addr
	// Err says why heartbeats cannot be sent on it now, nil when they
	// can. It wraps ErrLinkUnusable.
	Err error
}

// Usable reports whether heartbeats can be sent on the interface.
func (s LinkStatus) Usable() bool { return s.Err == nil }

var (
	// ErrUnknownInterface: Send named an interface that is not a cluster
	// interface of the conn.
	ErrUnknownInterface = errors.New("not a cluster interface")
	// ErrLinkUnusable: Send named a cluster interface the last Refresh
	// found missing, down, without carrier, without IPv4 address or not
	// joined to the group.
	ErrLinkUnusable = errors.New("cluster interface unusable")
)

// Conn sends and receives heartbeats on the cluster interfaces.
type Conn interface {
	// Send sends payload on the named cluster interface: to the group, or
	// to each unicast peer of that interface.
	Send(ifname string, payload []byte) error
	// Receive blocks until a datagram arrives on a cluster interface or the
	// conn is closed, when it returns an error wrapping net.ErrClosed.
	Receive() (Received, error)
	// Refresh re-reads the interfaces, (re-)joins the group where needed
	// and returns every cluster interface's state, in configuration order.
	Refresh() []LinkStatus
	// Close releases the socket and unblocks Receive.
	Close() error
}

func unusable(name, format string, args ...any) error {
	return fmt.Errorf("interface %s: %s: %w", name, fmt.Sprintf(format, args...), ErrLinkUnusable)
}
