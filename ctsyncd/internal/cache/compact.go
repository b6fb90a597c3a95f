package cache

import (
	"encoding/binary"
	"net/netip"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// The caches do not store ct.Entry itself: its netip.Addr values carry a
// pointer and 24 octets each, and its helper name is a string, so 100k
// entries would cost ~200 octets each and be scanned by every garbage
// collection. They store a compact copy without pointers instead, and
// turn it back into a ct.Entry when asked. IPv6 address zones are not
// kept: conntrack has none.
//
// An entry's record (ekey + erec, 56 octets; a slot of 72 with what the
// table keeps beside it) is sized for IPv4, which most tables hold: an
// address is 4 octets in it. What is wider or rare is stored once in a
// side table and the record holds its number: IPv6 addresses (IPv4-mapped
// ones included, so that the conversion is exact) in names.wide, an SCTP
// entry's state and tags and a NATed helper connection's sequence
// adjustments in names.extra. Ports and ICMP fields share the same 4
// octets, as on the wire and in the kernel: a tuple with fields its
// protocol does not carry (which the wire codec refuses too,
// wire.CheckEntry) is not stored.

// Address forms in a tuple's fams: 2 bits per address.
const (
	famNone = 0 // the zero Addr
	famV4   = 1 // IPv4, inline
	famWide = 2 // 16 octets, a number in names.wide
)

// What a tuple's a and b hold, in bits 4-5 of fams (it follows from the
// protocol; kept so that unpacking does not ask again).
const (
	l4None  = 0
	l4Ports = 1 << 4
	l4ICMP  = 2 << 4
	l4Mask  = 3 << 4
)

// ekey is an entry's key: its original tuple and zone, 16 octets.
type ekey struct {
	src, dst uint32 // by fams: an IPv4 address (big-endian value) or a number in names.wide
	a, b     uint16 // ports, or ICMP id and type<<8|code
	proto    uint8
	fams     uint8 // src's form in bits 0-1, dst's in bits 2-3, the l4 layout in bits 4-5
	zone     uint16
}

// erec is the rest of an entry, 40 octets.
type erec struct {
	status, timeout, mark uint32
	rsrc, rdst            uint32 // the reply tuple, as in ekey
	extra                 uint32 // a number in names.extra, 0 for none
	ra, rb                uint16
	rproto, rfams         uint8
	tcp                   ct.TCPInfo
	helper                uint16
}

// extras are the rare fields of an entry.
type extras struct {
	sctp              ct.SCTPInfo
	seqOrig, seqReply ct.SeqAdj
}

func extrasOf(e *ct.Entry) extras {
	return extras{sctp: e.SCTP, seqOrig: e.SeqAdjOrig, seqReply: e.SeqAdjReply}
}

// shared stores values each once with the number of records holding it;
// a record holds its number (from 1). A value's number stays the same
// while any record holds it, so two records hold equal numbers exactly
// when they hold equal values, and records compare with ==.
type shared[T comparable] struct {
	vals []sharedValue[T] // number n is vals[n-1]
	ids  map[T]uint32
	free []uint32 // numbers of unused vals
}

type sharedValue[T any] struct {
	v    T
	refs uint32
}

// hold returns v's number and counts one more holder.
func (w *shared[T]) hold(v T) uint32 {
	if id, ok := w.ids[v]; ok {
		w.vals[id-1].refs++
		return id
	}
	if w.ids == nil {
		w.ids = make(map[T]uint32)
	}
	var id uint32
	if n := len(w.free); n > 0 {
		id = w.free[n-1]
		w.free = w.free[:n-1]
		w.vals[id-1] = sharedValue[T]{v: v, refs: 1}
	} else {
		w.vals = append(w.vals, sharedValue[T]{v: v, refs: 1})
		id = uint32(len(w.vals))
	}
	w.ids[v] = id
	return id
}

// find returns v's number without holding it, false if no record holds v.
func (w *shared[T]) find(v T) (uint32, bool) {
	id, ok := w.ids[v]
	return id, ok
}

// release counts one holder less of number id (0: none) and forgets the
// value with its last holder.
func (w *shared[T]) release(id uint32) {
	if id == 0 {
		return
	}
	sv := &w.vals[id-1]
	if sv.refs--; sv.refs > 0 {
		return
	}
	delete(w.ids, sv.v)
	*sv = sharedValue[T]{}
	if len(w.ids) == 0 { // the last one: give the memory back
		*w = shared[T]{}
		return
	}
	w.free = append(w.free, id)
}

// value returns number id's value (the zero T for 0).
func (w *shared[T]) value(id uint32) T {
	if id == 0 || int(id) > len(w.vals) {
		var zero T
		return zero
	}
	return w.vals[id-1].v
}

// len is the number of distinct values held.
func (w *shared[T]) len() int { return len(w.ids) }

// packAddr returns a's form and 4-octet field, holding a wide value when
// hold is set, or only finding it (ok false: no record holds it).
func packAddr(a netip.Addr, w *shared[[16]byte], hold bool) (fam uint8, v uint32, ok bool) {
	switch {
	case a.Is4():
		b := a.As4()
		return famV4, binary.BigEndian.Uint32(b[:]), true
	case !a.IsValid():
		return famNone, 0, true
	}
	if hold {
		return famWide, w.hold(a.As16()), true
	}
	id, ok := w.find(a.As16())
	return famWide, id, ok
}

func unpackAddr(fam uint8, v uint32, w *shared[[16]byte]) netip.Addr {
	switch fam {
	case famV4:
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	case famWide:
		return netip.AddrFrom16(w.value(v))
	}
	return netip.Addr{}
}

// l4Of packs t's protocol fields into two 16-bit words and says their
// layout, false if t carries a field its protocol has not.
func l4Of(t *ct.Tuple) (a, b uint16, layout uint8, ok bool) {
	switch {
	case ct.HasPorts(t.Proto):
		return t.SrcPort, t.DstPort, l4Ports, t.ICMPID == 0 && t.ICMPType == 0 && t.ICMPCode == 0
	case ct.IsICMP(t.Proto):
		return t.ICMPID, uint16(t.ICMPType)<<8 | uint16(t.ICMPCode), l4ICMP, t.SrcPort == 0 && t.DstPort == 0
	}
	return 0, 0, l4None, t.SrcPort == 0 && t.DstPort == 0 && t.ICMPID == 0 && t.ICMPType == 0 && t.ICMPCode == 0
}

// ptuple is a packed tuple: ekey's fields, or erec's reply fields.
type ptuple struct {
	src, dst    uint32
	a, b        uint16
	proto, fams uint8
}

// packTuple packs t, holding its wide addresses when hold is set; false
// if t cannot be packed or (without hold) an address is held by no record.
// Nothing stays held on failure.
func packTuple(t *ct.Tuple, w *shared[[16]byte], hold bool) (p ptuple, ok bool) {
	a, b, layout, ok := l4Of(t)
	if !ok {
		return p, false
	}
	sf, sv, ok1 := packAddr(t.Src, w, hold)
	df, dv, ok2 := packAddr(t.Dst, w, hold)
	if !ok1 || !ok2 {
		return p, false // only without hold: nothing to release
	}
	return ptuple{src: sv, dst: dv, a: a, b: b, proto: t.Proto, fams: sf | df<<2 | layout}, true
}

func (p *ptuple) unpack(w *shared[[16]byte]) ct.Tuple {
	t := ct.Tuple{Src: unpackAddr(p.fams&3, p.src, w), Dst: unpackAddr(p.fams>>2&3, p.dst, w), Proto: p.proto}
	switch p.fams & l4Mask {
	case l4Ports:
		t.SrcPort, t.DstPort = p.a, p.b
	case l4ICMP:
		t.ICMPID, t.ICMPType, t.ICMPCode = p.a, uint8(p.b>>8), uint8(p.b)
	}
	return t
}

// release lets go of p's wide addresses.
func (p *ptuple) release(w *shared[[16]byte]) {
	if p.fams&3 == famWide {
		w.release(p.src)
	}
	if p.fams>>2&3 == famWide {
		w.release(p.dst)
	}
}

func (k *ekey) tuple() ptuple {
	return ptuple{src: k.src, dst: k.dst, a: k.a, b: k.b, proto: k.proto, fams: k.fams}
}

func (r *erec) reply() ptuple {
	return ptuple{src: r.rsrc, dst: r.rdst, a: r.ra, b: r.rb, proto: r.rproto, fams: r.rfams}
}

func keyOfTuple(p ptuple, zone uint16) ekey {
	return ekey{src: p.src, dst: p.dst, a: p.a, b: p.b, proto: p.proto, fams: p.fams, zone: zone}
}

// ctuple is a ct.Tuple in 44 octets: both addresses as 16 octets (IPv4
// mapped) plus their families, so that the conversion is exact. The
// expectation records use it: expectations are few.
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

func packCTuple(t *ct.Tuple) ctuple {
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
// small number instead of a string (0 is "no helper"), and holds the side
// values of the entry records. The kernel knows a handful of helpers; the
// bound protects against a peer that sends thousands of made-up names.
type names struct {
	list  []string
	ids   map[string]uint16
	wide  shared[[16]byte]
	extra shared[extras]
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

// entryKind tells the generic tables how to handle ct.Entry.
type entryKind struct{}

// split holds the entry's wide values; the table releases them with the
// record (release).
func (entryKind) split(e ct.Entry, n *names) (ekey, erec, bool) {
	h, ok := n.id(e.Helper)
	if !ok {
		return ekey{}, erec{}, false
	}
	if _, _, _, ok := l4Of(&e.Orig); !ok {
		return ekey{}, erec{}, false
	}
	if _, _, _, ok := l4Of(&e.Reply); !ok {
		return ekey{}, erec{}, false
	}
	w := &n.wide
	o, _ := packTuple(&e.Orig, w, true)
	r, _ := packTuple(&e.Reply, w, true)
	rec := erec{
		status: e.Status, timeout: e.Timeout, mark: e.Mark,
		rsrc: r.src, rdst: r.dst, ra: r.a, rb: r.b, rproto: r.proto, rfams: r.fams,
		tcp: e.TCP, helper: h,
	}
	if x := extrasOf(&e); x != (extras{}) {
		rec.extra = n.extra.hold(x)
	}
	return keyOfTuple(o, e.Zone), rec, true
}

func (entryKind) join(k *ekey, r *erec, n *names) ct.Entry {
	w := &n.wide
	o, rp := k.tuple(), r.reply()
	e := ct.Entry{
		Orig: o.unpack(w), Reply: rp.unpack(w),
		Status: r.status, Timeout: r.timeout, Mark: r.mark, Zone: k.zone,
		TCP:    r.tcp,
		Helper: n.name(r.helper),
	}
	if r.extra != 0 {
		x := n.extra.value(r.extra)
		e.SCTP, e.SeqAdjOrig, e.SeqAdjReply = x.sctp, x.seqOrig, x.seqReply
	}
	return e
}

func (entryKind) releaseKey(k ekey, n *names) {
	p := k.tuple()
	p.release(&n.wide)
}

func (entryKind) releaseRec(r erec, n *names) {
	p := r.reply()
	p.release(&n.wide)
	n.extra.release(r.extra)
}

func (entryKind) packKey(k ct.Key, n *names) (ekey, bool) {
	p, ok := packTuple(&k.Orig, &n.wide, false)
	return keyOfTuple(p, k.Zone), ok
}

func (entryKind) key(k *ekey, n *names) ct.Key {
	p := k.tuple()
	return ct.Key{Orig: p.unpack(&n.wide), Zone: k.zone}
}

func (entryKind) hash(k ekey, seed uint64) uint64 {
	h := mix(seed, uint64(k.src)|uint64(k.dst)<<32)
	return mix(h, uint64(k.a)|uint64(k.b)<<16|uint64(k.proto)<<32|uint64(k.fams)<<40|uint64(k.zone)<<48)
}
func (entryKind) keyOf(e ct.Entry) ct.Key     { return e.Key() }
func (entryKind) bucket(e ct.Entry) int       { return e.Key().Bucket(ct.Buckets) }
func (entryKind) digest(e ct.Entry) uint64    { return e.Digest() }
func (entryKind) timeout(r erec) uint32       { return r.timeout }
func (entryKind) timeoutOf(e ct.Entry) uint32 { return e.Timeout }

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
	helper, fn                    uint16 // names' numbers
}

// expectKind tells the generic tables how to handle ct.Expect.
type expectKind struct{}

func (expectKind) split(x ct.Expect, n *names) (xkey, xrec, bool) {
	h, ok1 := n.id(x.Helper)
	fn, ok2 := n.id(x.Fn)
	return xkey{master: packCTuple(&x.Master), tuple: packCTuple(&x.Tuple), zone: x.Zone}, xrec{
		mask: packCTuple(&x.Mask), nat: packCTuple(&x.NATTuple),
		timeout: x.Timeout, flags: x.Flags, class: x.Class, natDir: x.NATDir, helper: h, fn: fn,
	}, ok1 && ok2
}

func (expectKind) join(k *xkey, r *xrec, n *names) ct.Expect {
	return ct.Expect{
		Master: k.master.unpack(), Tuple: k.tuple.unpack(), Mask: r.mask.unpack(),
		Timeout: r.timeout, Zone: k.zone, Flags: r.flags, Class: r.class,
		Helper: n.name(r.helper), NATDir: r.natDir, NATTuple: r.nat.unpack(), Fn: n.name(r.fn),
	}
}

func (expectKind) packKey(k ct.ExpectKey, _ *names) (xkey, bool) {
	return xkey{master: packCTuple(&k.Master), tuple: packCTuple(&k.Tuple), zone: k.Zone}, true
}
func (expectKind) releaseKey(xkey, *names) {}
func (expectKind) releaseRec(xrec, *names) {}
func (expectKind) key(k *xkey, _ *names) ct.ExpectKey {
	return ct.ExpectKey{Master: k.master.unpack(), Tuple: k.tuple.unpack(), Zone: k.zone}
}
func (expectKind) hash(k xkey, seed uint64) uint64 {
	return mix(k.tuple.mix(k.master.mix(seed)), uint64(k.zone))
}
func (expectKind) keyOf(x ct.Expect) ct.ExpectKey { return x.Key() }
func (expectKind) bucket(x ct.Expect) int         { return x.Key().Bucket(ct.Buckets) }
func (expectKind) digest(x ct.Expect) uint64      { return x.Digest() }
func (expectKind) timeout(r xrec) uint32          { return r.timeout }
func (expectKind) timeoutOf(x ct.Expect) uint32   { return x.Timeout }
func (expectKind) sameButTimeout(a, b xrec) bool {
	b.timeout = a.timeout
	return a == b
}

// filterTuple: an expectation is filtered by its master connection, so that
// it is kept exactly when the connection that announced it is.
func (expectKind) filterTuples(x ct.Expect) (orig, reply ct.Tuple, hasReply bool) {
	return x.Master, ct.Tuple{}, false
}
