package cache

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// tcp returns an established TCP entry from src:sport to dst:dport.
func tcp(src string, sport uint16, dst string, dport uint16) ct.Entry {
	a, b := addr(src), addr(dst)
	return ct.Entry{
		Orig:    ct.Tuple{Src: a, Dst: b, Proto: ct.ProtoTCP, SrcPort: sport, DstPort: dport},
		Reply:   ct.Tuple{Src: b, Dst: a, Proto: ct.ProtoTCP, SrcPort: dport, DstPort: sport},
		Status:  ct.StatusSeenReply | ct.StatusAssured | ct.StatusConfirmed,
		Timeout: 432000,
		TCP:     ct.TCPInfo{State: ct.TCPEstablished, WScaleOrig: 7, WScaleReply: 7},
	}
}

// genEntry returns entry number i of a deterministic population: mostly
// IPv4 TCP/UDP, some NATed, some IPv6, a few with helpers or marks (and
// then sequence adjustments).
func genEntry(r *rand.Rand, i int) ct.Entry {
	v4 := func(n uint32) netip.Addr {
		return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	}
	src, dst := v4(0x0a000000|uint32(i)), v4(0xc6336400|uint32(r.IntN(256)))
	if i%10 == 9 {
		var a, b [16]byte
		a[0], b[0] = 0x20, 0x20
		a[1], b[1] = 0x01, 0x01
		a[12], a[13], a[14], a[15] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		b[15] = byte(r.IntN(256))
		src, dst = netip.AddrFrom16(a), netip.AddrFrom16(b)
	}
	proto := ct.ProtoTCP
	if i%3 == 0 {
		proto = ct.ProtoUDP
	}
	sport, dport := uint16(1024+r.IntN(60000)), uint16([]int{53, 80, 443, 22}[r.IntN(4)])
	e := ct.Entry{
		Orig:    ct.Tuple{Src: src, Dst: dst, Proto: proto, SrcPort: sport, DstPort: dport},
		Reply:   ct.Tuple{Src: dst, Dst: src, Proto: proto, SrcPort: dport, DstPort: sport},
		Status:  ct.StatusSeenReply | ct.StatusConfirmed,
		Timeout: uint32(30 + r.IntN(432000)),
	}
	if proto == ct.ProtoTCP {
		e.TCP = ct.TCPInfo{State: ct.TCPEstablished, WScaleOrig: 7, WScaleReply: 9, FlagsOrig: 0x23, FlagsReply: 0x23}
		e.Status |= ct.StatusAssured
	}
	if i%4 == 1 && src.Is4() { // SNATed behind 203.0.113.1
		e.Reply.Dst = addr("203.0.113.1")
		e.Status |= ct.StatusSrcNAT | ct.StatusSrcNATDone
	}
	if i%50 == 7 {
		e.Helper = "ftp"
		e.Mark = uint32(i)
		if e.Status&ct.StatusSrcNAT != 0 { // nf_nat_ftp rewrote a reply
			e.Status |= ct.StatusSeqAdjust
			e.SeqAdjReply = ct.SeqAdj{CorrectionPos: uint32(i), OffsetAfter: 3}
		}
	}
	return e
}

// sumsOf recomputes the bucket sums of a cache from its contents.
func sumsOf(rangeFn func(func(*ct.Entry) bool)) ct.Sums {
	var s ct.Sums
	rangeFn(func(e *ct.Entry) bool {
		s.Add(e.Key().Bucket(ct.Buckets), e.Digest())
		return true
	})
	return s
}

// contents returns a cache's entries by key.
func contents(rangeFn func(func(*ct.Entry) bool)) map[ct.Key]ct.Entry {
	m := map[ct.Key]ct.Entry{}
	rangeFn(func(e *ct.Entry) bool {
		m[e.Key()] = *e
		return true
	})
	return m
}

func checkSums(t *testing.T, what string, got ct.Sums, rangeFn func(func(*ct.Entry) bool)) {
	t.Helper()
	if want := sumsOf(rangeFn); got != want {
		t.Fatalf("%s: incremental sums differ from recomputed ones in buckets %#x", what, got.Diff(&want))
	}
}
