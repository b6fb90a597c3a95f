package cache

import (
	"net/netip"
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// CS-B04, CS-C07: protocols, ignored prefixes and the node's own
// addresses, matched against the original source or destination.
func TestFilterCSB04(t *testing.T) {
	pfx := func(ss ...string) (out []netip.Prefix) {
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	udp := func(src, dst string) ct.Tuple {
		return ct.Tuple{Src: addr(src), Dst: addr(dst), Proto: ct.ProtoUDP, SrcPort: 1, DstPort: 2}
	}
	tcpT := func(src, dst string) ct.Tuple { return tcp(src, 1, dst, 2).Orig }
	tests := []struct {
		name   string
		filter Filter
		tuple  ct.Tuple
		want   bool
		// reply is the reply tuple when NAT translates the connection;
		// nil = the inverse of tuple.
		reply *ct.Tuple
	}{
		{"empty filter accepts all", Filter{}, udp("10.0.0.1", "10.0.0.2"), true, nil},
		{"accepted protocol", Filter{Protocols: []uint8{ct.ProtoTCP, ct.ProtoUDP}}, udp("10.0.0.1", "10.0.0.2"), true, nil},
		{"other protocol", Filter{Protocols: []uint8{ct.ProtoTCP}}, udp("10.0.0.1", "10.0.0.2"), false, nil},
		{"protocol above 64", Filter{Protocols: []uint8{ct.ProtoSCTP}},
			ct.Tuple{Src: addr("1.1.1.1"), Dst: addr("2.2.2.2"), Proto: ct.ProtoSCTP}, true, nil},
		{"ignored source", Filter{Ignore: pfx("127.0.0.1/32")}, tcpT("127.0.0.1", "10.0.0.2"), false, nil},
		{"ignored destination prefix", Filter{Ignore: pfx("224.0.0.0/24")}, udp("10.0.0.1", "224.0.0.18"), false, nil},
		{"outside the prefix", Filter{Ignore: pfx("224.0.0.0/24")}, udp("10.0.0.1", "224.0.1.18"), true, nil},
		{"unmasked prefix", Filter{Ignore: pfx("10.1.2.3/16")}, udp("10.1.9.9", "8.8.8.8"), false, nil},
		{"ignore everything v4", Filter{Ignore: pfx("0.0.0.0/0")}, udp("10.1.9.9", "8.8.8.8"), false, nil},
		{"v4 prefix does not match v6", Filter{Ignore: pfx("0.0.0.0/0")}, udp("2001:db8::1", "2001:db8::2"), true, nil},
		{"v6 prefix", Filter{Ignore: pfx("2001:db8::/32")}, udp("2001:db9::1", "2001:db8::2"), false, nil},
		{"local address (guide: ignore the router's own)", Filter{Local: []netip.Addr{addr("192.0.2.1")}},
			tcpT("192.0.2.1", "10.0.0.2"), false, nil},
		{"local v6 with zone", Filter{Local: []netip.Addr{addr("fe80::1%eth0")}}, udp("fe80::2", "fe80::1"), false, nil},
		{"local mapped v4", Filter{Local: []netip.Addr{addr("::ffff:192.0.2.1")}}, udp("10.0.0.3", "192.0.2.1"), false, nil},
		{"only the reply matches: kept (original direction only)", Filter{Ignore: pfx("203.0.113.0/24")},
			tcpT("10.0.0.1", "192.0.2.7"), true, nil},
		{"DNAT on a local VIP is a binding through the node: kept (Example 4-9)",
			Filter{Local: []netip.Addr{addr("12.34.56.100")}}, tcpT("198.51.100.9", "12.34.56.100"), true,
			&ct.Tuple{Src: addr("172.16.0.33"), Dst: addr("198.51.100.9"), Proto: ct.ProtoTCP, SrcPort: 2, DstPort: 1}},
		{"SNAT to a local VIP: kept", Filter{Local: []netip.Addr{addr("12.34.56.100")}},
			tcpT("172.16.0.33", "198.51.100.9"), true,
			&ct.Tuple{Src: addr("198.51.100.9"), Dst: addr("12.34.56.100"), Proto: ct.ProtoTCP, SrcPort: 2, DstPort: 40000}},
		{"a connection to the VIP itself, not translated: the node's own", Filter{Local: []netip.Addr{addr("12.34.56.100")}},
			tcpT("198.51.100.9", "12.34.56.100"), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := ct.Tuple{Src: tt.tuple.Dst, Dst: tt.tuple.Src, Proto: tt.tuple.Proto, SrcPort: tt.tuple.DstPort, DstPort: tt.tuple.SrcPort}
			if tt.reply != nil {
				reply = *tt.reply
			}
			if got := compile(tt.filter).accepts(tt.tuple, reply, true); got != tt.want {
				t.Errorf("accepts(%v) = %v, want %v", tt.tuple, got, tt.want)
			}
		})
	}
}

// The filter looks at the original tuple of entries and at the master
// of expectations.
func TestFilterAppliesToOriginal(t *testing.T) {
	c := NewInternal(Filter{Ignore: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}})
	e := tcp("10.0.0.1", 1, "192.0.2.7", 80)
	e.Reply.Dst = addr("203.0.113.1") // SNAT: only the reply has the ignored address
	if _, ok := c.Apply(New, &e); !ok {
		t.Fatal("entry whose reply only matches was filtered")
	}
	x := NewInternalExpect(Filter{Protocols: []uint8{ct.ProtoUDP}})
	exp := ct.Expect{Master: tcp("10.0.0.1", 1, "192.0.2.7", 21).Orig,
		Tuple: ct.Tuple{Src: addr("192.0.2.7"), Dst: addr("10.0.0.1"), Proto: ct.ProtoUDP}}
	if _, ok := x.Apply(New, &exp); ok {
		t.Fatal("expectation of a TCP master accepted by a UDP-only filter")
	}
}
