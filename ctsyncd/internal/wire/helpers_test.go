package wire

import (
	"encoding/hex"
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var testSecret = []byte("golden-secret")

// tcp4 is the typical entry: an established, assured IPv4 TCP connection,
// SNATed (the reply's destination is the router's address).
func tcp4() ct.Entry {
	c, s, nat := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("192.0.2.80"), netip.MustParseAddr("198.51.100.1")
	return ct.Entry{
		Orig:    ct.Tuple{Src: c, Dst: s, Proto: ct.ProtoTCP, SrcPort: 40000, DstPort: 443},
		Reply:   ct.Tuple{Src: s, Dst: nat, Proto: ct.ProtoTCP, SrcPort: 443, DstPort: 61000},
		Status:  ct.StatusSeenReply | ct.StatusAssured | ct.StatusConfirmed | ct.StatusSrcNAT | ct.StatusSrcNATDone,
		Timeout: 431999,
		TCP:     ct.TCPInfo{State: ct.TCPEstablished, WScaleOrig: 7, WScaleReply: 9, FlagsOrig: 0x23, FlagsReply: 0x23},
	}
}

func udp6() ct.Entry {
	a, b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8:1::53")
	return ct.Entry{
		Orig:    ct.Tuple{Src: a, Dst: b, Proto: ct.ProtoUDP, SrcPort: 5353, DstPort: 53},
		Reply:   ct.Tuple{Src: b, Dst: a, Proto: ct.ProtoUDP, SrcPort: 53, DstPort: 5353},
		Status:  ct.StatusConfirmed,
		Timeout: 29,
		Mark:    0x10,
		Zone:    3,
	}
}

func icmp4() ct.Entry {
	a, b := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("192.0.2.1")
	return ct.Entry{
		Orig:    ct.Tuple{Src: a, Dst: b, Proto: ct.ProtoICMP, ICMPID: 0x1234, ICMPType: 8},
		Reply:   ct.Tuple{Src: b, Dst: a, Proto: ct.ProtoICMP, ICMPID: 0x1234},
		Status:  ct.StatusConfirmed | ct.StatusSeenReply,
		Timeout: 30,
	}
}

func icmp6() ct.Entry {
	a, b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	return ct.Entry{
		Orig:    ct.Tuple{Src: a, Dst: b, Proto: ct.ProtoICMPv6, ICMPID: 7, ICMPType: 128},
		Reply:   ct.Tuple{Src: b, Dst: a, Proto: ct.ProtoICMPv6, ICMPID: 7, ICMPType: 129},
		Status:  ct.StatusConfirmed,
		Timeout: 30,
	}
}

func sctp4() ct.Entry {
	a, b := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("192.0.2.9")
	return ct.Entry{
		Orig:    ct.Tuple{Src: a, Dst: b, Proto: ct.ProtoSCTP, SrcPort: 2905, DstPort: 2905},
		Reply:   ct.Tuple{Src: b, Dst: a, Proto: ct.ProtoSCTP, SrcPort: 2905, DstPort: 2905},
		Status:  ct.StatusConfirmed | ct.StatusAssured,
		Timeout: 210,
		SCTP:    ct.SCTPInfo{State: 3, VTagOrig: 0xdeadbeef, VTagReply: 0xfeedf00d},
	}
}

func gre4() ct.Entry {
	a, b := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("192.0.2.10")
	return ct.Entry{
		Orig:    ct.Tuple{Src: a, Dst: b, Proto: ct.ProtoGRE},
		Reply:   ct.Tuple{Src: b, Dst: a, Proto: ct.ProtoGRE},
		Status:  ct.StatusConfirmed,
		Timeout: 600,
	}
}

// ftpControl carries a helper, a mark and a zone: every optional field.
func ftpControl() ct.Entry {
	e := tcp4()
	e.Orig.DstPort, e.Reply.SrcPort = 21, 21
	e.Helper, e.Mark, e.Zone = "ftp", 0xcafe, 1
	e.Status |= ct.StatusHelper
	return e
}

// ftpPASV is an FTP control connection after nf_nat_ftp rewrote a PASV
// reply a byte longer: it carries the NAT sequence adjustment.
func ftpPASV() ct.Entry {
	e := tcp4()
	e.Orig.DstPort, e.Reply.SrcPort = 21, 21
	e.Helper = "ftp"
	e.Status |= ct.StatusHelper | ct.StatusSeqAdjust
	e.SeqAdjReply = ct.SeqAdj{CorrectionPos: 0x8e3c1a22, OffsetBefore: 0, OffsetAfter: 1}
	return e
}

// ftpData is the FTP helper's expectation of a passive data connection.
func ftpData() ct.Expect {
	e := ftpControl()
	return ct.Expect{
		Master:  e.Orig,
		Tuple:   ct.Tuple{Src: e.Orig.Src, Dst: e.Orig.Dst, Proto: ct.ProtoTCP, DstPort: 50000},
		Mask:    ct.Tuple{Src: netip.MustParseAddr("255.255.255.255"), Dst: netip.MustParseAddr("255.255.255.255"), Proto: ct.ProtoTCP, DstPort: 0xffff},
		Timeout: 297,
		Zone:    1,
		Flags:   0,
		Class:   0,
		Helper:  "ftp",
	}
}

// natExpect is an expectation of a NATed master, with a mask lacking its
// destination.
func natExpect() ct.Expect {
	x := ftpData()
	x.Mask.Dst = netip.Addr{}
	x.NATDir = 1
	x.NATTuple = ct.Tuple{Src: netip.MustParseAddr("198.51.100.1"), Proto: ct.ProtoTCP, SrcPort: 50000}
	x.Flags, x.Class, x.Zone = 0x4, 2, 0
	return x
}

// natFollowMaster is natExpect with the function that NATs the expected
// connection, as the kernel reports it.
func natFollowMaster() ct.Expect {
	x := natExpect()
	x.Fn = "nat-follow-master"
	return x
}

func upsert(e ct.Entry) Record { return Record{Kind: RecordUpsert, Entry: e} }

func deleteOf(e ct.Entry) Record {
	return Record{Kind: RecordDelete, Entry: ct.Entry{Orig: e.Orig, Zone: e.Zone}}
}

func expectUpsert(x ct.Expect) Record { return Record{Kind: RecordExpectUpsert, Expect: &x} }

func expectDeleteOf(x ct.Expect) Record {
	return Record{Kind: RecordExpectDelete, Expect: &ct.Expect{Master: x.Master, Tuple: x.Tuple, Zone: x.Zone}}
}

func digest(table Table) *Digest {
	d := &Digest{Table: table}
	for i := range d.Sums {
		d.Sums[i] = ct.BucketSum{Count: uint32(i * 3), Hash: 0x0101010101010101 * uint64(i)}
	}
	return d
}

// randAddr returns a random address of family fam.
func randAddr(rng *rand.Rand, fam int) netip.Addr {
	if fam == 4 {
		var a [4]byte
		for i := range a {
			a[i] = byte(rng.Uint32())
		}
		return netip.AddrFrom4(a)
	}
	var a [16]byte
	for i := range a {
		a[i] = byte(rng.Uint32())
	}
	return netip.AddrFrom16(a)
}

var randProtos = []uint8{ct.ProtoTCP, ct.ProtoTCP, ct.ProtoTCP, ct.ProtoUDP, ct.ProtoUDP, ct.ProtoICMP, ct.ProtoICMPv6,
	ct.ProtoSCTP, ct.ProtoDCCP, ct.ProtoUDPLite, ct.ProtoGRE, 2, 0, 255}

func randTuple(rng *rand.Rand, fam int, proto uint8, optionalAddrs bool) ct.Tuple {
	t := ct.Tuple{Proto: proto, Src: randAddr(rng, fam), Dst: randAddr(rng, fam)}
	if optionalAddrs && rng.IntN(3) == 0 {
		t.Src = netip.Addr{}
	}
	if optionalAddrs && rng.IntN(3) == 0 {
		t.Dst = netip.Addr{}
	}
	switch {
	case ct.HasPorts(proto):
		t.SrcPort, t.DstPort = uint16(rng.Uint32()), uint16(rng.Uint32())
	case ct.IsICMP(proto):
		t.ICMPID, t.ICMPType, t.ICMPCode = uint16(rng.Uint32()), uint8(rng.Uint32()), uint8(rng.Uint32())
	}
	return t
}

func pick[T any](rng *rand.Rand, zero, v T) T {
	if rng.IntN(2) == 0 {
		return zero
	}
	return v
}

var randFns = []string{"", "", "nat-follow-master", "sip", "Q.931", "H.245", "fifteen-octets!"}

var randHelpers = []string{"", "ftp", "sip", "tftp", "h245", "Q.931", "RAS", "x", "fifteen-octets!"}

func randEntry(rng *rand.Rand) ct.Entry {
	fam := 4
	if rng.IntN(3) == 0 {
		fam = 6
	}
	proto := randProtos[rng.IntN(len(randProtos))]
	e := ct.Entry{
		Orig:    randTuple(rng, fam, proto, false),
		Reply:   randTuple(rng, fam, proto, false),
		Status:  rng.Uint32(),
		Timeout: rng.Uint32(),
		Mark:    pick(rng, 0, rng.Uint32()|1),
		Zone:    pick(rng, 0, uint16(rng.Uint32())|1),
		Helper:  randHelpers[rng.IntN(len(randHelpers))],
	}
	if proto == ct.ProtoTCP && rng.IntN(4) != 0 {
		e.TCP = ct.TCPInfo{State: uint8(rng.IntN(10)), WScaleOrig: uint8(rng.IntN(15)), FlagsOrig: uint8(rng.Uint32()) | 1}
	}
	if proto == ct.ProtoSCTP && rng.IntN(4) != 0 {
		e.SCTP = ct.SCTPInfo{State: uint8(rng.IntN(8)), VTagOrig: rng.Uint32() | 1, VTagReply: rng.Uint32()}
	}
	if rng.IntN(4) == 0 {
		e.SeqAdjOrig = ct.SeqAdj{CorrectionPos: rng.Uint32(), OffsetBefore: rng.Uint32(), OffsetAfter: rng.Uint32()}
	}
	if rng.IntN(4) == 0 {
		e.SeqAdjReply = ct.SeqAdj{CorrectionPos: rng.Uint32() | 1}
	}
	return e
}

func randExpect(rng *rand.Rand) ct.Expect {
	fam := 4
	if rng.IntN(3) == 0 {
		fam = 6
	}
	p := func() uint8 { return randProtos[rng.IntN(len(randProtos))] }
	x := ct.Expect{
		Master:  randTuple(rng, fam, p(), false),
		Tuple:   randTuple(rng, fam, p(), true),
		Mask:    randTuple(rng, fam, p(), true),
		Timeout: rng.Uint32(),
		Zone:    pick(rng, 0, uint16(rng.Uint32())|1),
		Flags:   pick(rng, 0, rng.Uint32()|1),
		Class:   pick(rng, 0, rng.Uint32()|1),
		Helper:  randHelpers[rng.IntN(len(randHelpers))],
	}
	if rng.IntN(2) == 0 {
		x.NATDir = rng.Uint32N(2)
		x.NATTuple = randTuple(rng, fam, p(), true)
	}
	x.Fn = randFns[rng.IntN(len(randFns))]
	return x
}

// randRecord returns a random valid record, most often an upsert as on a
// busy link.
func randRecord(rng *rand.Rand) Record {
	switch rng.IntN(12) {
	case 0:
		return deleteOf(randEntry(rng))
	case 1:
		return expectUpsert(randExpect(rng))
	case 2:
		return expectDeleteOf(randExpect(rng))
	case 3:
		return Record{Kind: RecordSweepBegin + RecordKind(rng.IntN(2)), Sweep: Sweep{ID: rng.Uint32(), Table: Table(rng.IntN(2)), Buckets: rng.Uint64() | 1}}
	case 4:
		if rng.IntN(4) == 0 {
			d := &Digest{Table: Table(rng.IntN(2))}
			for i := range d.Sums {
				d.Sums[i] = ct.BucketSum{Count: rng.Uint32(), Hash: rng.Uint64()}
			}
			return Record{Kind: RecordDigest, Digest: d}
		}
	}
	return upsert(randEntry(rng))
}

// hexDump renders a datagram in rows of 16 octets, offsets on the left, the
// form docs/ctsyncd-wire.md shows.
func hexDump(b []byte) string {
	var sb strings.Builder
	for off := 0; off < len(b); off += 16 {
		end := min(off+16, len(b))
		sb.WriteString(strings.ToUpper(hex.EncodeToString([]byte{byte(off >> 8), byte(off)})))
		sb.WriteString(" ")
		for _, c := range b[off:end] {
			sb.WriteString(" " + hex.EncodeToString([]byte{c}))
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

// unDump reads hexDump's output back.
func unDump(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		raw, err := hex.DecodeString(strings.Join(f[1:], ""))
		if err != nil {
			t.Fatalf("golden line %q: %v", line, err)
		}
		b = append(b, raw...)
	}
	return b
}

func golden(t *testing.T, name, got string) string {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update if the change is intended):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
	return string(want)
}
