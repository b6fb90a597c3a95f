package netio

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/hasuite/hasuite/pkg/netlab"
	"github.com/hasuite/hasuite/vrrpd/internal/packet"
)

// waitTimeout bounds every wait for traffic; generous, since the machine
// may be busy.
const waitTimeout = 20 * time.Second

var (
	addrA   = netip.MustParseAddr("10.1.0.1")
	addrB   = netip.MustParseAddr("10.1.0.2")
	llA     = netip.MustParseAddr("fe80::a")
	macA    = "02:00:00:00:00:0a"
	vip4    = netip.MustParseAddr("10.1.0.100")
	vip6    = netip.MustParseAddr("2001:db8:1::100")
	vrid    = uint8(51)
	vrrpMAC = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, vrid}
)

// newPair builds nodes a and b on one bridge.
func newPair(t *testing.T) (a, b *netlab.Node) {
	netlab.RequirePrivileged(t)
	lab := netlab.New(t, netlab.Topology{
		Bridges: []string{"lan"},
		Nodes: []netlab.NodeSpec{
			{Name: "a", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", MAC: macA,
				Addrs: []string{addrA.String() + "/24", "2001:db8:1::1/64", llA.String() + "/64"}}}},
			{Name: "b", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan",
				Addrs: []string{addrB.String() + "/24", "2001:db8:1::2/64"}}}},
		},
	})
	return lab.Node("a"), lab.Node("b")
}

// listenIn opens an AdvertConn in n's namespace, where its sockets stay.
func listenIn(t *testing.T, n *netlab.Node, cfg AdvertConfig) AdvertConn {
	t.Helper()
	var conn AdvertConn
	if err := n.Do(func() (err error) {
		conn, err = ListenAdverts(cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func ifIndexIn(t *testing.T, n *netlab.Node, name string) int {
	t.Helper()
	var index int
	if err := n.Do(func() error {
		ifi, err := net.InterfaceByName(name)
		if ifi != nil {
			index = ifi.Index
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return index
}

// receiveAll feeds what conn receives into a channel until conn closes.
func receiveAll(conn AdvertConn) <-chan Received {
	ch := make(chan Received, 64)
	go func() {
		defer close(ch)
		for {
			r, err := conn.Receive()
			if err != nil {
				return
			}
			ch <- r
		}
	}()
	return ch
}

// waitReceived returns the first advert from ch that match accepts.
func waitReceived(t *testing.T, ch <-chan Received, match func(Received) bool) Received {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		select {
		case r, ok := <-ch:
			if !ok {
				t.Fatal("receiver closed before the advert arrived")
			}
			if match(r) {
				return r
			}
		case <-deadline.C:
			t.Fatalf("no matching advert within %v", waitTimeout)
		}
	}
}

func marshal(t *testing.T, adv packet.Advertisement, src, dst netip.Addr) []byte {
	t.Helper()
	payload, err := packet.Marshal(adv, src, dst, packet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

func advert4(priority uint8) packet.Advertisement {
	return packet.Advertisement{Version: packet.Version3, Type: packet.TypeAdvertisement, VRID: vrid,
		Priority: priority, Addresses: []netip.Addr{vip4}, MaxAdvertInterval: 10}
}

// TestPrivilegedVR_B01AdvertTransport sends adverts from a and checks what
// b's receiver reports: the payload as sent, the addresses, TTL 255 and the
// arrival interface.
func TestPrivilegedVR_B01AdvertTransport(t *testing.T) {
	tests := []struct {
		name       string
		sendCfg    AdvertConfig
		receiveCfg AdvertConfig
		src, dst   netip.Addr
		adv        packet.Advertisement
	}{
		{
			name:       "IPv4 multicast",
			sendCfg:    AdvertConfig{ReceiveInterface: "eth0", Source: addrA},
			receiveCfg: AdvertConfig{ReceiveInterface: "eth0"},
			src:        addrA, dst: GroupIPv4, adv: advert4(200),
		},
		{
			name:       "IPv4 unicast",
			sendCfg:    AdvertConfig{ReceiveInterface: "eth0", Source: addrA, Unicast: true},
			receiveCfg: AdvertConfig{ReceiveInterface: "eth0", Unicast: true},
			src:        addrA, dst: addrB, adv: advert4(200),
		},
		{
			name:       "IPv6 multicast from link-local",
			sendCfg:    AdvertConfig{IPv6: true, ReceiveInterface: "eth0", Source: llA},
			receiveCfg: AdvertConfig{IPv6: true, ReceiveInterface: "eth0"},
			src:        llA, dst: GroupIPv6,
			adv: packet.Advertisement{Version: packet.Version3, Type: packet.TypeAdvertisement, VRID: vrid,
				Priority: 200, Addresses: []netip.Addr{vip6}, MaxAdvertInterval: 10},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newPair(t)
			received := receiveAll(listenIn(t, b, tc.receiveCfg))
			sender := listenIn(t, a, tc.sendCfg)
			payload := marshal(t, tc.adv, tc.src, tc.dst)
			if err := sender.Send(payload, tc.dst); err != nil {
				t.Fatal(err)
			}
			got := waitReceived(t, received, func(Received) bool { return true })
			want := Received{Payload: payload, Src: tc.src, Dst: tc.dst, HopLimit: 255, IfIndex: ifIndexIn(t, b, "eth0")}
			if !bytes.Equal(got.Payload, want.Payload) || got.Src != want.Src || got.Dst != want.Dst ||
				got.HopLimit != want.HopLimit || got.IfIndex != want.IfIndex {
				t.Errorf("received %+v, want %+v", got, want)
			}
			if _, err := packet.Unmarshal(got.Payload, got.Src, got.Dst, packet.Options{}); err != nil {
				t.Errorf("received advert does not decode: %v", err)
			}
		})
	}
}

// TestPrivilegedVR_B21ReportsForeignTTL sends an advert with TTL 64, as one
// forwarded by a router would arrive, and checks that the receiver reports
// it with that TTL for the caller to drop and count.
func TestPrivilegedVR_B21ReportsForeignTTL(t *testing.T) {
	a, b := newPair(t)
	received := receiveAll(listenIn(t, b, AdvertConfig{ReceiveInterface: "eth0"}))
	payload := marshal(t, advert4(200), addrA, GroupIPv4)
	if err := a.Do(func() error {
		conn, err := net.ListenPacket("ip4:112", addrA.String())
		if err != nil {
			return err
		}
		defer conn.Close()
		p := ipv4.NewPacketConn(conn)
		if err := p.SetMulticastTTL(64); err != nil {
			return err
		}
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		if err := p.SetMulticastInterface(ifi); err != nil {
			return err
		}
		_, err = p.WriteTo(payload, nil, &net.IPAddr{IP: GroupIPv4.AsSlice()})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got := waitReceived(t, received, func(Received) bool { return true })
	if got.HopLimit != 64 || packet.CheckHopLimit(got.HopLimit) != packet.DropHopLimit {
		t.Errorf("received TTL %d (drop reason %v), want 64 and a hop-limit drop", got.HopLimit, packet.CheckHopLimit(got.HopLimit))
	}
}

// TestPrivilegedVR_B03SendThroughMacvlan sends through a macvlan holding
// the virtual MAC while receiving on the parent, and checks the advert
// leaves with the virtual MAC as its Ethernet source.
func TestPrivilegedVR_B03SendThroughMacvlan(t *testing.T) {
	a, b := newPair(t)
	parent, err := a.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	macvlan := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: "vrrp51", ParentIndex: parent.Attrs().Index, HardwareAddr: vrrpMAC},
		Mode:      netlink.MACVLAN_MODE_BRIDGE,
	}
	if err := a.Netlink().LinkAdd(macvlan); err != nil {
		t.Fatal(err)
	}
	if err := a.SetLinkUp("vrrp51"); err != nil {
		t.Fatal(err)
	}
	capture, err := b.Capture("eth0", isIPv4VRRP)
	if err != nil {
		t.Fatal(err)
	}
	sender := listenIn(t, a, AdvertConfig{ReceiveInterface: "eth0", SendInterface: "vrrp51", Source: addrA})
	payload := marshal(t, advert4(200), addrA, GroupIPv4)
	if err := sender.Send(payload, GroupIPv4); err != nil {
		t.Fatal(err)
	}
	frame := capture.WaitPacket(t, waitTimeout, isIPv4VRRP).Data
	if src := net.HardwareAddr(frame[6:12]); !bytes.Equal(src, vrrpMAC) {
		t.Errorf("advert left with source MAC %s, want the virtual MAC %s", src, vrrpMAC)
	}
	if src, _ := netip.AddrFromSlice(frame[26:30]); src != addrA {
		t.Errorf("advert left from %s, want the hello-source %s", src, addrA)
	}
}

func isIPv4VRRP(frame []byte) bool {
	return len(frame) >= 34 && binary.BigEndian.Uint16(frame[12:14]) == 0x0800 && frame[23] == packet.Protocol
}

// addPrivateMacvlan gives n the VRRP interface of RFC 3768 mode as the
// kernel adapter makes it: a private macvlan named name with the virtual
// MAC mac on eth0, without a link-local address of its own, up.
func addPrivateMacvlan(t *testing.T, n *netlab.Node, name string, mac net.HardwareAddr) netlink.Link {
	t.Helper()
	macvlan := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: mustLink(t, n, "eth0").Attrs().Index, HardwareAddr: mac},
		Mode:      netlink.MACVLAN_MODE_PRIVATE,
	}
	if err := n.Netlink().LinkAdd(macvlan); err != nil {
		t.Fatal(err)
	}
	l := mustLink(t, n, name)
	if err := n.Netlink().LinkSetIP6AddrGenMode(l, 1); err != nil {
		t.Fatal(err)
	}
	if err := n.SetLinkUp(name); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPrivilegedVR_B03PeersShareTheVirtualMAC: in RFC 3768 mode both
// routers have a private macvlan with the same virtual MAC. The macvlan
// driver hands a multicast frame whose source MAC is a local macvlan's to
// that macvlan, not to the parent, so b must read its macvlan too, and the
// advert must still come from a's primary address (for IPv6 its
// link-local address, which the macvlan gets too), not from a VIP on the
// macvlan.
func TestPrivilegedVR_B03PeersShareTheVirtualMAC(t *testing.T) {
	tests := []struct {
		name     string
		ipv6     bool
		src, dst netip.Addr
		vip      netip.Prefix
		adv      packet.Advertisement
	}{
		{name: "IPv4", src: addrA, dst: GroupIPv4, vip: netip.PrefixFrom(vip4, 32), adv: advert4(200)},
		{name: "IPv6", ipv6: true, src: llA, dst: GroupIPv6, vip: netip.PrefixFrom(vip6, 128),
			adv: packet.Advertisement{Version: packet.Version3, Type: packet.TypeAdvertisement, VRID: vrid,
				Priority: 200, Addresses: []netip.Addr{vip6}, MaxAdvertInterval: 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newPair(t)
			mac := slices.Clone(vrrpMAC)
			if tc.ipv6 {
				mac[4] = 0x02
			}
			var aMacvlan netlink.Link
			for _, n := range []*netlab.Node{a, b} {
				if l := addPrivateMacvlan(t, n, "vrrp51", mac); n == a {
					aMacvlan = l
				}
			}
			for _, p := range []netip.Prefix{tc.vip, netip.PrefixFrom(llA, 64)} {
				addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}, Flags: unix.IFA_F_NODAD}
				if err := a.Netlink().AddrAdd(aMacvlan, addr); err != nil {
					t.Fatal(err)
				}
			}
			cfg := AdvertConfig{IPv6: tc.ipv6, ReceiveInterface: "eth0", SendInterface: "vrrp51"}
			received := receiveAll(listenIn(t, b, cfg))
			cfg.Source = tc.src
			sender := listenIn(t, a, cfg)
			payload := marshal(t, tc.adv, tc.src, tc.dst)
			if err := sender.Send(payload, tc.dst); err != nil {
				t.Fatal(err)
			}
			got := waitReceived(t, received, func(Received) bool { return true })
			if got.Src != tc.src || got.IfIndex != ifIndexIn(t, b, "vrrp51") || !bytes.Equal(got.Payload, payload) {
				t.Errorf("received from %s on interface %d, want from %s on b's vrrp51 (%d), the payload as sent",
					got.Src, got.IfIndex, tc.src, ifIndexIn(t, b, "vrrp51"))
			}
		})
	}
}

func mustLink(t *testing.T, n *netlab.Node, name string) netlink.Link {
	t.Helper()
	l, err := n.Netlink().LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
