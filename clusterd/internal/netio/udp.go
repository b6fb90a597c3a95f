package netio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// tosNetworkControl is DSCP CS6, the class of routing and keepalive
// traffic, so that queues on a busy link drop heartbeats last.
const tosNetworkControl = 0xc0

// maxDatagram bounds a read; a heartbeat is under 500 octets, and anything
// longer fails its decoding whether cut here or not.
const maxDatagram = 2048

// UDPConn is the real Conn: one UDP socket for every cluster interface.
type UDPConn struct {
	cfg Config
	pc  *ipv4.PacketConn
	// nl reads links and addresses in the namespace Open ran in, whatever
	// thread later calls Refresh.
	nl *netlink.Handle

	mu      sync.Mutex
	closed  bool
	links   []*link // configuration order
	byIndex map[int]*link

	buf []byte // Receive's, used by one caller at a time
}

// link is what the conn knows of one cluster interface.
type link struct {
	name   string
	status LinkStatus
	// joined is the index the group was joined on, 0 when not joined.
	joined int
}

var _ Conn = (*UDPConn)(nil)

// Open opens the heartbeat socket in the calling thread's network
// namespace, joins the group on every cluster interface it can and returns
// the conn; interfaces it cannot use yet are reported by Refresh and never
// make Open fail. Open fails when the port cannot be bound (another clusterd
// running?) or a socket option cannot be set.
func Open(cfg Config) (_ *UDPConn, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	c := &UDPConn{cfg: cfg, byIndex: map[int]*link{}, buf: make([]byte, maxDatagram)}
	for _, name := range cfg.Interfaces {
		c.links = append(c.links, &link{name: name})
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.nl, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
		return nil, fmt.Errorf("netio: open netlink to read the cluster interfaces: %w", err)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var sockErr error
		if err := rc.Control(func(fd uintptr) {
			// Without this, the socket would also receive the groups
			// other sockets of the host joined on any interface.
			sockErr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0)
		}); err != nil {
			return err
		}
		return sockErr
	}}
	addr := net.JoinHostPort("0.0.0.0", strconv.Itoa(int(cfg.Port)))
	pc, err := lc.ListenPacket(context.Background(), "udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("netio: listen on UDP %s: %w (is another clusterd running, or is the port taken?)", addr, err)
	}
	c.pc = ipv4.NewPacketConn(pc)
	for _, set := range []struct {
		what string
		do   func() error
	}{
		{"control messages", func() error {
			return c.pc.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true)
		}},
		{"TTL", func() error { return c.pc.SetTTL(TTL) }},
		{"multicast TTL", func() error { return c.pc.SetMulticastTTL(TTL) }},
		{"multicast loopback", func() error { return c.pc.SetMulticastLoopback(false) }},
		{"TOS", func() error { return c.pc.SetTOS(tosNetworkControl) }},
	} {
		if err := set.do(); err != nil {
			return nil, fmt.Errorf("netio: set %s on the heartbeat socket: %w", set.what, err)
		}
	}
	c.Refresh()
	return c, nil
}

// Refresh re-reads every cluster interface; see Conn.
func (c *UDPConn) Refresh() []LinkStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]LinkStatus, len(c.links))
	clear(c.byIndex)
	for i, l := range c.links {
		if c.closed {
			out[i] = LinkStatus{Name: l.name, Err: unusable(l.name, "the heartbeat socket is closed")}
			continue
		}
		c.refresh(l)
		if l.status.Index != 0 {
			c.byIndex[l.status.Index] = l
		}
		out[i] = l.status
		out[i].Peers = slices.Clone(l.status.Peers)
	}
	return out
}

// refresh brings one link's state and group membership up to date; the
// first problem found becomes its Err.
func (c *UDPConn) refresh(l *link) {
	st := LinkStatus{Name: l.name}
	defer func() { l.status = st }()
	nlLink, err := c.nl.LinkByName(l.name)
	if err != nil {
		c.leave(l)
		if _, missing := errors.AsType[netlink.LinkNotFoundError](err); missing {
			st.Err = unusable(l.name, "does not exist")
		} else {
			st.Err = unusable(l.name, "read it: %v", err)
		}
		return
	}
	attrs := nlLink.Attrs()
	st.Exists, st.Index = true, attrs.Index
	st.Up = attrs.Flags&net.FlagUp != 0
	st.Carrier = attrs.RawFlags&unix.IFF_LOWER_UP != 0

	var errs []error
	if !c.cfg.Unicast() && l.joined != st.Index {
		// Gone and back with a new index, or never joined: the old
		// membership (if any) is dead weight, the new one is needed.
		c.leave(l)
		ifi := &net.Interface{Index: st.Index, Name: l.name}
		if err := c.pc.JoinGroup(ifi, &net.UDPAddr{IP: c.cfg.Group.AsSlice()}); err != nil {
			errs = append(errs, unusable(l.name, "join %s: %v", c.cfg.Group, err))
		} else {
			l.joined = st.Index
		}
	}
	st.Joined = l.joined != 0

	addrs, err := c.nl.AddrList(nlLink, netlink.FAMILY_V4)
	if err != nil {
		errs = append(errs, unusable(l.name, "read its addresses: %v", err))
	}
	var subnets []netip.Prefix
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		subnets = append(subnets, netip.PrefixFrom(ip, ones).Masked())
		// The kernel lists a subnet's primary address before its
		// secondaries (the cluster IP aliases) and older primaries first.
		if !st.Source.IsValid() && a.Flags&unix.IFA_F_SECONDARY == 0 {
			st.Source = ip
		}
	}
	for _, p := range c.cfg.Peers {
		if slices.ContainsFunc(subnets, func(s netip.Prefix) bool { return s.Contains(p) }) {
			st.Peers = append(st.Peers, p)
		}
	}

	switch {
	case !st.Up:
		st.Err = unusable(l.name, "administratively down")
	case !st.Carrier:
		st.Err = unusable(l.name, "no carrier")
	case len(errs) > 0:
		st.Err = errors.Join(errs...)
	case !st.Source.IsValid():
		st.Err = unusable(l.name, "no IPv4 address to send from (give it an address of its own, CL-B18)")
	case c.cfg.Unicast() && len(st.Peers) == 0:
		st.Err = unusable(l.name, "no peer address in its subnets %v", subnets)
	}
}

// leave drops l's group membership, if any. A failure means the membership
// is gone already (the kernel drops it with the device).
func (c *UDPConn) leave(l *link) {
	if l.joined == 0 {
		return
	}
	ifi := &net.Interface{Index: l.joined, Name: l.name}
	_ = c.pc.LeaveGroup(ifi, &net.UDPAddr{IP: c.cfg.Group.AsSlice()})
	l.joined = 0
}

// Send sends payload on ifname; see Conn.
func (c *UDPConn) Send(ifname string, payload []byte) error {
	c.mu.Lock()
	i := slices.IndexFunc(c.links, func(l *link) bool { return l.name == ifname })
	var st LinkStatus
	if i >= 0 {
		st = c.links[i].status
	}
	c.mu.Unlock()
	switch {
	case i < 0:
		return fmt.Errorf("netio: send heartbeat on %s: %w", ifname, ErrUnknownInterface)
	case st.Err != nil:
		return fmt.Errorf("netio: send heartbeat: %w", st.Err)
	}
	cm := &ipv4.ControlMessage{IfIndex: st.Index, Src: st.Source.AsSlice()}
	dsts := []netip.Addr{c.cfg.Group}
	if c.cfg.Unicast() {
		dsts = st.Peers
	}
	var errs []error
	for _, dst := range dsts {
		to := &net.UDPAddr{IP: dst.AsSlice(), Port: int(c.cfg.Port)}
		if _, err := c.pc.WriteTo(payload, cm, to); err != nil {
			errs = append(errs, fmt.Errorf("netio: send heartbeat to %s on %s from %s: %w", to, ifname, st.Source, err))
		}
	}
	return errors.Join(errs...)
}

// Receive returns the next datagram that arrived on a cluster interface;
// see Conn. It is meant for one goroutine.
func (c *UDPConn) Receive() (Received, error) {
	for {
		n, cm, from, err := c.pc.ReadFrom(c.buf)
		if err != nil {
			return Received{}, fmt.Errorf("netio: receive heartbeat: %w", err)
		}
		ua, ok := from.(*net.UDPAddr)
		if cm == nil || !ok {
			continue // without its arrival interface it cannot be placed
		}
		c.mu.Lock()
		l := c.byIndex[cm.IfIndex]
		c.mu.Unlock()
		if l == nil {
			continue // not a cluster interface
		}
		src, _ := netip.AddrFromSlice(ua.IP.To4())
		dst, _ := netip.AddrFromSlice(cm.Dst.To4())
		return Received{
			Payload:   append([]byte(nil), c.buf[:n]...),
			Src:       netip.AddrPortFrom(src, uint16(ua.Port)),
			Dst:       dst,
			Interface: l.name,
			IfIndex:   cm.IfIndex,
			TTL:       cm.TTL,
		}, nil
	}
}

// Close closes the socket, which drops every membership, and unblocks
// Receive.
func (c *UDPConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	for _, l := range c.links {
		l.status.Err = unusable(l.name, "the heartbeat socket is closed")
	}
	var err error
	if c.pc != nil {
		err = c.pc.Close()
	}
	if c.nl != nil {
		c.nl.Close()
	}
	return err
}
