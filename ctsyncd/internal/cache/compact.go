package cache

import (
	"encoding/binary"
	"net/netip"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// The caches do not store ct.Entry itself: its netip.Addr values carry a
// pointer and 24 octets each, and its helper name is a string, so 100k
// entries would cost ~176 octets each and be scanned by every garbage
// collection. They store a compact copy without pointers instead (the
// records below, ~120 octets with the key), and turn it back into a
// ct.Entry when asked. IPv6 address zones are not kept: conntrack has none.

// ctuple is a ct.Tuple in 44 octets: both addresses as 16 octets (IPv4
// mapped) plus their families, so that the conversion is exact.
type ctuple struct {
	src, dst           [16]byte
	srcFam, dstFam     uint8 // 0 (invalid address), 4 or 6
	proto              uint8
	icmpType, icmpCode uint8
	sport, dport, id   uint16
}

func family(a netip.Addr) uint8 {
	switch {
	case a.Is4():
		return 4
	case a.Is6():
		return 6
	}
	return 0
}

func addrOf(b [16]byte, fam uint8) netip.Addr {
	switch fam {
	case 4:
		return netip.AddrFrom16(b).Unmap()
	case 6:
		return netip.AddrFrom16(b)
	}
	return netip.Addr{}
}

func packTuple(t *ct.Tuple) ctuple {
	return ctuple{
		src: t.Src.As16(), dst: t.Dst.As16(),
		srcFam: family(t.Src), dstFam: family(t.Dst),
		proto: t.Proto, icmpType: t.ICMPType, icmpCode: t.ICMPCode,
		sport: t.SrcPort, dport: t.DstPort, id: t.ICMPID,
	}
}

func (c *ctuple) unpack() ct.Tuple {
	return ct.Tuple{
		Src: addrOf(c.src, c.srcFam), Dst: addrOf(c.dst, c.dstFam),
		Proto: c.proto, SrcPort: c.sport, DstPort: c.dport,
		ICMPID: c.id, ICMPType: c.icmpType, ICMPCode: c.icmpCode,
	}
}

// mix folds t into the index hash h. This hash only places keys in this
// process's index (it is seeded at random per cache, against crafted
// collisions); the hashes the nodes compare are ct's stable FNV.
func (c *ctuple) mix(h uint64) uint64 {
	h = mix(h, binary.LittleEndian.Uint64(c.src[0:8]))
	h = mix(h, binary.LittleEndian.Uint64(c.src[8:16]))
	h = mix(h, binary.LittleEndian.Uint64(c.dst[0:8]))
	h = mix(h, binary.LittleEndian.Uint64(c.dst[8:16]))
	h = mix(h, uint64(c.srcFam)|uint64(c.dstFam)<<8|uint64(c.proto)<<16|uint64(c.icmpType)<<24|
		uint64(c.icmpCode)<<32|uint64(c.sport)<<40)
	return mix(h, uint64(c.dport)|uint64(c.id)<<16)
}

func mix(h, x uint64) uint64 {
	h = (h ^ x) * 0x9e3779b97f4a7c15
	return h ^ h>>32
}

// names interns helper names ("ftp", "sip"...) so that a record holds a
// small number instead of a string. 0 is "no helper". The kernel knows a
// handful of helpers; the bound protects against a peer that sends
// thousands of made-up names.
type names struct {
	list []string
	ids  map[string]uint16
}

const maxNames = 256

// id returns name's number, false if the table is full.
func (n *names) id(name string) (uint16, bool) {
	if name == "" {
		return 0, true
	}
	if id, ok := n.ids[name]; ok {
		return id, true
	}
	if len(n.list) >= maxNames {
		return 0, false
	}
	if n.ids == nil {
		n.ids = make(map[string]uint16)
	}
	n.list = append(n.list, name)
	n.ids[name] = uint16(len(n.list))
	return uint16(len(n.list)), true
}

func (n *names) name(id uint16) string {
	if id == 0 || int(id) > len(n.list) {
		return ""
	}
	return n.list[id-1]
}

// ekey and erec are a ct.Entry split into its key and the rest.
type ekey struct {
	orig ctuple
	zone uint16
}

type erec struct {
	reply               ctuple
	status, timeout     uint32
	mark                uint32
	vtagOrig, vtagReply uint32
	tcp                 ct.TCPInfo
	sctpState           uint8
	helper              uint16
}

// entryKind tells the generic tables how to handle ct.Entry.
type entryKind struct{}

func (entryKind) split(e ct.Entry, n *names) (ekey, erec, bool) {
	h, ok := n.id(e.Helper)
	return ekey{orig: packTuple(&e.Orig), zone: e.Zone}, erec{
		reply:  packTuple(&e.Reply),
		status: e.Status, timeout: e.Timeout, mark: e.Mark,
		vtagOrig: e.SCTP.VTagOrig, vtagReply: e.SCTP.VTagReply,
		tcp: e.TCP, sctpState: e.SCTP.State, helper: h,
	}, ok
}

func (entryKind) join(k *ekey, r *erec, n *names) ct.Entry {
	return ct.Entry{
		Orig: k.orig.unpack(), Reply: r.reply.unpack(),
		Status: r.status, Timeout: r.timeout, Mark: r.mark, Zone: k.zone,
		TCP:    r.tcp,
		SCTP:   ct.SCTPInfo{State: r.sctpState, VTagOrig: r.vtagOrig, VTagReply: r.vtagReply},
		Helper: n.name(r.helper),
	}
}

func (entryKind) packKey(k ct.Key) ekey           { return ekey{orig: packTuple(&k.Orig), zone: k.Zone} }
func (entryKind) key(k *ekey) ct.Key              { return ct.Key{Orig: k.orig.unpack(), Zone: k.zone} }
func (entryKind) hash(k ekey, seed uint64) uint64 { return mix(k.orig.mix(seed), uint64(k.zone)) }
func (entryKind) keyOf(e ct.Entry) ct.Key         { return e.Key() }
func (entryKind) bucket(e ct.Entry) int           { return e.Key().Bucket(ct.Buckets) }
func (entryKind) digest(e ct.Entry) uint64        { return e.Digest() }
func (entryKind) timeout(r erec) uint32           { return r.timeout }

// sameButTimeout reports whether a and b differ at most in the timeout,
// which the peer does not need to hear about (it changes with every packet
// and is sent again with the entry's next real change or resync).
func (entryKind) sameButTimeout(a, b erec) bool {
	b.timeout = a.timeout
	return a == b
}

// filterTuples are what the filter looks at: the original direction
// (CS-B04), and the reply to tell the node's own connections from NAT
// bindings on its addresses.
func (entryKind) filterTuples(e ct.Entry) (orig, reply ct.Tuple, hasReply bool) {
	return e.Orig, e.Reply, true
}

// xkey and xrec are a ct.Expect split into its key and the rest.
type xkey struct {
	master, tuple ctuple
	zone          uint16
}

type xrec struct {
	mask, nat                     ctuple
	timeout, flags, class, natDir uint32
	helper                        uint16
}

// expectKind tells the generic tables how to handle ct.Expect.
type expectKind struct{}

func (expectKind) split(x ct.Expect, n *names) (xkey, xrec, bool) {
	h, ok := n.id(x.Helper)
	return xkey{master: packTuple(&x.Master), tuple: packTuple(&x.Tuple), zone: x.Zone}, xrec{
		mask: packTuple(&x.Mask), nat: packTuple(&x.NATTuple),
		timeout: x.Timeout, flags: x.Flags, class: x.Class, natDir: x.NATDir, helper: h,
	}, ok
}

func (expectKind) join(k *xkey, r *xrec, n *names) ct.Expect {
	return ct.Expect{
		Master: k.master.unpack(), Tuple: k.tuple.unpack(), Mask: r.mask.unpack(),
		Timeout: r.timeout, Zone: k.zone, Flags: r.flags, Class: r.class,
		Helper: n.name(r.helper), NATDir: r.natDir, NATTuple: r.nat.unpack(),
	}
}

func (expectKind) packKey(k ct.ExpectKey) xkey {
	return xkey{master: packTuple(&k.Master), tuple: packTuple(&k.Tuple), zone: k.Zone}
}
func (expectKind) key(k *xkey) ct.ExpectKey {
	return ct.ExpectKey{Master: k.master.unpack(), Tuple: k.tuple.unpack(), Zone: k.zone}
}
func (expectKind) hash(k xkey, seed uint64) uint64 {
	return mix(k.tuple.mix(k.master.mix(seed)), uint64(k.zone))
}
func (expectKind) keyOf(x ct.Expect) ct.ExpectKey { return x.Key() }
func (expectKind) bucket(x ct.Expect) int         { return x.Key().Bucket(ct.Buckets) }
func (expectKind) digest(x ct.Expect) uint64      { return x.Digest() }
func (expectKind) timeout(r xrec) uint32          { return r.timeout }
func (expectKind) sameButTimeout(a, b xrec) bool {
	b.timeout = a.timeout
	return a == b
}

// filterTuple: an expectation is filtered by its master connection, so that
// it is kept exactly when the connection that announced it is.
func (expectKind) filterTuples(x ct.Expect) (orig, reply ct.Tuple, hasReply bool) {
	return x.Master, ct.Tuple{}, false
}
