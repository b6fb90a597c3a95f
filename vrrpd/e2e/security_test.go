//go:build e2e

package e2e

import (
	binenc "encoding/binary"
	"fmt"
	"net"
	"testing"

	"golang.org/x/net/ipv4"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// rawAdvert is a VRRPv2 advertisement as anyone on the LAN can put it on
// the wire (RFC 3768 §5.1), right or wrong.
type rawAdvert struct {
	versionType, vrid, priority, authType, interval byte
	addrs                                           []string
	auth                                            string
	// count overrides the address count field when non-zero; badSum
	// spoils the checksum.
	count  byte
	badSum bool
}

func (a rawAdvert) marshal() []byte {
	count := byte(len(a.addrs))
	if a.count != 0 {
		count = a.count
	}
	b := []byte{a.versionType, a.vrid, a.priority, count, a.authType, a.interval, 0, 0}
	for _, s := range a.addrs {
		b = append(b, net.ParseIP(s).To4()...)
	}
	var auth [8]byte
	copy(auth[:], a.auth)
	b = append(b, auth[:]...)
	sum := onesComplementSum(b)
	if a.badSum {
		sum ^= 0x5a5a
	}
	binenc.BigEndian.PutUint16(b[6:8], sum)
	return b
}

// onesComplementSum is the Internet checksum (RFC 1071) VRRPv2 uses over
// the VRRP message alone.
func onesComplementSum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binenc.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// advertSender sends raw IP protocol 112 packets to 224.0.0.18 from a
// node: a socket opened inside its namespace.
type advertSender struct {
	conn *ipv4.PacketConn
}

func newAdvertSender(t *testing.T, node *netlab.Node, ifname string) *advertSender {
	t.Helper()
	link, err := node.Netlink().LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	var c net.PacketConn
	err = node.Do(func() error {
		var err error
		c, err = net.ListenPacket("ip4:112", "0.0.0.0")
		return err
	})
	if err != nil {
		t.Fatalf("%s: raw VRRP socket: %v", node.Name(), err)
	}
	t.Cleanup(func() { c.Close() })
	p := ipv4.NewPacketConn(c)
	if err := p.SetMulticastInterface(&net.Interface{Index: link.Attrs().Index}); err != nil {
		t.Fatal(err)
	}
	return &advertSender{conn: p}
}

// send sends payload with the given TTL (255 for a valid advert).
func (s *advertSender) send(t *testing.T, payload []byte, ttl int) {
	t.Helper()
	if err := s.conn.SetMulticastTTL(ttl); err != nil {
		t.Fatal(err)
	}
	if _, err := s.conn.WriteTo(payload, nil, &net.IPAddr{IP: net.IPv4(224, 0, 0, 18)}); err != nil {
		t.Fatalf("send %d octets to 224.0.0.18: %v", len(payload), err)
	}
}

// TestVR_B21_B23_BadAdvertsAreCountedAndIgnored: R1 (150) and R2 (20) run
// group 99 with a plaintext password; the LAN host sends them adverts of
// priority 254 with a wrong password, no or an unknown authentication
// type, and garbage: short, truncated, bad checksum, wrong version or type,
// TTL 64, wrong interval, another VIP list. Each is counted under its
// counter of Example 2-16 (VR-B21–B23) on both routers, none moves the
// election (R1 stays MASTER, R2 BACKUP, neither ever changes), and both
// daemons keep answering.
func TestVR_B21_B23_BadAdvertsAreCountedAndIgnored(t *testing.T) {
	bin := binary(t)
	t.Parallel()
	lab := newLab(t)
	host := lab.Node("host")
	g := groupSpec{ifname: "eth0", id: 99, interval: "1", authType: "plaintext-password", password: "secret", vips: []string{vipCIDR}}
	g1, g2 := g, g
	g1.priority, g2.priority = 150, 20
	r1 := startRouterConfig(t, bin, lab.Node("r1"), vrrpConfig(g1))
	r2 := startRouterConfig(t, bin, lab.Node("r2"), vrrpConfig(g2))
	r1.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)
	r2.waitGroup(t, "eth0/99", vrrpv1.State_STATE_BACKUP)
	host.WaitPing(t, vip, patience)

	// good is a valid advert of a priority that would take over.
	good := rawAdvert{versionType: 0x21, vrid: 99, priority: 254, authType: 1, interval: 1, addrs: []string{vip}, auth: "secret"}
	with := func(edit func(*rawAdvert)) []byte {
		a := good
		edit(&a)
		return a.marshal()
	}
	type counter = func(*vrrpv1.GroupStatistics) uint64
	cases := []struct {
		name    string
		payload []byte
		ttl     int
		counter counter
	}{
		{"wrong password", with(func(a *rawAdvert) { a.auth = "wrong" }), 255, (*vrrpv1.GroupStatistics).GetAuthFailures},
		{"password cut short", with(func(a *rawAdvert) { a.auth = "secre" }), 255, (*vrrpv1.GroupStatistics).GetAuthFailures},
		{"no authentication", with(func(a *rawAdvert) { a.authType, a.auth = 0, "" }), 255, (*vrrpv1.GroupStatistics).GetAuthTypeMismatch},
		{"AH instead of password", with(func(a *rawAdvert) { a.authType = 2 }), 255, (*vrrpv1.GroupStatistics).GetAuthTypeMismatch},
		{"unknown authentication type", with(func(a *rawAdvert) { a.authType = 9 }), 255, (*vrrpv1.GroupStatistics).GetAuthInvalidType},
		{"one octet", []byte{0x21}, 255, (*vrrpv1.GroupStatistics).GetLengthErrors},
		{"header only", good.marshal()[:8], 255, (*vrrpv1.GroupStatistics).GetLengthErrors},
		{"count beyond the packet", with(func(a *rawAdvert) { a.count = 3 }), 255, (*vrrpv1.GroupStatistics).GetLengthErrors},
		{"bad checksum", with(func(a *rawAdvert) { a.badSum = true }), 255, (*vrrpv1.GroupStatistics).GetLengthErrors},
		{"version 1", with(func(a *rawAdvert) { a.versionType = 0x11 }), 255, (*vrrpv1.GroupStatistics).GetInvalidTypeErrors},
		{"type 2", with(func(a *rawAdvert) { a.versionType = 0x22 }), 255, (*vrrpv1.GroupStatistics).GetInvalidTypeErrors},
		{"TTL 64", good.marshal(), 64, (*vrrpv1.GroupStatistics).GetTtlErrors},
		{"interval 5", with(func(a *rawAdvert) { a.interval = 5 }), 255, (*vrrpv1.GroupStatistics).GetAdvertIntervalErrors},
		// Processed (VR-B22), but priority 1 changes nothing.
		{"other VIP list", with(func(a *rawAdvert) { a.priority, a.addrs = 1, []string{"172.16.0.99"} }), 255, (*vrrpv1.GroupStatistics).GetAddressListErrors},
	}
	const repeat = 3
	sender := newAdvertSender(t, host, "eth0")
	routers := []*router{r1, r2}
	for _, c := range cases {
		before := []uint64{c.counter(r1.mustStatistics(t, "eth0/99")), c.counter(r2.mustStatistics(t, "eth0/99"))}
		for range repeat {
			sender.send(t, c.payload, c.ttl)
		}
		for i, r := range routers {
			netlab.WaitFor(t, patience, func() (bool, string) {
				s, err := r.statistics(t.Context(), "eth0/99")
				if err != nil {
					return false, err.Error()
				}
				got := c.counter(s) - before[i]
				return got == repeat, fmt.Sprintf("%s: %s counted %d times on %s, want %d", c.name, s, got, r.node.Name(), repeat)
			})
		}
	}
	t.Log("adverts for another VRID are ignored, not counted (VR-B24)")
	before := r1.mustStatistics(t, "eth0/99")
	for range repeat {
		sender.send(t, with(func(a *rawAdvert) { a.vrid, a.auth = 98, "wrong" }), 255)
	}
	// Then one counted advert as a marker: once R1 counts it, the VRID 98
	// ones, read before it from the same socket, have been through.
	sender.send(t, with(func(a *rawAdvert) { a.auth = "wrong" }), 255)
	netlab.WaitFor(t, patience, func() (bool, string) {
		s, err := r1.statistics(t.Context(), "eth0/99")
		if err != nil {
			return false, err.Error()
		}
		return s.AuthFailures > before.AuthFailures, fmt.Sprintf("R1 counted %d authentication failures", s.AuthFailures)
	})
	host.WaitPing(t, vip, patience)

	for _, r := range routers {
		if r.proc.Exited() {
			t.Fatalf("vrrpd on %s exited:\n%s", r.node.Name(), r.proc.Output())
		}
	}
	r1.waitGroup(t, "eth0/99", vrrpv1.State_STATE_MASTER)
	r2.waitGroup(t, "eth0/99", vrrpv1.State_STATE_BACKUP)
	s1, s2 := r1.mustStatistics(t, "eth0/99"), r2.mustStatistics(t, "eth0/99")
	if s1.ReleasedMaster != 0 || s1.BecameMaster != 1 || s2.BecameMaster != 0 {
		t.Errorf("the bad adverts moved the election: R1 became master %d times and released it %d times, R2 became master %d times; want 1, 0, 0",
			s1.BecameMaster, s1.ReleasedMaster, s2.BecameMaster)
	}
	errs := func(s *vrrpv1.GroupStatistics) uint64 {
		return s.LengthErrors + s.TtlErrors + s.InvalidTypeErrors + s.AdvertIntervalErrors + s.AddressListErrors +
			s.AuthInvalidType + s.AuthTypeMismatch + s.AuthFailures
	}
	if errs(s1) != errs(before)+1 {
		t.Errorf("adverts for VRID 98 were counted as errors on R1: %v, before %v and the one marker", s1, before)
	}
	if s1.PriorityZeroReceived != 0 || s2.PriorityZeroReceived != 0 {
		t.Errorf("priority-0 adverts counted: R1 %d, R2 %d; none was sent", s1.PriorityZeroReceived, s2.PriorityZeroReceived)
	}
}
