package netio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// AdvertConfig says where adverts are read and sent.
type AdvertConfig struct {
	// IPv6 selects IP version 6 (protocol 112 over IPv6, group ff02::12);
	// otherwise IPv4 (group 224.0.0.18).
	IPv6 bool
	// ReceiveInterface is the interface adverts are read on.
	ReceiveInterface string
	// SendInterface is the interface adverts leave through: the macvlan in
	// RFC 3768 mode (VR-B03). Empty means ReceiveInterface.
	SendInterface string
	// Source, if valid, is the source address of sent adverts (the
	// hello-source; for IPv6 a link-local address of SendInterface). If
	// invalid, the kernel chooses. It must be the address the caller used
	// for the checksum's pseudo-header.
	Source netip.Addr
	// Unicast skips joining the multicast group: adverts go to unicast
	// peers and come from them.
	Unicast bool
}

// maxAdvertLen bounds a received message: 255 IPv6 addresses and the header
// take 4088 octets; anything longer is not VRRP and is truncated.
const maxAdvertLen = 4096

// ListenAdverts opens the sockets for cfg: a raw socket for IP protocol 112
// reading the receive interface, having joined the VRRP group there unless
// cfg.Unicast, and, when the send interface differs, a second one bound to
// the send interface that never receives. Both send with TTL (hop limit) 255
// and without multicast loopback.
//
// When the send interface differs (the vMAC macvlan of RFC 3768 mode), the
// receive socket also reads it: a peer's adverts leave its macvlan with the
// virtual MAC as source, and the kernel's macvlan driver hands a multicast
// frame whose source is the MAC of a local private macvlan to that macvlan
// only, as if it had been sent from it. Every router of the group has such
// a macvlan, so the peers' adverts arrive there and never on the parent.
func ListenAdverts(cfg AdvertConfig) (AdvertConn, error) {
	if cfg.ReceiveInterface == "" {
		return nil, errors.New("netio: no receive interface: name the interface adverts arrive on")
	}
	if cfg.SendInterface == "" {
		cfg.SendInterface = cfg.ReceiveInterface
	}
	if cfg.Source.IsValid() && cfg.Source.Is6() != cfg.IPv6 {
		return nil, fmt.Errorf("netio: source %s is not of the advert family: give an address of the same family or set IPv6 accordingly", cfg.Source)
	}
	if cfg.IPv6 {
		return listenIPv6(cfg)
	}
	return listenIPv4(cfg)
}

// interfaceByName looks ifname up in the calling thread's namespace.
func interfaceByName(ifname string) (*net.Interface, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("netio: interface %q: %w (check that it exists in this namespace)", ifname, err)
	}
	return ifi, nil
}

// listenRaw opens a raw socket for protocol 112 bound to ifi, so that it
// neither reads adverts of other interfaces nor sends through them.
func listenRaw(network string, ifi *net.Interface) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var sockErr error
		if err := c.Control(func(fd uintptr) {
			sockErr = unix.BindToDevice(int(fd), ifi.Name)
		}); err != nil {
			return err
		}
		return sockErr
	}}
	conn, err := lc.ListenPacket(context.Background(), network, "")
	if err != nil {
		return nil, fmt.Errorf("netio: open %s socket on %s: %w (needs CAP_NET_RAW)", network, ifi.Name, err)
	}
	return conn, nil
}

// receiver is what a receive socket reads: one interface, or the parent and
// its vMAC macvlan.
type receiver struct {
	ifis []*net.Interface
}

func receiverFor(cfg AdvertConfig) (receiver, error) {
	var r receiver
	names := []string{cfg.ReceiveInterface}
	if cfg.SendInterface != cfg.ReceiveInterface {
		names = append(names, cfg.SendInterface)
	}
	for _, name := range names {
		ifi, err := interfaceByName(name)
		if err != nil {
			return receiver{}, err
		}
		r.ifis = append(r.ifis, ifi)
	}
	return r, nil
}

// open opens the receive socket: bound to the one interface, or, for two,
// unbound with a filter that admits only theirs (a socket binds to at most
// one device).
func (r receiver) open(network string) (net.PacketConn, error) {
	if len(r.ifis) == 1 {
		return listenRaw(network, r.ifis[0])
	}
	conn, err := net.ListenPacket(network, "")
	if err != nil {
		return nil, fmt.Errorf("netio: open %s socket for %s: %w (needs CAP_NET_RAW)", network, r, err)
	}
	return conn, nil
}

// filter admits packets that arrived on r's interfaces, for the unbound
// socket of two; nil for one.
func (r receiver) filter() []bpf.RawInstruction {
	if len(r.ifis) == 1 {
		return nil
	}
	insns := []bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtInterfaceIndex}}
	for i, ifi := range r.ifis {
		// Jump to the accept after the last comparison on a match.
		insns = append(insns, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(ifi.Index), SkipTrue: uint8(len(r.ifis) - i)})
	}
	insns = append(insns, bpf.RetConstant{Val: 0}, bpf.RetConstant{Val: 0xffff})
	return mustAssemble(insns...)
}

// admits reports whether a packet that arrived on ifIndex is r's: the
// filter is set after the socket opened, so the first packets may be any.
func (r receiver) admits(ifIndex int) bool {
	if len(r.ifis) == 1 {
		return true
	}
	for _, ifi := range r.ifis {
		if ifi.Index == ifIndex {
			return true
		}
	}
	return false
}

func (r receiver) String() string {
	names := make([]string, len(r.ifis))
	for i, ifi := range r.ifis {
		names[i] = ifi.Name
	}
	return strings.Join(names, " and ")
}

// dropAll is a socket filter accepting no packet, for send-only sockets
// whose receive queue would otherwise fill up unread.
var dropAll = mustAssemble(bpf.RetConstant{Val: 0})

func mustAssemble(insns ...bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(insns)
	if err != nil {
		panic(err)
	}
	return raw
}

// closePair closes a receive socket and a send socket, which may be the
// same one or not yet open.
func closePair[C interface {
	comparable
	Close() error
}](recv, send C) error {
	var zero C
	var errs []error
	if recv != zero {
		errs = append(errs, recv.Close())
	}
	if send != zero && send != recv {
		errs = append(errs, send.Close())
	}
	return errors.Join(errs...)
}

// ipv4Conn is the IPv4 AdvertConn.
type ipv4Conn struct {
	recv, send *ipv4.PacketConn
	from       receiver
	sendIf     *net.Interface
	source     netip.Addr
	buf        []byte
}

func listenIPv4(cfg AdvertConfig) (_ AdvertConn, err error) {
	c := &ipv4Conn{source: cfg.Source, buf: make([]byte, maxAdvertLen)}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.from, err = receiverFor(cfg); err != nil {
		return nil, err
	}
	pc, err := c.from.open("ip4:112")
	if err != nil {
		return nil, err
	}
	c.recv = ipv4.NewPacketConn(pc)
	if filter := c.from.filter(); filter != nil {
		if err := c.recv.SetBPF(filter); err != nil {
			return nil, fmt.Errorf("netio: restrict the advert socket to %s: %w", c.from, err)
		}
	}
	if err := c.recv.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true); err != nil {
		return nil, fmt.Errorf("netio: ask for IPv4 control messages: %w", err)
	}
	if !cfg.Unicast {
		for _, ifi := range c.from.ifis {
			if err := c.recv.JoinGroup(ifi, &net.IPAddr{IP: GroupIPv4.AsSlice()}); err != nil {
				return nil, fmt.Errorf("netio: join %s on %s: %w", GroupIPv4, ifi.Name, err)
			}
		}
	}
	c.send, c.sendIf = c.recv, c.from.ifis[0]
	if len(c.from.ifis) > 1 {
		c.sendIf = c.from.ifis[1]
		pc, err := listenRaw("ip4:112", c.sendIf)
		if err != nil {
			return nil, err
		}
		c.send = ipv4.NewPacketConn(pc)
		if err := c.send.SetBPF(dropAll); err != nil {
			return nil, fmt.Errorf("netio: make the send socket on %s send-only: %w", c.sendIf.Name, err)
		}
	}
	if err := setUpIPv4Sender(c.send, c.sendIf); err != nil {
		return nil, err
	}
	return c, nil
}

func setUpIPv4Sender(p *ipv4.PacketConn, ifi *net.Interface) error {
	for _, set := range []struct {
		what string
		do   func() error
	}{
		{"TTL", func() error { return p.SetTTL(requiredHopLimit) }},
		{"multicast TTL", func() error { return p.SetMulticastTTL(requiredHopLimit) }},
		{"multicast loopback", func() error { return p.SetMulticastLoopback(false) }},
		{"multicast interface", func() error { return p.SetMulticastInterface(ifi) }},
	} {
		if err := set.do(); err != nil {
			return fmt.Errorf("netio: set IPv4 %s on %s: %w", set.what, ifi.Name, err)
		}
	}
	return nil
}

func (c *ipv4Conn) Send(payload []byte, dst netip.Addr) error {
	if !dst.Is4() {
		return fmt.Errorf("netio: send advert to %s: not an IPv4 address", dst)
	}
	var cm *ipv4.ControlMessage
	if c.source.IsValid() {
		cm = &ipv4.ControlMessage{Src: c.source.AsSlice()}
	}
	if _, err := c.send.WriteTo(payload, cm, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return fmt.Errorf("netio: send advert to %s on %s: %w", dst, c.sendIf.Name, err)
	}
	return nil
}

func (c *ipv4Conn) Receive() (Received, error) {
	for {
		n, cm, _, err := c.recv.ReadFrom(c.buf)
		if err != nil {
			return Received{}, fmt.Errorf("netio: receive IPv4 advert: %w", err)
		}
		if cm == nil {
			continue // without its TTL an advert cannot be checked
		}
		if !c.from.admits(cm.IfIndex) {
			continue
		}
		src, _ := netip.AddrFromSlice(cm.Src.To4())
		dst, _ := netip.AddrFromSlice(cm.Dst.To4())
		return Received{
			Payload:  append([]byte(nil), c.buf[:n]...),
			Src:      src,
			Dst:      dst,
			HopLimit: cm.TTL,
			IfIndex:  cm.IfIndex,
		}, nil
	}
}

func (c *ipv4Conn) Close() error { return closePair(c.recv, c.send) }

// ipv6Conn is the IPv6 AdvertConn.
type ipv6Conn struct {
	recv, send *ipv6.PacketConn
	from       receiver
	sendIf     *net.Interface
	source     netip.Addr
	buf        []byte
}

func listenIPv6(cfg AdvertConfig) (_ AdvertConn, err error) {
	c := &ipv6Conn{source: cfg.Source, buf: make([]byte, maxAdvertLen)}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.from, err = receiverFor(cfg); err != nil {
		return nil, err
	}
	pc, err := c.from.open("ip6:112")
	if err != nil {
		return nil, err
	}
	c.recv = ipv6.NewPacketConn(pc)
	if filter := c.from.filter(); filter != nil {
		if err := c.recv.SetBPF(filter); err != nil {
			return nil, fmt.Errorf("netio: restrict the advert socket to %s: %w", c.from, err)
		}
	}
	if err := c.recv.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true); err != nil {
		return nil, fmt.Errorf("netio: ask for IPv6 control messages: %w", err)
	}
	if !cfg.Unicast {
		for _, ifi := range c.from.ifis {
			if err := c.recv.JoinGroup(ifi, &net.IPAddr{IP: GroupIPv6.AsSlice()}); err != nil {
				return nil, fmt.Errorf("netio: join %s on %s: %w", GroupIPv6, ifi.Name, err)
			}
		}
	}
	c.send, c.sendIf = c.recv, c.from.ifis[0]
	if len(c.from.ifis) > 1 {
		c.sendIf = c.from.ifis[1]
		pc, err := listenRaw("ip6:112", c.sendIf)
		if err != nil {
			return nil, err
		}
		c.send = ipv6.NewPacketConn(pc)
		if err := c.send.SetBPF(dropAll); err != nil {
			return nil, fmt.Errorf("netio: make the send socket on %s send-only: %w", c.sendIf.Name, err)
		}
	}
	if err := setUpIPv6Sender(c.send, c.sendIf); err != nil {
		return nil, err
	}
	return c, nil
}

func setUpIPv6Sender(p *ipv6.PacketConn, ifi *net.Interface) error {
	for _, set := range []struct {
		what string
		do   func() error
	}{
		{"hop limit", func() error { return p.SetHopLimit(requiredHopLimit) }},
		{"multicast hop limit", func() error { return p.SetMulticastHopLimit(requiredHopLimit) }},
		{"multicast loopback", func() error { return p.SetMulticastLoopback(false) }},
		{"multicast interface", func() error { return p.SetMulticastInterface(ifi) }},
	} {
		if err := set.do(); err != nil {
			return fmt.Errorf("netio: set IPv6 %s on %s: %w", set.what, ifi.Name, err)
		}
	}
	return nil
}

func (c *ipv6Conn) Send(payload []byte, dst netip.Addr) error {
	if !dst.Is6() || dst.Is4In6() {
		return fmt.Errorf("netio: send advert to %s: not an IPv6 address", dst)
	}
	cm := &ipv6.ControlMessage{IfIndex: c.sendIf.Index}
	if c.source.IsValid() {
		cm.Src = c.source.AsSlice()
	}
	to := &net.IPAddr{IP: dst.AsSlice()}
	if dst.IsLinkLocalMulticast() || dst.IsLinkLocalUnicast() {
		// By index, not name: a name is looked up in the namespace of
		// the calling thread, which need not be the socket's.
		to.Zone = strconv.Itoa(c.sendIf.Index)
	}
	if _, err := c.send.WriteTo(payload, cm, to); err != nil {
		return fmt.Errorf("netio: send advert to %s on %s: %w", dst, c.sendIf.Name, err)
	}
	return nil
}

func (c *ipv6Conn) Receive() (Received, error) {
	for {
		n, cm, from, err := c.recv.ReadFrom(c.buf)
		if err != nil {
			return Received{}, fmt.Errorf("netio: receive IPv6 advert: %w", err)
		}
		ipAddr, ok := from.(*net.IPAddr)
		if cm == nil || !ok {
			continue // without its hop limit an advert cannot be checked
		}
		if !c.from.admits(cm.IfIndex) {
			continue
		}
		src, _ := netip.AddrFromSlice(ipAddr.IP.To16())
		dst, _ := netip.AddrFromSlice(cm.Dst.To16())
		return Received{
			Payload:  append([]byte(nil), c.buf[:n]...),
			Src:      src,
			Dst:      dst,
			HopLimit: cm.HopLimit,
			IfIndex:  cm.IfIndex,
		}, nil
	}
}

func (c *ipv6Conn) Close() error { return closePair(c.recv, c.send) }
