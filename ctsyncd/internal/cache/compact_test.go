package cache

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// The compact form must give back exactly what was stored (CS-B03:
// everything needed to recreate the connection on the peer).
func TestCompactRoundTrip(t *testing.T) {
	var n names
	r := rand.New(rand.NewPCG(1, 2))
	entries := []ct.Entry{
		{}, // invalid addresses stay invalid
		tcp("10.0.0.1", 40000, "192.0.2.7", 80),
		tcp("2001:db8::1", 40000, "2001:db8::2", 443),
		tcp("::ffff:10.0.0.1", 1, "10.0.0.2", 2), // an IPv4-mapped IPv6 address is not IPv4
		{Orig: ct.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: ct.ProtoICMP, ICMPID: 77, ICMPType: 8},
			Reply: ct.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: ct.ProtoICMP, ICMPID: 77},
			Zone:  3, Mark: 0xdeadbeef, Timeout: 30,
			SCTP: ct.SCTPInfo{State: 3, VTagOrig: 1, VTagReply: 2}, Helper: "sip"},
	}
	for i := range 200 {
		entries = append(entries, genEntry(r, i))
	}
	var k entryKind
	for _, e := range entries {
		ck, rec, ok := k.split(e, &n)
		if !ok {
			t.Fatal("split failed")
		}
		if got := k.join(&ck, &rec, &n); got != e {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
		}
		if got := k.key(&ck); got != e.Key() {
			t.Errorf("key: got %+v want %+v", got, e.Key())
		}
		if k.packKey(e.Key()) != ck {
			t.Errorf("packKey differs from split's key")
		}
	}
	x := ct.Expect{
		Master: tcp("10.0.0.1", 40000, "192.0.2.7", 21).Orig,
		Tuple:  ct.Tuple{Src: addr("192.0.2.7"), Dst: addr("10.0.0.1"), Proto: ct.ProtoTCP, DstPort: 50000},
		Mask: ct.Tuple{Src: netip.AddrFrom4([4]byte{255, 255, 255, 255}), Dst: netip.AddrFrom4([4]byte{255, 255, 255, 255}),
			Proto: 0xff, DstPort: 0xffff},
		Timeout: 300, Zone: 1, Flags: 2, Class: 0, Helper: "ftp", NATDir: 1,
		NATTuple: ct.Tuple{Src: addr("203.0.113.1"), Proto: ct.ProtoTCP, SrcPort: 1},
	}
	var xk expectKind
	ck, rec, _ := xk.split(x, &n)
	if got := xk.join(&ck, &rec, &n); got != x {
		t.Errorf("expect round trip:\n got %+v\nwant %+v", got, x)
	}
	if xk.key(&ck) != x.Key() || xk.packKey(x.Key()) != ck {
		t.Errorf("expect key round trip failed")
	}
}

// A peer cannot grow the helper-name table without bound.
func TestNamesBounded(t *testing.T) {
	var n names
	for i := range maxNames {
		if _, ok := n.id(string(rune('a'+i%26)) + string(rune(i))); !ok {
			t.Fatalf("name %d refused", i)
		}
	}
	if _, ok := n.id("one-too-many"); ok {
		t.Fatal("name beyond the bound accepted")
	}
	if id, ok := n.id(""); id != 0 || !ok {
		t.Fatal("empty helper must be id 0")
	}
}
