package announce

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
)

// Announcer sends the gratuitous ARPs and unsolicited neighbour
// advertisements that move an address to this host (VR-B14, CL-B13).
type Announcer struct {
	conn net.PacketConn
	dst  net.Addr
}

// NewAnnouncer returns an Announcer writing whole Ethernet frames to dst
// through conn. Tests pass a UDP socket on loopback and read the frames back.
func NewAnnouncer(conn net.PacketConn, dst net.Addr) *Announcer {
	return &Announcer{conn: conn, dst: dst}
}

// OpenAnnouncer opens a send-only packet socket on ifname (protocol 0, so
// it is handed no incoming frame). The frames carry their own Ethernet
// header, so their source MAC may be the virtual MAC even on the parent.
func OpenAnnouncer(ifname string) (*Announcer, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("announce: interface %q: %w (check that it exists in this namespace)", ifname, err)
	}
	conn, err := packet.Listen(ifi, packet.Raw, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("announce: open packet socket on %s: %w (needs CAP_NET_RAW)", ifname, err)
	}
	// A raw packet socket takes the destination from the frame's own
	// header; the address only names the interface.
	return NewAnnouncer(conn, &packet.Addr{HardwareAddr: ethernet.Broadcast}), nil
}

// AnnounceIPv4 broadcasts a gratuitous ARP for vip from mac.
func (a *Announcer) AnnounceIPv4(vip netip.Addr, mac net.HardwareAddr) error {
	frame, err := GratuitousARP(vip, mac)
	if err != nil {
		return err
	}
	return a.write(frame, vip)
}

// AnnounceIPv6 sends an unsolicited neighbour advertisement for vip from
// mac and the link-local source to all nodes; router sets the router flag.
func (a *Announcer) AnnounceIPv6(vip, source netip.Addr, mac net.HardwareAddr, router bool) error {
	frame, err := UnsolicitedNA(vip, source, mac, router)
	if err != nil {
		return err
	}
	return a.write(frame, vip)
}

func (a *Announcer) write(frame []byte, vip netip.Addr) error {
	if _, err := a.conn.WriteTo(frame, a.dst); err != nil {
		return fmt.Errorf("announce: announce %s: %w", vip, err)
	}
	return nil
}

// Close closes the socket.
func (a *Announcer) Close() error { return a.conn.Close() }

// GratuitousARP returns the Ethernet frame announcing that vip is at mac: a
// broadcast ARP request whose sender and target addresses are both vip, the
// form of arping -U and keepalived, which every host updates its cache from.
func GratuitousARP(vip netip.Addr, mac net.HardwareAddr) ([]byte, error) {
	if !vip.Is4() {
		return nil, fmt.Errorf("announce: gratuitous ARP for %s: ARP is for IPv4 addresses only", vip)
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("announce: gratuitous ARP for %s: %q is not an Ethernet MAC address", vip, mac)
	}
	request, err := arp.NewPacket(arp.OperationRequest, mac, vip, ethernet.Broadcast, vip)
	if err != nil {
		return nil, fmt.Errorf("announce: gratuitous ARP for %s: %w", vip, err)
	}
	payload, err := request.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("announce: gratuitous ARP for %s: %w", vip, err)
	}
	return (&ethernet.Frame{
		Destination: ethernet.Broadcast,
		Source:      mac,
		EtherType:   ethernet.EtherTypeARP,
		Payload:     payload,
	}).MarshalBinary()
}

// Field values of RFC 4861 §4.4 and RFC 8200.
const (
	ipv6HeaderLen         = 40
	icmpv6Protocol        = 58
	icmpv6NeighborAdvert  = 136
	naFlagRouter          = 0x80
	naFlagOverride        = 0x20
	naMessageLen          = 24
	optTargetLinkLayer    = 2
	optTargetLinkLayerLen = 8
	// naHopLimit is the hop limit receivers require of a neighbour
	// advertisement (RFC 4861 §7.1.2).
	naHopLimit = 255
)

// allNodes is the IPv6 all-nodes group and its Ethernet address (RFC 2464).
var (
	allNodes    = netip.MustParseAddr("ff02::1")
	allNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
)

// UnsolicitedNA returns the Ethernet frame of an unsolicited neighbour
// advertisement (RFC 4861 §7.2.6) telling all nodes that target is at mac:
// override flag set, solicited flag clear, router flag as given, from the
// link-local source with hop limit 255, as receivers require.
func UnsolicitedNA(target, source netip.Addr, mac net.HardwareAddr, router bool) ([]byte, error) {
	if !target.Is6() || target.Is4In6() {
		return nil, fmt.Errorf("announce: neighbour advertisement for %s: not an IPv6 address", target)
	}
	if !source.Is6() || !source.IsLinkLocalUnicast() {
		return nil, fmt.Errorf("announce: neighbour advertisement for %s: source %s must be a link-local address of the interface", target, source)
	}
	if len(mac) != 6 {
		return nil, fmt.Errorf("announce: neighbour advertisement for %s: %q is not an Ethernet MAC address", target, mac)
	}

	icmp := make([]byte, naMessageLen+optTargetLinkLayerLen)
	icmp[0] = icmpv6NeighborAdvert
	icmp[4] = naFlagOverride
	if router {
		icmp[4] |= naFlagRouter
	}
	targetBytes := target.As16()
	copy(icmp[8:24], targetBytes[:])
	icmp[24] = optTargetLinkLayer
	icmp[25] = optTargetLinkLayerLen / 8
	copy(icmp[26:32], mac)
	binary.BigEndian.PutUint16(icmp[2:4], icmpv6Checksum(source, allNodes, icmp))

	ip := make([]byte, ipv6HeaderLen, ipv6HeaderLen+len(icmp))
	ip[0] = 6 << 4
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(icmp)))
	ip[6] = icmpv6Protocol
	ip[7] = naHopLimit
	src, dst := source.As16(), allNodes.As16()
	copy(ip[8:24], src[:])
	copy(ip[24:40], dst[:])

	return (&ethernet.Frame{
		Destination: allNodesMAC,
		Source:      mac,
		EtherType:   ethernet.EtherTypeIPv6,
		Payload:     append(ip, icmp...),
	}).MarshalBinary()
}

// icmpv6Checksum is the checksum of an ICMPv6 message whose checksum field
// is zero, over the pseudo-header of RFC 8200 §8.1.
func icmpv6Checksum(src, dst netip.Addr, msg []byte) uint16 {
	pseudo := make([]byte, 0, 40+len(msg))
	pseudo = append(pseudo, src.AsSlice()...)
	pseudo = append(pseudo, dst.AsSlice()...)
	pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(msg)))
	pseudo = append(pseudo, 0, 0, 0, icmpv6Protocol)
	pseudo = append(pseudo, msg...)
	var sum uint32
	for i := 0; i+1 < len(pseudo); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(pseudo[i:]))
	}
	if len(pseudo)%2 == 1 {
		sum += uint32(pseudo[len(pseudo)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
