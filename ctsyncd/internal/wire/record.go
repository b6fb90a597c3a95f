package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// Presence bits of an entry record: optional fields are sent only when
// non-zero, and a bit set over a zero value is refused (one encoding per
// entry, so a MAC or a fuzzer's round trip sees every octet mean something).
const (
	entryMark   = 1 << 0
	entryZone   = 1 << 1
	entryHelper = 1 << 2
	entryTCP    = 1 << 3
	entrySCTP   = 1 << 4
	entrySeqAdj = 1 << 5
	entryAll    = entryMark | entryZone | entryHelper | entryTCP | entrySCTP | entrySeqAdj
)

// seqAdjLen is the NAT sequence adjustments of both directions: position,
// offset before, offset after, 4 octets each.
const seqAdjLen = 2 * 3 * 4

// Presence bits of an expectation record.
const (
	expectZone   = 1 << 0
	expectHelper = 1 << 1
	expectNAT    = 1 << 2
	expectFlags  = 1 << 3
	expectClass  = 1 << 4
	expectFn     = 1 << 5
	expectAll    = expectZone | expectHelper | expectNAT | expectFlags | expectClass | expectFn
)

// Address bits of an expectation's tuple: a mask or NAT tuple may lack an
// address.
const (
	tupleSrc = 1 << 0
	tupleDst = 1 << 1
)

const (
	sweepLen  = 1 + 4 + 1 + 8
	digestLen = 1 + 1 + ct.Buckets*(4+8)
	// minRecordLen is the shortest record: the delete of an IPv4 entry
	// of a protocol without ports.
	minRecordLen = 4 + 2*4
)

func famOf(a netip.Addr) byte {
	if a.Is4() {
		return 4
	}
	return 6
}

func addrLen(fam byte) int {
	if fam == 4 {
		return 4
	}
	return 16
}

// l4Len is what a tuple of proto carries besides its addresses: ports, or
// ICMP id, type and code, or nothing.
func l4Len(proto uint8) int {
	if ct.HasPorts(proto) || ct.IsICMP(proto) {
		return 4
	}
	return 0
}

// RecordSize is the exact number of octets r takes in an Update, whether
// or not Marshal accepts r (0 for an unknown kind).
func RecordSize(r *Record) int {
	switch r.Kind {
	case RecordUpsert, RecordDelete:
		e := &r.Entry
		fam := famOf(e.Orig.Src)
		tuple := 2*addrLen(fam) + l4Len(e.Orig.Proto)
		n := 4 + tuple
		if e.Zone != 0 {
			n += 2
		}
		if r.Kind == RecordDelete {
			return n
		}
		n += tuple + 8
		if e.TCP != (ct.TCPInfo{}) {
			n += 5
		}
		if e.SCTP != (ct.SCTPInfo{}) {
			n += 9
		}
		if e.Mark != 0 {
			n += 4
		}
		if e.HasSeqAdj() {
			n += seqAdjLen
		}
		if e.Helper != "" {
			n += 1 + len(e.Helper)
		}
		return n
	case RecordExpectUpsert, RecordExpectDelete:
		x := r.Expect
		if x == nil {
			return 0
		}
		fam := famOf(x.Master.Src)
		n := 3 + xtupleSize(&x.Master, fam) + xtupleSize(&x.Tuple, fam)
		if x.Zone != 0 {
			n += 2
		}
		if r.Kind == RecordExpectDelete {
			return n
		}
		n += xtupleSize(&x.Mask, fam) + 4
		if x.Flags != 0 {
			n += 4
		}
		if x.Class != 0 {
			n += 4
		}
		if x.Helper != "" {
			n += 1 + len(x.Helper)
		}
		if hasNAT(x) {
			n += 4 + xtupleSize(&x.NATTuple, fam)
		}
		if x.Fn != "" {
			n += 1 + len(x.Fn)
		}
		return n
	case RecordSweepBegin, RecordSweepEnd:
		return sweepLen
	case RecordDigest:
		return digestLen
	}
	return 0
}

func xtupleSize(t *ct.Tuple, fam byte) int {
	n := 2 + l4Len(t.Proto)
	if t.Src.IsValid() {
		n += addrLen(fam)
	}
	if t.Dst.IsValid() {
		n += addrLen(fam)
	}
	return n
}

func hasNAT(x *ct.Expect) bool { return x.NATDir != 0 || x.NATTuple != (ct.Tuple{}) }

// AppendRecord appends r in its wire form (docs/ctsyncd-wire.md,
// "Records"), as Marshal writes it into an Update, and returns the
// extended buffer; RecordSize(r) octets are added. It refuses, with dst
// unchanged, what Marshal would refuse. A sender that keeps records
// encoded (Message.Raw) builds them with it.
func AppendRecord(dst []byte, r *Record) ([]byte, error) {
	b, err := appendRecord(dst, r)
	if err != nil {
		return dst, fmt.Errorf("wire: %v record: %w", r.Kind, err)
	}
	return b, nil
}

// ParseRecord decodes the record at the start of b into r (overwriting
// it) and returns its length: Unmarshal's decoding of one record of an
// Update. Errors are *DropError.
func ParseRecord(b []byte, r *Record) (int, error) {
	*r = Record{}
	n, err := decodeRecord(b, r)
	if err != nil {
		*r = Record{}
		return 0, err
	}
	return n, nil
}

// appendRecord encodes r, refusing what decodeRecord would refuse.
func appendRecord(b []byte, r *Record) ([]byte, error) {
	switch r.Kind {
	case RecordUpsert, RecordDelete:
		return appendEntry(b, r.Kind, &r.Entry)
	case RecordExpectUpsert, RecordExpectDelete:
		if r.Expect == nil {
			return nil, fmt.Errorf("%v record without Expect (nil)", r.Kind)
		}
		return appendExpect(b, r.Kind, r.Expect)
	case RecordSweepBegin, RecordSweepEnd:
		s := r.Sweep
		if s.Table > TableExpect {
			return nil, fmt.Errorf("sweep table %d: use TableMain or TableExpect", s.Table)
		}
		if s.Buckets == 0 {
			return nil, errors.New("sweep of no bucket")
		}
		b = append(b, byte(r.Kind))
		b = binary.BigEndian.AppendUint32(b, s.ID)
		b = append(b, byte(s.Table))
		return binary.BigEndian.AppendUint64(b, s.Buckets), nil
	case RecordDigest:
		d := r.Digest
		if d == nil {
			return nil, errors.New("digest record without Digest (nil)")
		}
		if d.Table > TableExpect {
			return nil, fmt.Errorf("digest table %d: use TableMain or TableExpect", d.Table)
		}
		b = append(b, byte(r.Kind), byte(d.Table))
		for _, s := range d.Sums {
			b = binary.BigEndian.AppendUint32(b, s.Count)
			b = binary.BigEndian.AppendUint64(b, s.Hash)
		}
		return b, nil
	}
	return nil, fmt.Errorf("record kind %d: use a RecordKind constant", r.Kind)
}

// checkAddr checks the address of a tuple; tuple and end name it in the
// error (kept apart so that the good path builds no string).
func checkAddr(a netip.Addr, fam byte, tuple, end string) error {
	switch {
	case !a.IsValid():
		return fmt.Errorf("%s %s address missing", tuple, end)
	case a.Zone() != "":
		return fmt.Errorf("%s %s address %v: a scoped address (with a zone) cannot be synced", tuple, end, a)
	case famOf(a) != fam:
		return fmt.Errorf("%s %s address %v: not IPv%d like the entry's first address", tuple, end, a, fam)
	}
	return nil
}

// checkL4 refuses protocol fields the tuple's protocol does not carry:
// they would not survive the trip.
func checkL4(t *ct.Tuple, what string) error {
	if !ct.HasPorts(t.Proto) && (t.SrcPort != 0 || t.DstPort != 0) {
		return fmt.Errorf("%s tuple: ports on protocol %d, which has none", what, t.Proto)
	}
	if !ct.IsICMP(t.Proto) && (t.ICMPID != 0 || t.ICMPType != 0 || t.ICMPCode != 0) {
		return fmt.Errorf("%s tuple: ICMP fields on protocol %d", what, t.Proto)
	}
	return nil
}

// checkName checks a helper's or an expectation function's name (what)
// of at most max octets.
func checkName(what, h string, max int) error {
	if len(h) > max {
		return fmt.Errorf("%s name %q: longer than %d octets", what, h, max)
	}
	if strings.IndexByte(h, 0) >= 0 {
		return fmt.Errorf("%s name %q holds a NUL", what, h)
	}
	return nil
}

func checkEntryTuple(t *ct.Tuple, proto uint8, fam byte, what string) error {
	if t.Proto != proto {
		return fmt.Errorf("%s tuple: protocol %d, the original's is %d", what, t.Proto, proto)
	}
	if err := checkAddr(t.Src, fam, what, "source"); err != nil {
		return err
	}
	if err := checkAddr(t.Dst, fam, what, "destination"); err != nil {
		return err
	}
	return checkL4(t, what)
}

func appendL4(b []byte, t *ct.Tuple) []byte {
	switch {
	case ct.HasPorts(t.Proto):
		b = binary.BigEndian.AppendUint16(b, t.SrcPort)
		return binary.BigEndian.AppendUint16(b, t.DstPort)
	case ct.IsICMP(t.Proto):
		b = binary.BigEndian.AppendUint16(b, t.ICMPID)
		return append(b, t.ICMPType, t.ICMPCode)
	}
	return b
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		return append(b, v[:]...)
	}
	v := a.As16()
	return append(b, v[:]...)
}

func appendEntry(b []byte, kind RecordKind, e *ct.Entry) ([]byte, error) {
	proto, fam := e.Orig.Proto, famOf(e.Orig.Src)
	if err := checkEntryTuple(&e.Orig, proto, fam, "original"); err != nil {
		return nil, err
	}
	var flags byte
	if e.Zone != 0 {
		flags |= entryZone
	}
	if kind == RecordUpsert {
		if err := checkEntryTuple(&e.Reply, proto, fam, "reply"); err != nil {
			return nil, err
		}
		if e.Mark != 0 {
			flags |= entryMark
		}
		if e.Helper != "" {
			if err := checkName("helper", e.Helper, MaxHelperLen); err != nil {
				return nil, err
			}
			flags |= entryHelper
		}
		if e.HasSeqAdj() {
			flags |= entrySeqAdj
		}
		if e.TCP != (ct.TCPInfo{}) {
			if proto != ct.ProtoTCP {
				return nil, fmt.Errorf("TCP state on a protocol %d entry", proto)
			}
			flags |= entryTCP
		}
		if e.SCTP != (ct.SCTPInfo{}) {
			if proto != ct.ProtoSCTP {
				return nil, fmt.Errorf("SCTP state on a protocol %d entry", proto)
			}
			flags |= entrySCTP
		}
	}
	b = append(b, byte(kind), fam, proto, flags)
	b = appendAddr(b, e.Orig.Src)
	b = appendAddr(b, e.Orig.Dst)
	b = appendL4(b, &e.Orig)
	if kind == RecordUpsert {
		b = appendAddr(b, e.Reply.Src)
		b = appendAddr(b, e.Reply.Dst)
		b = appendL4(b, &e.Reply)
		b = binary.BigEndian.AppendUint32(b, e.Status)
		b = binary.BigEndian.AppendUint32(b, e.Timeout)
		if flags&entryTCP != 0 {
			t := e.TCP
			b = append(b, t.State, t.WScaleOrig, t.WScaleReply, t.FlagsOrig, t.FlagsReply)
		}
		if flags&entrySCTP != 0 {
			b = append(b, e.SCTP.State)
			b = binary.BigEndian.AppendUint32(b, e.SCTP.VTagOrig)
			b = binary.BigEndian.AppendUint32(b, e.SCTP.VTagReply)
		}
		if flags&entryMark != 0 {
			b = binary.BigEndian.AppendUint32(b, e.Mark)
		}
		if flags&entrySeqAdj != 0 {
			for _, a := range [2]*ct.SeqAdj{&e.SeqAdjOrig, &e.SeqAdjReply} {
				b = binary.BigEndian.AppendUint32(b, a.CorrectionPos)
				b = binary.BigEndian.AppendUint32(b, a.OffsetBefore)
				b = binary.BigEndian.AppendUint32(b, a.OffsetAfter)
			}
		}
	}
	if flags&entryZone != 0 {
		b = binary.BigEndian.AppendUint16(b, e.Zone)
	}
	if flags&entryHelper != 0 {
		b = append(b, byte(len(e.Helper)))
		b = append(b, e.Helper...)
	}
	return b, nil
}

func checkXTuple(t *ct.Tuple, fam byte, what string, needAddrs bool) error {
	if t.Src.IsValid() || needAddrs {
		if err := checkAddr(t.Src, fam, what, "source"); err != nil {
			return err
		}
	}
	if t.Dst.IsValid() || needAddrs {
		if err := checkAddr(t.Dst, fam, what, "destination"); err != nil {
			return err
		}
	}
	return checkL4(t, what)
}

func appendXTuple(b []byte, t *ct.Tuple) []byte {
	var bits byte
	if t.Src.IsValid() {
		bits |= tupleSrc
	}
	if t.Dst.IsValid() {
		bits |= tupleDst
	}
	b = append(b, t.Proto, bits)
	if t.Src.IsValid() {
		b = appendAddr(b, t.Src)
	}
	if t.Dst.IsValid() {
		b = appendAddr(b, t.Dst)
	}
	return appendL4(b, t)
}

func appendExpect(b []byte, kind RecordKind, x *ct.Expect) ([]byte, error) {
	fam := famOf(x.Master.Src)
	if err := checkXTuple(&x.Master, fam, "master", true); err != nil {
		return nil, err
	}
	if err := checkXTuple(&x.Tuple, fam, "expected", false); err != nil {
		return nil, err
	}
	var flags byte
	if x.Zone != 0 {
		flags |= expectZone
	}
	if kind == RecordExpectUpsert {
		if err := checkXTuple(&x.Mask, fam, "mask", false); err != nil {
			return nil, err
		}
		if x.Helper != "" {
			if err := checkName("helper", x.Helper, MaxHelperLen); err != nil {
				return nil, err
			}
			flags |= expectHelper
		}
		if x.Fn != "" {
			if err := checkName("expectation function", x.Fn, MaxExpectFnLen); err != nil {
				return nil, err
			}
			flags |= expectFn
		}
		if hasNAT(x) {
			if err := checkXTuple(&x.NATTuple, fam, "NAT", false); err != nil {
				return nil, err
			}
			flags |= expectNAT
		}
		if x.Flags != 0 {
			flags |= expectFlags
		}
		if x.Class != 0 {
			flags |= expectClass
		}
	}
	b = append(b, byte(kind), fam, flags)
	b = appendXTuple(b, &x.Master)
	b = appendXTuple(b, &x.Tuple)
	if kind == RecordExpectUpsert {
		b = appendXTuple(b, &x.Mask)
		b = binary.BigEndian.AppendUint32(b, x.Timeout)
		if flags&expectFlags != 0 {
			b = binary.BigEndian.AppendUint32(b, x.Flags)
		}
		if flags&expectClass != 0 {
			b = binary.BigEndian.AppendUint32(b, x.Class)
		}
	}
	if flags&expectZone != 0 {
		b = binary.BigEndian.AppendUint16(b, x.Zone)
	}
	if flags&expectHelper != 0 {
		b = append(b, byte(len(x.Helper)))
		b = append(b, x.Helper...)
	}
	if flags&expectNAT != 0 {
		b = binary.BigEndian.AppendUint32(b, x.NATDir)
		b = appendXTuple(b, &x.NATTuple)
	}
	if flags&expectFn != 0 {
		b = append(b, byte(len(x.Fn)))
		b = append(b, x.Fn...)
	}
	return b, nil
}

// reader decodes one record. The first failure sticks: later reads return
// zero values, so the decoders read straight through and check once.
type reader struct {
	b   []byte
	off int
	err *DropError
}

func (r *reader) need(n int) bool {
	if r.err == nil && len(r.b)-r.off >= n {
		return true
	}
	r.short(n)
	return false
}

// short records the overrun, out of line so that need inlines.
func (r *reader) short(n int) {
	if r.err == nil {
		r.err = drop(DropTruncated, "record overruns the datagram: %d octets needed at record offset %d, %d left", n, r.off, len(r.b)-r.off)
	}
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = drop(DropBadRecord, format, args...)
	}
}

func (r *reader) u8() byte {
	if !r.need(1) {
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

func (r *reader) addr(fam byte) netip.Addr {
	if fam == 4 {
		if !r.need(4) {
			return netip.Addr{}
		}
		a := netip.AddrFrom4([4]byte(r.b[r.off:]))
		r.off += 4
		return a
	}
	if !r.need(16) {
		return netip.Addr{}
	}
	a := netip.AddrFrom16([16]byte(r.b[r.off:]))
	r.off += 16
	return a
}

func (r *reader) l4(t *ct.Tuple) {
	switch {
	case ct.HasPorts(t.Proto):
		t.SrcPort = r.u16()
		t.DstPort = r.u16()
	case ct.IsICMP(t.Proto):
		t.ICMPID = r.u16()
		t.ICMPType = r.u8()
		t.ICMPCode = r.u8()
	}
}

func (r *reader) xtuple(t *ct.Tuple, fam byte, what string) (bits byte) {
	t.Proto = r.u8()
	bits = r.u8()
	if bits&^(tupleSrc|tupleDst) != 0 {
		r.fail("%s tuple: address bits %#02x undefined", what, bits)
	}
	if bits&tupleSrc != 0 {
		t.Src = r.addr(fam)
	}
	if bits&tupleDst != 0 {
		t.Dst = r.addr(fam)
	}
	r.l4(t)
	return bits
}

// name reads a helper's or an expectation function's name (what) of at
// most max octets,
// sharing the string of the usual ones so that decoding them allocates
// nothing.
func (r *reader) name(what string, max int) string {
	n := int(r.u8())
	if r.err != nil {
		return ""
	}
	if n == 0 || n > max {
		r.fail("%s name of %d octets: want 1 to %d", what, n, max)
		return ""
	}
	if !r.need(n) {
		return ""
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	for _, c := range s {
		if c == 0 {
			r.fail("%s name %q holds a NUL", what, s)
			return ""
		}
	}
	switch string(s) {
	case "ftp":
		return "ftp"
	case "sip":
		return "sip"
	case "tftp":
		return "tftp"
	case "h245":
		return "h245"
	case "Q.931":
		return "Q.931"
	case "RAS":
		return "RAS"
	case "pptp":
		return "pptp"
	case "irc":
		return "irc"
	case "amanda":
		return "amanda"
	case "netbios-ns":
		return "netbios-ns"
	case "snmp":
		return "snmp"
	case "sane":
		return "sane"
	case "nat-follow-master":
		return "nat-follow-master"
	case "H.245":
		return "H.245"
	}
	return string(s)
}

func (r *reader) family() byte {
	fam := r.u8()
	if r.err == nil && fam != 4 && fam != 6 {
		r.fail("address family %d: want 4 or 6", fam)
	}
	return fam
}

// decodeRecord decodes the record at the start of b into rec and returns
// its length.
func decodeRecord(b []byte, rec *Record) (int, *DropError) {
	r := reader{b: b}
	rec.Kind = RecordKind(r.u8())
	switch rec.Kind {
	case RecordUpsert, RecordDelete:
		r.entry(rec.Kind, &rec.Entry)
	case RecordExpectUpsert, RecordExpectDelete:
		rec.Expect = new(ct.Expect)
		r.expect(rec.Kind, rec.Expect)
	case RecordSweepBegin, RecordSweepEnd:
		s := &rec.Sweep
		s.ID = r.u32()
		s.Table = Table(r.u8())
		s.Buckets = r.u64()
		if r.err == nil && s.Table > TableExpect {
			r.fail("sweep table %d: want 0 (main) or 1 (expect)", s.Table)
		}
		if r.err == nil && s.Buckets == 0 {
			r.fail("sweep %d of no bucket", s.ID)
		}
	case RecordDigest:
		if !r.need(digestLen - 1) {
			break
		}
		d := &Digest{Table: Table(r.u8())}
		if d.Table > TableExpect {
			r.fail("digest table %d: want 0 (main) or 1 (expect)", d.Table)
			break
		}
		for i := range d.Sums {
			d.Sums[i].Count = r.u32()
			d.Sums[i].Hash = r.u64()
		}
		rec.Digest = d
	default:
		return 0, drop(DropBadRecord, "record kind %d: this version knows kinds %d to %d", rec.Kind, RecordUpsert, RecordDigest)
	}
	if r.err != nil {
		return 0, r.err
	}
	return r.off, nil
}

func (r *reader) entry(kind RecordKind, e *ct.Entry) {
	fam := r.family()
	proto := r.u8()
	flags := r.u8()
	if r.err != nil {
		return
	}
	allowed := byte(entryAll)
	if kind == RecordDelete {
		allowed = entryZone
	}
	if flags&^allowed != 0 {
		r.fail("%v: presence bits %#02x undefined for it", kind, flags&^allowed)
		return
	}
	if flags&entryTCP != 0 && proto != ct.ProtoTCP {
		r.fail("TCP state on a protocol %d entry", proto)
		return
	}
	if flags&entrySCTP != 0 && proto != ct.ProtoSCTP {
		r.fail("SCTP state on a protocol %d entry", proto)
		return
	}
	// The fixed part's length follows from family, protocol and presence
	// bits: one bounds check, then straight reads (the hot path).
	al, l4 := addrLen(fam), l4Len(proto)
	n := 2*al + l4
	if kind == RecordUpsert {
		n += 2*al + l4 + 8
		if flags&entryTCP != 0 {
			n += 5
		}
		if flags&entrySCTP != 0 {
			n += 9
		}
		if flags&entryMark != 0 {
			n += 4
		}
		if flags&entrySeqAdj != 0 {
			n += seqAdjLen
		}
	}
	if flags&entryZone != 0 {
		n += 2
	}
	if !r.need(n) {
		return
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	i := getTuple(p, &e.Orig, fam, proto)
	if kind == RecordUpsert {
		i += getTuple(p[i:], &e.Reply, fam, proto)
		e.Status = binary.BigEndian.Uint32(p[i:])
		e.Timeout = binary.BigEndian.Uint32(p[i+4:])
		i += 8
		if flags&entryTCP != 0 {
			e.TCP = ct.TCPInfo{State: p[i], WScaleOrig: p[i+1], WScaleReply: p[i+2], FlagsOrig: p[i+3], FlagsReply: p[i+4]}
			i += 5
		}
		if flags&entrySCTP != 0 {
			e.SCTP = ct.SCTPInfo{State: p[i], VTagOrig: binary.BigEndian.Uint32(p[i+1:]), VTagReply: binary.BigEndian.Uint32(p[i+5:])}
			i += 9
		}
		if flags&entryMark != 0 {
			e.Mark = binary.BigEndian.Uint32(p[i:])
			i += 4
		}
		if flags&entrySeqAdj != 0 {
			for _, a := range [2]*ct.SeqAdj{&e.SeqAdjOrig, &e.SeqAdjReply} {
				*a = ct.SeqAdj{CorrectionPos: binary.BigEndian.Uint32(p[i:]),
					OffsetBefore: binary.BigEndian.Uint32(p[i+4:]), OffsetAfter: binary.BigEndian.Uint32(p[i+8:])}
				i += 12
			}
		}
	}
	if flags&entryZone != 0 {
		e.Zone = binary.BigEndian.Uint16(p[i:])
	}
	if flags&entryHelper != 0 {
		e.Helper = r.name("helper", MaxHelperLen)
	}
	if r.err != nil {
		return
	}
	switch {
	case flags&entryTCP != 0 && e.TCP == (ct.TCPInfo{}),
		flags&entrySCTP != 0 && e.SCTP == (ct.SCTPInfo{}),
		flags&entryMark != 0 && e.Mark == 0,
		flags&entrySeqAdj != 0 && !e.HasSeqAdj(),
		flags&entryZone != 0 && e.Zone == 0:
		r.fail("presence bits %#02x announce a field that is zero", flags)
	}
}

// getTuple decodes an entry's tuple from p, which the caller made long
// enough, and returns its length.
func getTuple(p []byte, t *ct.Tuple, fam, proto byte) int {
	t.Proto = proto
	var i int
	if fam == 4 {
		t.Src = netip.AddrFrom4([4]byte(p[0:4]))
		t.Dst = netip.AddrFrom4([4]byte(p[4:8]))
		i = 8
	} else {
		t.Src = netip.AddrFrom16([16]byte(p[0:16]))
		t.Dst = netip.AddrFrom16([16]byte(p[16:32]))
		i = 32
	}
	switch {
	case ct.HasPorts(proto):
		t.SrcPort = binary.BigEndian.Uint16(p[i:])
		t.DstPort = binary.BigEndian.Uint16(p[i+2:])
		i += 4
	case ct.IsICMP(proto):
		t.ICMPID = binary.BigEndian.Uint16(p[i:])
		t.ICMPType = p[i+2]
		t.ICMPCode = p[i+3]
		i += 4
	}
	return i
}

func (r *reader) expect(kind RecordKind, x *ct.Expect) {
	fam := r.family()
	flags := r.u8()
	if r.err != nil {
		return
	}
	allowed := byte(expectAll)
	if kind == RecordExpectDelete {
		allowed = expectZone
	}
	if flags&^allowed != 0 {
		r.fail("%v: presence bits %#02x undefined for it", kind, flags&^allowed)
		return
	}
	if bits := r.xtuple(&x.Master, fam, "master"); r.err == nil && bits != tupleSrc|tupleDst {
		r.fail("master tuple without both addresses")
	}
	r.xtuple(&x.Tuple, fam, "expected")
	if kind == RecordExpectUpsert {
		r.xtuple(&x.Mask, fam, "mask")
		x.Timeout = r.u32()
		if flags&expectFlags != 0 {
			x.Flags = r.u32()
		}
		if flags&expectClass != 0 {
			x.Class = r.u32()
		}
	}
	if flags&expectZone != 0 {
		x.Zone = r.u16()
	}
	if flags&expectHelper != 0 {
		x.Helper = r.name("helper", MaxHelperLen)
	}
	if flags&expectNAT != 0 {
		x.NATDir = r.u32()
		r.xtuple(&x.NATTuple, fam, "NAT")
	}
	if flags&expectFn != 0 {
		x.Fn = r.name("expectation function", MaxExpectFnLen)
	}
	if r.err != nil {
		return
	}
	switch {
	case flags&expectFlags != 0 && x.Flags == 0,
		flags&expectClass != 0 && x.Class == 0,
		flags&expectZone != 0 && x.Zone == 0,
		flags&expectNAT != 0 && !hasNAT(x):
		r.fail("presence bits %#02x announce a field that is zero", flags)
	}
}

// CheckEntry reports whether e can travel in an upsert: an entry the
// codec refuses must never enter the internal cache, or every datagram
// and sweep carrying it would fail again.
func CheckEntry(e *ct.Entry) error {
	var buf [256]byte
	_, err := appendEntry(buf[:0], RecordUpsert, e)
	return err
}

// CheckExpect is CheckEntry for expectations.
func CheckExpect(x *ct.Expect) error {
	var buf [512]byte
	_, err := appendExpect(buf[:0], RecordExpectUpsert, x)
	return err
}
