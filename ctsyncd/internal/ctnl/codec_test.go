package ctnl

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

func tcpEntry(i int) ct.Entry {
	src := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
	dst := netip.MustParseAddr("192.0.2.80")
	port := uint16(1024 + i%60000)
	return ct.Entry{
		Orig:    ct.Tuple{Src: src, Dst: dst, Proto: ct.ProtoTCP, SrcPort: port, DstPort: 80},
		Reply:   ct.Tuple{Src: dst, Dst: src, Proto: ct.ProtoTCP, SrcPort: 80, DstPort: port},
		Status:  ct.StatusConfirmed | ct.StatusSeenReply | ct.StatusAssured,
		Timeout: 432000,
		Mark:    uint32(i % 7),
		TCP: ct.TCPInfo{State: ct.TCPEstablished, WScaleOrig: 7, WScaleReply: 9,
			FlagsOrig: 0x03, FlagsReply: 0x03},
	}
}

// sampleEntries covers every attribute the codec knows (CS-B03).
func sampleEntries() map[string]ct.Entry {
	snat := tcpEntry(1)
	snat.Status |= ct.StatusSrcNAT | ct.StatusSrcNATDone
	snat.Reply.Dst = netip.MustParseAddr("198.51.100.1")
	snat.Reply.DstPort = 61000
	dnat := tcpEntry(2)
	dnat.Status |= ct.StatusDstNAT | ct.StatusDstNATDone
	dnat.Reply.Src = netip.MustParseAddr("10.9.9.9")
	dnat.Reply.SrcPort = 8080
	v6 := ct.Entry{
		Orig:    ct.Tuple{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Proto: ct.ProtoUDP, SrcPort: 5353, DstPort: 53},
		Reply:   ct.Tuple{Src: netip.MustParseAddr("2001:db8::2"), Dst: netip.MustParseAddr("2001:db8::1"), Proto: ct.ProtoUDP, SrcPort: 53, DstPort: 5353},
		Status:  ct.StatusConfirmed,
		Timeout: 30, Zone: 7,
	}
	icmp := ct.Entry{
		Orig:    ct.Tuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ct.ProtoICMP, ICMPID: 77, ICMPType: 8},
		Reply:   ct.Tuple{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: ct.ProtoICMP, ICMPID: 77, ICMPType: 0},
		Status:  ct.StatusConfirmed | ct.StatusSeenReply,
		Timeout: 29,
	}
	icmp6 := ct.Entry{
		Orig:    ct.Tuple{Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2"), Proto: ct.ProtoICMPv6, ICMPID: 5, ICMPType: 128},
		Reply:   ct.Tuple{Src: netip.MustParseAddr("fd00::2"), Dst: netip.MustParseAddr("fd00::1"), Proto: ct.ProtoICMPv6, ICMPID: 5, ICMPType: 129},
		Status:  ct.StatusConfirmed,
		Timeout: 29,
	}
	sctp := ct.Entry{
		Orig:    ct.Tuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ct.ProtoSCTP, SrcPort: 3868, DstPort: 3868},
		Reply:   ct.Tuple{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: ct.ProtoSCTP, SrcPort: 3868, DstPort: 3868},
		Status:  ct.StatusConfirmed | ct.StatusAssured | ct.StatusSeenReply,
		Timeout: 210,
		SCTP:    ct.SCTPInfo{State: 3, VTagOrig: 0xdeadbeef, VTagReply: 0x01020304},
	}
	gre := ct.Entry{
		Orig:    ct.Tuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 2},
		Reply:   ct.Tuple{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: 2},
		Status:  ct.StatusConfirmed,
		Timeout: 600,
	}
	pptp := ct.Entry{
		Orig:    ct.Tuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ct.ProtoGRE, SrcPort: 1, DstPort: 2},
		Reply:   ct.Tuple{Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: ct.ProtoGRE, SrcPort: 2, DstPort: 1},
		Status:  ct.StatusConfirmed,
		Timeout: 600,
	}
	ftp := tcpEntry(3)
	ftp.Orig.DstPort, ftp.Reply.SrcPort = 21, 21
	ftp.Helper = "ftp"
	odd := tcpEntry(4)
	odd.Helper = "my-own-helper"
	return map[string]ct.Entry{"tcp": tcpEntry(0), "snat": snat, "dnat": dnat, "udp6-zone": v6,
		"icmp": icmp, "icmpv6": icmp6, "sctp": sctp, "igmp": gre, "gre": pptp, "ftp-helper": ftp, "odd-helper": odd}
}

// commitView is what a create request carries for e: the status a commit
// writes, the TCP flags it sets, the reply tuple before NAT.
func commitView(e ct.Entry) ct.Entry {
	if e.Status&(ct.StatusSrcNAT|ct.StatusDstNAT) != 0 {
		e.Reply = unNATedReply(&e)
	}
	e.Status = CommitStatus(e.Status)
	e.TCP.FlagsOrig &= TCPFlagsMask
	e.TCP.FlagsReply &= TCPFlagsMask
	return e
}

func decodeOne(t *testing.T, b []byte) (Header, ct.Entry) {
	t.Helper()
	h, payload, rest, err := splitMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 0 {
		t.Fatalf("%d octets after the message", len(rest))
	}
	var e ct.Entry
	if err := DecodeEntry(payload, &e); err != nil {
		t.Fatal(err)
	}
	return h, e
}

// TestEntryRoundTrip (CS-B03): what AppendEntry writes decodes to the
// entry as committed, for every protocol and attribute.
func TestEntryRoundTrip(t *testing.T) {
	for name, e := range sampleEntries() {
		t.Run(name, func(t *testing.T) {
			b := AppendEntry(nil, 42, &e, ModeCreateExcl, true)
			h, got := decodeOne(t, b)
			if h.Seq != 42 || h.Flags != flagRequest|flagCreate|flagExcl|flagAck || h.Type != subsysCT<<8|msgNew {
				t.Errorf("header %+v", h)
			}
			if want := commitView(e); got != want {
				t.Errorf("decoded\n %+v\nwant\n %+v", got, want)
			}
			if kindOf(h) != EventNew {
				t.Errorf("kind %v", kindOf(h))
			}
		})
	}
}

// TestNATCreate: a NATed entry is created from its un-NATed reply and the
// NAT mapping read off its reply tuple, so the kernel sets IPS_*_NAT.
func TestNATCreate(t *testing.T) {
	entries := sampleEntries()
	for _, tc := range []struct {
		name      string
		attr      uint16
		addr      string
		port      uint16
		wantNoNAT bool
	}{
		{"snat", ctaNATSrc, "198.51.100.1", 61000, false},
		{"dnat", ctaNATDst, "10.9.9.9", 8080, false},
		{"tcp", 0, "", 0, true},
	} {
		e := entries[tc.name]
		b := AppendEntry(nil, 1, &e, ModeCreateExcl, false)
		nats := natAttrs(t, b)
		if tc.wantNoNAT {
			if len(nats) != 0 {
				t.Errorf("%s: NAT attributes %v", tc.name, nats)
			}
			continue
		}
		got, ok := nats[tc.attr]
		if !ok || len(nats) != 1 {
			t.Fatalf("%s: NAT attributes %v, want only %d", tc.name, nats, tc.attr)
		}
		if got.addr != netip.MustParseAddr(tc.addr) || got.port != tc.port {
			t.Errorf("%s: NAT %v:%d, want %s:%d", tc.name, got.addr, got.port, tc.addr, tc.port)
		}
		// An update never carries NAT: the kernel refuses to change it.
		if n := natAttrs(t, AppendEntry(nil, 1, &e, ModeUpdate, false)); len(n) != 0 {
			t.Errorf("%s: update with NAT %v", tc.name, n)
		}
	}
}

type natMapping struct {
	addr netip.Addr
	port uint16
}

func natAttrs(t *testing.T, b []byte) map[uint16]natMapping {
	t.Helper()
	_, payload, _, err := splitMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint16]natMapping{}
	for a := payload[nfgenLen:]; ; {
		typ, v, rest, ok, err := nextAttr(a)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		a = rest
		if typ != ctaNATSrc && typ != ctaNATDst {
			continue
		}
		var m natMapping
		for n := v; ; {
			typ, v, rest, ok, err := nextAttr(n)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			n = rest
			switch typ {
			case ctaNATv4MinIP:
				m.addr = netip.AddrFrom4([4]byte(v))
			case ctaNATProto:
				_, pv, _, _, _ := nextAttr(v)
				m.port, _ = be16(pv)
			}
		}
		out[typ] = m
	}
}

// TestUpdateDeleteTimeoutMessages: the other requests carry the key and
// what they change, nothing else.
func TestUpdateDeleteTimeoutMessages(t *testing.T) {
	e := sampleEntries()["udp6-zone"]
	k := e.Key()

	h, got := decodeOne(t, AppendEntry(nil, 3, &e, ModeUpdate, false))
	if h.Flags != flagRequest || kindOf(h) != EventUpdate {
		t.Errorf("update flags %#x", h.Flags)
	}
	want := commitView(e)
	want.Reply = ct.Tuple{}
	if got != want {
		t.Errorf("update decoded %+v, want %+v", got, want)
	}

	h, got = decodeOne(t, AppendDelete(nil, 4, &k, false))
	if h.Type != subsysCT<<8|msgDelete || kindOf(h) != EventDestroy {
		t.Errorf("delete header %+v", h)
	}
	if got.Key() != k || got.Timeout != 0 {
		t.Errorf("delete decoded %+v", got)
	}

	_, got = decodeOne(t, AppendTimeout(nil, 5, &k, 17, false))
	if got.Key() != k || got.Timeout != 17 || got.Status != 0 {
		t.Errorf("timeout decoded %+v", got)
	}
}

func sampleExpect() ct.Expect {
	return ct.Expect{
		Master:  ct.Tuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ct.ProtoTCP, SrcPort: 40000, DstPort: 21},
		Tuple:   ct.Tuple{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: ct.ProtoTCP, SrcPort: 0, DstPort: 50000},
		Mask:    ct.Tuple{Src: netip.MustParseAddr("255.255.255.255"), Dst: netip.MustParseAddr("255.255.255.255"), Proto: ct.ProtoTCP, SrcPort: 0, DstPort: 0xffff},
		Timeout: 300, Zone: 3, Flags: 1, Class: 0, Helper: "ftp", Fn: "nat-follow-master",
		NATDir:   1,
		NATTuple: ct.Tuple{Src: netip.MustParseAddr("198.51.100.1"), Dst: netip.MustParseAddr("0.0.0.0"), Proto: ct.ProtoTCP, SrcPort: 50001},
	}
}

func TestExpectRoundTrip(t *testing.T) {
	x := sampleExpect()
	_, payload, _, err := splitMessage(AppendExpect(nil, 9, &x, false))
	if err != nil {
		t.Fatal(err)
	}
	var got ct.Expect
	if err := DecodeExpect(payload, &got); err != nil {
		t.Fatal(err)
	}
	if got != x {
		t.Errorf("decoded\n %+v\nwant\n %+v", got, x)
	}
	k := x.Key()
	_, payload, _, _ = splitMessage(AppendExpectDelete(nil, 10, &k, false))
	if err := DecodeExpect(payload, &got); !errors.Is(err, ErrMalformed) {
		t.Errorf("a delete has no master: decode says %v", err)
	}
}

// TestDecodeRejects: truncated and inconsistent input is an error wrapping
// ErrMalformed, never a panic or a half entry passed as whole.
func TestDecodeRejects(t *testing.T) {
	e := sampleEntries()["snat"]
	good := AppendEntry(nil, 1, &e, ModeCreateExcl, false)
	_, payload, _, _ := splitMessage(good)
	noOrig := func() []byte {
		k := e.Key()
		b := AppendTimeout(nil, 1, &k, 1, false)
		_, p, _, _ := splitMessage(b)
		// Rename CTA_TUPLE_ORIG (the first attribute) to an unknown type.
		p = append([]byte(nil), p...)
		nativeEndian.PutUint16(p[nfgenLen+2:], 99)
		return p
	}()
	for name, p := range map[string][]byte{
		"empty":            nil,
		"nfgen only":       payload[:nfgenLen],
		"cut in attribute": payload[:len(payload)-3],
		"cut in header":    payload[:nfgenLen+2],
		"no orig tuple":    noOrig,
	} {
		var got ct.Entry
		if err := DecodeEntry(p, &got); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	if _, _, _, err := splitMessage(good[:10]); !errors.Is(err, ErrMalformed) {
		t.Errorf("short netlink header: %v", err)
	}
}

// TestNoAllocations: decoding and encoding allocate nothing per entry
// (memory aim: ctsyncd under 30 MiB holding 100k entries).
func TestNoAllocations(t *testing.T) {
	for _, name := range []string{"tcp", "snat", "udp6-zone", "ftp-helper", "sctp"} {
		e := sampleEntries()[name]
		b := AppendEntry(make([]byte, 0, 1024), 1, &e, ModeCreateExcl, false)
		_, payload, _, _ := splitMessage(b)
		var got ct.Entry
		if n := testing.AllocsPerRun(100, func() { _ = DecodeEntry(payload, &got) }); n != 0 {
			t.Errorf("%s: decode allocates %v times", name, n)
		}
		buf := make([]byte, 0, 1024)
		if n := testing.AllocsPerRun(100, func() { buf = AppendEntry(buf[:0], 1, &e, ModeCreateExcl, false) }); n != 0 {
			t.Errorf("%s: encode allocates %v times", name, n)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, e := range sampleEntries() {
		b := AppendEntry(nil, 1, &e, ModeCreateExcl, false)
		f.Add(b)
		f.Add(AppendEntry(b, 2, &e, ModeUpdate, false))
	}
	x := sampleExpect()
	f.Add(AppendExpect(nil, 1, &x, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e ct.Entry
		var x ct.Expect
		for len(b) > 0 {
			_, payload, rest, err := splitMessage(b)
			if err != nil {
				return
			}
			b = rest
			_ = DecodeEntry(payload, &e)
			_ = DecodeExpect(payload, &x)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	e := tcpEntry(1)
	e.Status |= ct.StatusSrcNAT
	msg := AppendEntry(nil, 1, &e, ModeCreateExcl, false)
	_, payload, _, _ := splitMessage(msg)
	var got ct.Entry
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeEntry(payload, &got); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkEncode(b *testing.B) {
	e := tcpEntry(1)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEntry(buf[:0], 1, &e, ModeCreateExcl, false)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
