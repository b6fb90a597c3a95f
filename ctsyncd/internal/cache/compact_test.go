package cache

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"unsafe"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// The compact form must give back exactly what was stored (CS-B03:
// everything needed to recreate the connection on the peer): IPv4 inline,
// IPv6 and SCTP state through the wide values, NAT, helper, mark, zone.
func TestCompactRoundTrip(t *testing.T) {
	var n names
	r := rand.New(rand.NewPCG(1, 2))
	snat := tcp("10.0.0.1", 40000, "192.0.2.7", 80)
	snat.Reply.Dst, snat.Reply.DstPort = addr("203.0.113.1"), 61000
	snat.Status |= ct.StatusSrcNAT | ct.StatusSrcNATDone
	dnat6 := tcp("2001:db8::1", 40000, "2001:db8::80", 443)
	dnat6.Reply.Src, dnat6.Reply.SrcPort = addr("2001:db8:1::80"), 8443
	dnat6.Status |= ct.StatusDstNAT | ct.StatusDstNATDone
	sctp := ct.Entry{Orig: ct.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: ct.ProtoSCTP, SrcPort: 5000, DstPort: 36412},
		Reply:  ct.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: ct.ProtoSCTP, SrcPort: 36412, DstPort: 5000},
		Status: ct.StatusConfirmed, Timeout: 210, SCTP: ct.SCTPInfo{State: 3, VTagOrig: 0xdeadbeef, VTagReply: 1}}
	ftpNAT := snat // a PASV reply rewritten by nf_nat_ftp: sequence adjusted
	ftpNAT.Helper, ftpNAT.Status = "ftp", snat.Status|ct.StatusSeqAdjust|ct.StatusHelper
	ftpNAT.SeqAdjReply = ct.SeqAdj{CorrectionPos: 123456, OffsetBefore: 0, OffsetAfter: 4}
	ftpNAT.SeqAdjOrig = ct.SeqAdj{CorrectionPos: 1, OffsetBefore: 2, OffsetAfter: 3}
	entries := []ct.Entry{
		{}, // invalid addresses stay invalid
		tcp("10.0.0.1", 40000, "192.0.2.7", 80),
		tcp("2001:db8::1", 40000, "2001:db8::2", 443),
		tcp("::ffff:10.0.0.1", 1, "10.0.0.2", 2), // an IPv4-mapped IPv6 address is not IPv4
		tcp("255.255.255.255", 65535, "0.0.0.0", 0),
		snat, dnat6, sctp, ftpNAT,
		{Orig: ct.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: ct.ProtoICMP, ICMPID: 77, ICMPType: 8, ICMPCode: 255},
			Reply: ct.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: ct.ProtoICMP, ICMPID: 77},
			Zone:  3, Mark: 0xdeadbeef, Timeout: 30, Helper: "sip"},
		{Orig: ct.Tuple{Src: addr("2001:db8::1"), Dst: addr("2001:db8::2"), Proto: ct.ProtoICMPv6, ICMPID: 1, ICMPType: 128},
			Reply: ct.Tuple{Src: addr("2001:db8::2"), Dst: addr("2001:db8::1"), Proto: ct.ProtoICMPv6, ICMPID: 1, ICMPType: 129}},
		{Orig: ct.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: ct.ProtoGRE},
			Reply: ct.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: ct.ProtoGRE}},
	}
	for i := range 200 {
		entries = append(entries, genEntry(r, i))
	}
	var k entryKind
	for _, e := range entries {
		ck, rec, ok := k.split(e, &n)
		if !ok {
			t.Fatalf("split failed: %+v", e)
		}
		if got := k.join(&ck, &rec, &n); got != e {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
		}
		if got := k.key(&ck, &n); got != e.Key() {
			t.Errorf("key: got %+v want %+v", got, e.Key())
		}
		if pk, ok := k.packKey(e.Key(), &n); !ok || pk != ck {
			t.Errorf("packKey differs from split's key")
		}
		k.releaseKey(ck, &n)
		k.releaseRec(rec, &n)
	}
	if n.wide.len() != 0 || len(n.wide.vals) != 0 || n.extra.len() != 0 {
		t.Errorf("%d wide values, %d extras held after every record was released", n.wide.len(), n.extra.len())
	}
	// packKey takes no hold: a key of an IPv6 address nobody holds is
	// known absent.
	unheld := tcp("2001:db8::9", 1, "2001:db8::8", 2)
	if _, ok := k.packKey(unheld.Key(), &n); ok || n.wide.len() != 0 {
		t.Errorf("packKey of an unheld IPv6 key: ok %v, %d held", ok, n.wide.len())
	}
	x := ct.Expect{
		Master: tcp("10.0.0.1", 40000, "192.0.2.7", 21).Orig,
		Tuple:  ct.Tuple{Src: addr("192.0.2.7"), Dst: addr("10.0.0.1"), Proto: ct.ProtoTCP, DstPort: 50000},
		Mask: ct.Tuple{Src: netip.AddrFrom4([4]byte{255, 255, 255, 255}), Dst: netip.AddrFrom4([4]byte{255, 255, 255, 255}),
			Proto: 0xff, DstPort: 0xffff},
		Timeout: 300, Zone: 1, Flags: 2, Class: 0, Helper: "ftp", NATDir: 1,
		NATTuple: ct.Tuple{Src: addr("203.0.113.1"), Proto: ct.ProtoTCP, SrcPort: 1}, Fn: "nat-follow-master",
	}
	var xk expectKind
	ck, rec, _ := xk.split(x, &n)
	if got := xk.join(&ck, &rec, &n); got != x {
		t.Errorf("expect round trip:\n got %+v\nwant %+v", got, x)
	}
	if pk, ok := xk.packKey(x.Key(), &n); xk.key(&ck, &n) != x.Key() || !ok || pk != ck {
		t.Errorf("expect key round trip failed")
	}
}

// Fields a tuple's protocol does not carry do not fit the record (nor the
// wire, wire.CheckEntry): such an entry is refused, never mangled.
func TestCompactRefusesStrayFields(t *testing.T) {
	var n names
	var k entryKind
	gre := ct.Entry{Orig: ct.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: ct.ProtoGRE, SrcPort: 7}}
	icmp := ct.Entry{Orig: ct.Tuple{Src: addr("2001:db8::1"), Dst: addr("10.0.0.2"), Proto: ct.ProtoICMP, DstPort: 7}}
	reply := tcp("2001:db8::1", 1, "2001:db8::2", 2)
	reply.Reply.ICMPID = 5
	for _, e := range []ct.Entry{gre, icmp, reply} {
		if _, _, ok := k.split(e, &n); ok {
			t.Errorf("split accepted %+v", e)
		}
	}
	if n.wide.len() != 0 {
		t.Errorf("a refused entry left %d wide values held", n.wide.len())
	}
	c := NewExternal()
	c.Upsert(&gre)
	if c.Len() != 0 || c.Counters().CreatedFailed != 1 {
		t.Errorf("stored a stray-field entry: len %d, %+v", c.Len(), c.Counters())
	}
}

// The wide values live exactly as long as the records holding them:
// through replacements, removals, sweeps and flushes, nothing leaks and
// nothing shared is freed early.
func TestWideValuesFollowRecords(t *testing.T) {
	c := NewExternal()
	a := tcp("2001:db8::1", 1000, "2001:db8::80", 80)
	b := tcp("2001:db8::2", 1000, "2001:db8::80", 80) // shares the server's address
	c.Upsert(&a)
	c.Upsert(&b)
	if got := c.t.names.wide.len(); got != 3 {
		t.Fatalf("%d wide values for 3 distinct addresses", got)
	}
	// Replace a's reply with a NATed one: the new address is held, the
	// old ones still are (a's key and b hold them).
	a2 := a
	a2.Reply.Dst = addr("2001:db8:ffff::1")
	c.Upsert(&a2)
	c.Upsert(&a2) // the same again: no extra hold
	if got := c.t.names.wide.len(); got != 4 {
		t.Fatalf("%d wide values after a NAT change, want 4", got)
	}
	if got, _ := c.Get(a.Key()); got != a2 {
		t.Fatalf("Get after replace: %+v", got)
	}
	c.Delete(b.Key())
	if got, _ := c.Get(a.Key()); got != a2 || c.t.names.wide.len() != 3 {
		t.Fatalf("after deleting b: %+v, %d wide values, want a2 and 3", got, c.t.names.wide.len())
	}
	// SCTP state is a side value too; a sweep removes what it did not see.
	s := ct.Entry{Orig: ct.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: ct.ProtoSCTP, SrcPort: 1, DstPort: 2},
		Reply: ct.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: ct.ProtoSCTP, SrcPort: 2, DstPort: 1},
		SCTP:  ct.SCTPInfo{State: 3, VTagOrig: 9, VTagReply: 10}}
	c.Upsert(&s)
	if c.t.names.extra.len() != 1 {
		t.Fatalf("%d extras for one SCTP entry", c.t.names.extra.len())
	}
	c.BeginSweep(1, allBuckets)
	c.EndSweep(1)
	if c.Len() != 0 || c.t.names.wide.len() != 0 || len(c.t.names.wide.vals) != 0 || c.t.names.extra.len() != 0 {
		t.Fatalf("after a sweep that saw nothing: len %d, %d wide values (%d slots)", c.Len(),
			c.t.names.wide.len(), len(c.t.names.wide.vals))
	}
	// Random churn of IPv6 entries over shared addresses.
	r := rand.New(rand.NewPCG(5, 6))
	pool := make([]ct.Entry, 300)
	for i := range pool {
		pool[i] = tcp(fmt.Sprintf("2001:db8::%x", r.IntN(40)), uint16(i), fmt.Sprintf("2001:db8:1::%x", r.IntN(5)), 80)
		if i%3 == 0 {
			pool[i].Reply.Dst = addr(fmt.Sprintf("2001:db8:2::%x", r.IntN(7)))
		}
	}
	for range 5000 {
		e := pool[r.IntN(len(pool))]
		switch r.IntN(3) {
		case 0:
			c.Delete(e.Key())
		case 1:
			e.Reply.Dst = addr(fmt.Sprintf("2001:db8:3::%x", r.IntN(7)))
			fallthrough
		default:
			c.Upsert(&e)
		}
	}
	want := map[netip.Addr]bool{}
	c.Range(func(e *ct.Entry) bool {
		for _, a := range []netip.Addr{e.Orig.Src, e.Orig.Dst, e.Reply.Src, e.Reply.Dst} {
			want[a] = true
		}
		return true
	})
	if got := c.t.names.wide.len(); got != len(want) {
		t.Errorf("%d wide values held for %d distinct addresses in the cache", got, len(want))
	}
	c.Flush()
	if c.t.names.wide.len() != 0 {
		t.Errorf("Flush kept %d wide values", c.t.names.wide.len())
	}
}

// The record sizes the memory figures rest on (doc.go, TestMemoryPerEntry).
func TestSlotSize(t *testing.T) {
	if got := unsafe.Sizeof(slot[ekey, erec]{}); got != 72 {
		t.Errorf("entry slot: %d octets, want 72 (chunkSize assumes it)", got)
	}
	if got := unsafe.Sizeof(slot[ekey, erec]{}) * chunkSize; got > 16384 {
		t.Errorf("a chunk takes %d octets, more than its 16 KiB size class", got)
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

// Every field of ct.Entry and ct.Expect survives the compact form: a field
// added to ct later and forgotten here would be dropped silently, on the
// peer and in the commit (this is how the sequence adjustments could have
// gone missing). Each leaf field is changed alone, in turn, on valid base
// values, to candidates until one is accepted; it must come back.
func TestCompactKeepsEveryField(t *testing.T) {
	tcpBase := tcp("10.0.0.1", 40000, "192.0.2.7", 80)
	icmpBase := ct.Entry{Orig: ct.Tuple{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: ct.ProtoICMP, ICMPID: 1, ICMPType: 8},
		Reply: ct.Tuple{Src: addr("10.0.0.2"), Dst: addr("10.0.0.1"), Proto: ct.ProtoICMP, ICMPID: 1}}
	var k entryKind
	checkEveryField(t, []ct.Entry{tcpBase, icmpBase}, func(e ct.Entry) (ct.Entry, bool) {
		var n names
		ck, rec, ok := k.split(e, &n)
		if !ok {
			return ct.Entry{}, false
		}
		return k.join(&ck, &rec, &n), true
	})
	xBase := ct.Expect{Master: tcpBase.Orig, Tuple: ct.Tuple{Src: addr("192.0.2.7"), Dst: addr("10.0.0.1"), Proto: ct.ProtoTCP, DstPort: 5000},
		Mask: ct.Tuple{Src: addr("255.255.255.255"), Proto: 0xff, DstPort: 0xffff}}
	var xk expectKind
	checkEveryField(t, []ct.Expect{xBase}, func(x ct.Expect) (ct.Expect, bool) {
		var n names
		ck, rec, ok := xk.split(x, &n)
		if !ok {
			return ct.Expect{}, false
		}
		return xk.join(&ck, &rec, &n), true
	})
}

func checkEveryField[V comparable](t *testing.T, bases []V, trip func(V) (V, bool)) {
	t.Helper()
	var paths [][]int
	var walk func(typ reflect.Type, path []int)
	walk = func(typ reflect.Type, path []int) {
		if typ.Kind() == reflect.Struct && typ != reflect.TypeFor[netip.Addr]() {
			for i := range typ.NumField() {
				walk(typ.Field(i).Type, append(append([]int(nil), path...), i))
			}
			return
		}
		paths = append(paths, path)
	}
	walk(reflect.TypeFor[V](), nil)
	for _, path := range paths {
		name := reflect.TypeFor[V]().FieldByIndex(path[:1]).Name
		kept := false
		for _, base := range bases {
			for _, cand := range candidates(reflect.ValueOf(base).FieldByIndex(path)) {
				v := base
				reflect.ValueOf(&v).Elem().FieldByIndex(path).Set(cand)
				if v == base {
					continue
				}
				if got, ok := trip(v); ok {
					if got != v {
						t.Errorf("%T field %s%v changed alone does not survive:\n got %+v\nwant %+v", v, name, path, got, v)
					}
					kept = true
				}
			}
		}
		if !kept {
			t.Errorf("%T field %s%v: no changed value was accepted (a field the compact form does not know?)", bases[0], name, path)
		}
	}
}

// candidates are values different from v to try in its place.
func candidates(v reflect.Value) []reflect.Value {
	var out []reflect.Value
	switch v.Kind() {
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		for _, c := range []uint64{v.Uint() + 1, 17, 1, 200} {
			out = append(out, reflect.ValueOf(c).Convert(v.Type()))
		}
	case reflect.String:
		out = append(out, reflect.ValueOf("sip").Convert(v.Type()))
	default:
		if v.Type() == reflect.TypeFor[netip.Addr]() {
			for _, a := range []string{"10.9.9.9", "2001:db8::99"} {
				out = append(out, reflect.ValueOf(addr(a)))
			}
		}
	}
	return out
}
