package ctnl

import (
	"net/netip"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// ctnetlink attribute numbers (linux/netfilter/nfnetlink_conntrack.h).
const (
	ctaTupleOrig  = 1
	ctaTupleReply = 2
	ctaStatus     = 3
	ctaProtoinfo  = 4
	ctaHelp       = 5
	ctaNATSrc     = 6
	ctaTimeout    = 7
	ctaMark       = 8
	ctaNATDst     = 13
	ctaSeqAdjOrig = 15
	ctaSeqAdjRepl = 16
	ctaZone       = 18

	ctaSeqAdjCorrectionPos = 1
	ctaSeqAdjOffsetBefore  = 2
	ctaSeqAdjOffsetAfter   = 3

	ctaTupleIP    = 1
	ctaTupleProto = 2

	ctaIPv4Src = 1
	ctaIPv4Dst = 2
	ctaIPv6Src = 3
	ctaIPv6Dst = 4

	ctaProtoNum      = 1
	ctaProtoSrcPort  = 2
	ctaProtoDstPort  = 3
	ctaProtoICMPID   = 4
	ctaProtoICMPType = 5
	ctaProtoICMPCode = 6
	ctaProtoICMP6ID  = 7
	ctaProtoICMP6Typ = 8
	ctaProtoICMP6Cod = 9

	ctaProtoinfoTCP  = 1
	ctaProtoinfoSCTP = 3

	ctaTCPState       = 1
	ctaTCPWScaleOrig  = 2
	ctaTCPWScaleReply = 3
	ctaTCPFlagsOrig   = 4
	ctaTCPFlagsReply  = 5

	ctaSCTPState     = 1
	ctaSCTPVTagOrig  = 2
	ctaSCTPVTagReply = 3

	ctaHelpName = 1

	ctaNATv4MinIP = 1
	ctaNATv4MaxIP = 2
	ctaNATProto   = 3
	ctaNATv6MinIP = 4
	ctaNATv6MaxIP = 5

	ctaProtoNATPortMin = 1
	ctaProtoNATPortMax = 2
)

// TCPFlagsMask are the IP_CT_TCP_FLAG_* bits a commit sets or clears
// (window scale seen, SACK permitted, close init, be liberal). The others
// (MAXACK_SET, DATA_UNACKNOWLEDGED...) describe sequence numbers this node
// never saw, so they are left to the kernel.
const TCPFlagsMask uint8 = 0x0f

// StatusRefused are the status bits a commit leaves out of CTA_STATUS:
// the kernel answers EBUSY to EXPECTED (an entry without a master) and
// DYING, and silently ignores the NAT, SEQ_ADJUST, TEMPLATE, NAT_CLASH and
// offload bits (IPS_UNCHANGEABLE_MASK) — NAT comes back through CTA_NAT_*
// instead. TestKernelStatusBits finds these out on the running kernel.
const StatusRefused = ct.StatusExpected | ct.StatusDying | ct.StatusSrcNAT | ct.StatusDstNAT |
	ct.StatusSeqAdjust | ct.StatusSrcNATDone | ct.StatusDstNATDone | ct.StatusTemplate |
	ct.StatusNATClash | ct.StatusOffload | ct.StatusHWOffload

// CommitStatus is the CTA_STATUS a commit writes for e: its status with
// IPS_CONFIRMED (without it ctnetlink answers EBUSY, FIELD-NOTES) and
// without the bits the kernel refuses or ignores.
func CommitStatus(status uint32) uint32 { return (status | ct.StatusConfirmed) &^ StatusRefused }

// Mode is how an entry is written.
type Mode uint8

const (
	// ModeCreate creates the entry (NLM_F_CREATE) with its NAT binding;
	// the kernel updates it instead when it exists, except for a NATed
	// entry, whose NAT cannot change (EOPNOTSUPP), and never with
	// ModeCreateExcl (EEXIST).
	ModeCreate Mode = iota
	// ModeCreateExcl creates the entry or fails with EEXIST.
	ModeCreateExcl
	// ModeUpdate changes an existing entry: status, timeout, mark,
	// protocol state, helper; never its tuples or NAT. ENOENT if absent.
	ModeUpdate
)

// EventKind is what happened to an entry or expectation.
type EventKind uint8

const (
	EventNew EventKind = iota + 1
	EventUpdate
	EventDestroy
)

func (k EventKind) String() string {
	switch k {
	case EventNew:
		return "new"
	case EventUpdate:
		return "update"
	case EventDestroy:
		return "destroy"
	}
	return "unknown"
}

// kindOf maps a message to its event: the kernel sends new entries as
// IPCTNL_MSG_CT_NEW with NLM_F_CREATE|NLM_F_EXCL, changes as _NEW without,
// deletions as _DELETE. Dump replies (NLM_F_MULTI, no create) read as
// updates.
func kindOf(h Header) EventKind {
	switch {
	case h.msg() == msgDelete:
		return EventDestroy
	case h.Flags&(flagCreate|flagExcl) != 0:
		return EventNew
	}
	return EventUpdate
}

// DecodeEntry decodes a ctnetlink conntrack message's payload (after the
// netlink header: nfgenmsg then attributes) into e, overwriting it. It
// allocates nothing except for a helper name that is not a common one.
func DecodeEntry(payload []byte, e *ct.Entry) error {
	*e = ct.Entry{}
	if len(payload) < nfgenLen {
		return malformed("conntrack message of %d octets", len(payload))
	}
	b := payload[nfgenLen:]
	var sawOrig bool
	a := attrs{b: b}
	for a.next() {
		typ, v := a.typ, a.val
		var err error
		switch typ {
		case ctaTupleOrig:
			if err := decodeTuple(v, &e.Orig); err != nil {
				return err
			}
			sawOrig = true
		case ctaTupleReply:
			if err := decodeTuple(v, &e.Reply); err != nil {
				return err
			}
		case ctaStatus:
			e.Status, err = be32(v)
		case ctaTimeout:
			e.Timeout, err = be32(v)
		case ctaMark:
			e.Mark, err = be32(v)
		case ctaZone:
			e.Zone, err = be16(v)
		case ctaProtoinfo:
			err = decodeProtoinfo(v, e)
		case ctaHelp:
			err = decodeHelp(v, &e.Helper)
		case ctaSeqAdjOrig:
			err = decodeSeqAdj(v, &e.SeqAdjOrig)
		case ctaSeqAdjRepl:
			err = decodeSeqAdj(v, &e.SeqAdjReply)
		}
		if err != nil {
			return err
		}
	}
	if a.err != nil {
		return a.err
	}
	if !sawOrig {
		return malformed("conntrack message without CTA_TUPLE_ORIG")
	}
	return nil
}

func decodeTuple(b []byte, t *ct.Tuple) error {
	a := attrs{b: b}
	for a.next() {
		typ, v := a.typ, a.val
		var err error
		switch typ {
		case ctaTupleIP:
			err = decodeTupleIP(v, t)
		case ctaTupleProto:
			err = decodeTupleProto(v, t)
		}
		if err != nil {
			return err
		}
	}
	return a.err
}

func decodeTupleIP(b []byte, t *ct.Tuple) error {
	a := attrs{b: b}
	for a.next() {
		typ, v := a.typ, a.val
		switch typ {
		case ctaIPv4Src, ctaIPv4Dst:
			if len(v) < 4 {
				return malformed("IPv4 address of %d octets", len(v))
			}
			a := netip.AddrFrom4([4]byte(v[:4]))
			if typ == ctaIPv4Src {
				t.Src = a
			} else {
				t.Dst = a
			}
		case ctaIPv6Src, ctaIPv6Dst:
			if len(v) < 16 {
				return malformed("IPv6 address of %d octets", len(v))
			}
			a := netip.AddrFrom16([16]byte(v[:16]))
			if typ == ctaIPv6Src {
				t.Src = a
			} else {
				t.Dst = a
			}
		}
	}
	return a.err
}

func decodeTupleProto(b []byte, t *ct.Tuple) error {
	a := attrs{b: b}
	for a.next() {
		typ, v := a.typ, a.val
		var err error
		switch typ {
		case ctaProtoNum:
			t.Proto, err = u8(v)
		case ctaProtoSrcPort:
			t.SrcPort, err = be16(v)
		case ctaProtoDstPort:
			t.DstPort, err = be16(v)
		case ctaProtoICMPID, ctaProtoICMP6ID:
			t.ICMPID, err = be16(v)
		case ctaProtoICMPType, ctaProtoICMP6Typ:
			t.ICMPType, err = u8(v)
		case ctaProtoICMPCode, ctaProtoICMP6Cod:
			t.ICMPCode, err = u8(v)
		}
		if err != nil {
			return err
		}
	}
	return a.err
}

func decodeProtoinfo(b []byte, e *ct.Entry) error {
	a := attrs{b: b}
	for a.next() {
		typ, v := a.typ, a.val
		var err error
		switch typ {
		case ctaProtoinfoTCP:
			err = decodeTCP(v, &e.TCP)
		case ctaProtoinfoSCTP:
			err = decodeSCTP(v, &e.SCTP)
		}
		if err != nil {
			return err
		}
	}
	return a.err
}

func decodeTCP(b []byte, i *ct.TCPInfo) error {
	a := attrs{b: b}
	for a.next() {
		typ, v := a.typ, a.val
		var err error
		switch typ {
		case ctaTCPState:
			i.State, err = u8(v)
		case ctaTCPWScaleOrig:
			i.WScaleOrig, err = u8(v)
		case ctaTCPWScaleReply:
			i.WScaleReply, err = u8(v)
		case ctaTCPFlagsOrig:
			i.FlagsOrig, err = u8(v) // struct nf_ct_tcp_flags{flags, mask}
		case ctaTCPFlagsReply:
			i.FlagsReply, err = u8(v)
		}
		if err != nil {
			return err
		}
	}
	return a.err
}

func decodeSCTP(b []byte, i *ct.SCTPInfo) error {
	a := attrs{b: b}
	for a.next() {
		typ, v := a.typ, a.val
		var err error
		switch typ {
		case ctaSCTPState:
			i.State, err = u8(v)
		case ctaSCTPVTagOrig:
			i.VTagOrig, err = be32(v)
		case ctaSCTPVTagReply:
			i.VTagReply, err = be32(v)
		}
		if err != nil {
			return err
		}
	}
	return a.err
}

func decodeSeqAdj(b []byte, adj *ct.SeqAdj) error {
	a := attrs{b: b}
	for a.next() {
		typ, v := a.typ, a.val
		var err error
		switch typ {
		case ctaSeqAdjCorrectionPos:
			adj.CorrectionPos, err = be32(v)
		case ctaSeqAdjOffsetBefore:
			adj.OffsetBefore, err = be32(v)
		case ctaSeqAdjOffsetAfter:
			adj.OffsetAfter, err = be32(v)
		}
		if err != nil {
			return err
		}
	}
	return a.err
}

func appendSeqAdj(b []byte, typ uint16, a *ct.SeqAdj) []byte {
	b, n := beginNest(b, typ)
	b = appendBE32(b, ctaSeqAdjCorrectionPos, a.CorrectionPos)
	b = appendBE32(b, ctaSeqAdjOffsetBefore, a.OffsetBefore)
	b = appendBE32(b, ctaSeqAdjOffsetAfter, a.OffsetAfter)
	return endNest(b, n)
}

func decodeHelp(b []byte, name *string) error {
	a := attrs{b: b}
	for a.next() {
		typ, v := a.typ, a.val
		if typ == ctaHelpName {
			*name = internHelper(cString(v))
		}
	}
	return a.err
}

func cString(v []byte) []byte {
	for i, c := range v {
		if c == 0 {
			return v[:i]
		}
	}
	return v
}

// commonHelpers are the kernel's conntrack helpers by name: decoding one
// of them costs no allocation.
var commonHelpers = map[string]string{}

func init() {
	for _, h := range []string{"ftp", "tftp", "sip", "h245", "Q.931", "RAS", "irc", "amanda",
		"pptp", "sane", "snmp", "netbios-ns", "nfs", "sqlnet", "RAS", "snmp_trap"} {
		commonHelpers[h] = h
	}
}

func internHelper(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := commonHelpers[string(b)]; ok { // no allocation for the lookup
		return s
	}
	return string(b)
}

// family is the nfgenmsg family of a tuple.
func family(t *ct.Tuple) uint8 {
	if t.Src.Is4() {
		return afInet
	}
	return afInet6
}

func appendTuple(b []byte, typ uint16, t *ct.Tuple) []byte {
	b, outer := beginNest(b, typ)
	b, ip := beginNest(b, ctaTupleIP)
	if t.Src.Is4() {
		s, d := t.Src.As4(), t.Dst.As4()
		b = appendAttr(b, ctaIPv4Src, s[:]...)
		b = appendAttr(b, ctaIPv4Dst, d[:]...)
	} else {
		s, d := t.Src.As16(), t.Dst.As16()
		b = appendAttr(b, ctaIPv6Src, s[:]...)
		b = appendAttr(b, ctaIPv6Dst, d[:]...)
	}
	b = endNest(b, ip)
	b, p := beginNest(b, ctaTupleProto)
	b = appendU8(b, ctaProtoNum, t.Proto)
	switch {
	case ct.HasPorts(t.Proto) || t.Proto == ct.ProtoGRE:
		// GRE's tuple carries the PPTP call IDs as ports (zero without
		// the PPTP helper); the kernel refuses a GRE tuple without them.
		b = appendBE16(b, ctaProtoSrcPort, t.SrcPort)
		b = appendBE16(b, ctaProtoDstPort, t.DstPort)
	case t.Proto == ct.ProtoICMP:
		b = appendBE16(b, ctaProtoICMPID, t.ICMPID)
		b = appendU8(b, ctaProtoICMPType, t.ICMPType)
		b = appendU8(b, ctaProtoICMPCode, t.ICMPCode)
	case t.Proto == ct.ProtoICMPv6:
		b = appendBE16(b, ctaProtoICMP6ID, t.ICMPID)
		b = appendU8(b, ctaProtoICMP6Typ, t.ICMPType)
		b = appendU8(b, ctaProtoICMP6Cod, t.ICMPCode)
	}
	b = endNest(b, p)
	return endNest(b, outer)
}

// unNATedReply is the reply tuple of e before NAT: the inverse of its
// original tuple. A create sends it with CTA_NAT_SRC/DST and the kernel's
// NAT setup computes the translated reply tuple again — and, unlike a
// translated reply tuple sent as is, sets IPS_SRC_NAT/IPS_DST_NAT, so the
// NAT engine really translates the connection's packets.
func unNATedReply(e *ct.Entry) ct.Tuple {
	return ct.Tuple{
		Src: e.Orig.Dst, Dst: e.Orig.Src, Proto: e.Orig.Proto,
		SrcPort: e.Orig.DstPort, DstPort: e.Orig.SrcPort,
		ICMPID: e.Orig.ICMPID, ICMPType: e.Reply.ICMPType, ICMPCode: e.Reply.ICMPCode,
	}
}

// appendNAT writes a CTA_NAT_SRC or _DST mapping to exactly addr (and
// port, for protocols with ports).
func appendNAT(b []byte, typ uint16, addr netip.Addr, proto uint8, port uint16) []byte {
	b, n := beginNest(b, typ)
	if addr.Is4() {
		a := addr.As4()
		b = appendAttr(b, ctaNATv4MinIP, a[:]...)
		b = appendAttr(b, ctaNATv4MaxIP, a[:]...)
	} else {
		a := addr.As16()
		b = appendAttr(b, ctaNATv6MinIP, a[:]...)
		b = appendAttr(b, ctaNATv6MaxIP, a[:]...)
	}
	if ct.HasPorts(proto) {
		var p int
		b, p = beginNest(b, ctaNATProto)
		b = appendBE16(b, ctaProtoNATPortMin, port)
		b = appendBE16(b, ctaProtoNATPortMax, port)
		b = endNest(b, p)
	}
	return endNest(b, n)
}

// AppendEntry appends to b a request writing e in mode, with sequence
// number seq and flags (NLM_F_ACK or not), and returns the extended b.
func AppendEntry(b []byte, seq uint32, e *ct.Entry, mode Mode, ack bool) []byte {
	return appendEntry(b, seq, e, mode, ack, CommitStatus(e.Status))
}

// appendEntry is AppendEntry with the CTA_STATUS value given (the tests
// probe what the kernel refuses).
func appendEntry(b []byte, seq uint32, e *ct.Entry, mode Mode, ack bool, status uint32) []byte {
	flags := uint16(flagRequest)
	switch mode {
	case ModeCreate:
		flags |= flagCreate
	case ModeCreateExcl:
		flags |= flagCreate | flagExcl
	}
	if ack {
		flags |= flagAck
	}
	b, start := appendHeader(b, subsysCT<<8|msgNew, flags, seq, family(&e.Orig))
	b = appendTuple(b, ctaTupleOrig, &e.Orig)
	natSrc := e.Status&ct.StatusSrcNAT != 0
	natDst := e.Status&ct.StatusDstNAT != 0
	if mode != ModeUpdate {
		if natSrc || natDst {
			r := unNATedReply(e)
			b = appendTuple(b, ctaTupleReply, &r)
		} else {
			b = appendTuple(b, ctaTupleReply, &e.Reply)
		}
	}
	b = appendBE32(b, ctaStatus, status)
	b = appendBE32(b, ctaTimeout, e.Timeout)
	if e.Mark != 0 || mode == ModeUpdate {
		b = appendBE32(b, ctaMark, e.Mark)
	}
	if e.Zone != 0 {
		b = appendBE16(b, ctaZone, e.Zone)
	}
	b = appendProtoinfo(b, e)
	if e.Helper != "" {
		var h int
		b, h = beginNest(b, ctaHelp)
		b = appendString(b, ctaHelpName, e.Helper)
		b = endNest(b, h)
	}
	if e.HasSeqAdj() {
		// The kernel sets IPS_SEQ_ADJUST itself when it takes these (the
		// status bit is one it ignores in CTA_STATUS).
		b = appendSeqAdj(b, ctaSeqAdjOrig, &e.SeqAdjOrig)
		b = appendSeqAdj(b, ctaSeqAdjRepl, &e.SeqAdjReply)
	}
	if mode != ModeUpdate {
		// The kernel parses DST before SRC; the order here does not matter.
		if natDst {
			b = appendNAT(b, ctaNATDst, e.Reply.Src, e.Orig.Proto, e.Reply.SrcPort)
		}
		if natSrc {
			b = appendNAT(b, ctaNATSrc, e.Reply.Dst, e.Orig.Proto, e.Reply.DstPort)
		}
	}
	return finishMessage(b, start)
}

func appendProtoinfo(b []byte, e *ct.Entry) []byte {
	switch e.Orig.Proto {
	case ct.ProtoTCP:
		b, pi := beginNest(b, ctaProtoinfo)
		b, t := beginNest(b, ctaProtoinfoTCP)
		b = appendU8(b, ctaTCPState, e.TCP.State)
		b = appendU8(b, ctaTCPWScaleOrig, e.TCP.WScaleOrig)
		b = appendU8(b, ctaTCPWScaleReply, e.TCP.WScaleReply)
		b = appendAttr(b, ctaTCPFlagsOrig, e.TCP.FlagsOrig&TCPFlagsMask, TCPFlagsMask)
		b = appendAttr(b, ctaTCPFlagsReply, e.TCP.FlagsReply&TCPFlagsMask, TCPFlagsMask)
		b = endNest(b, t)
		return endNest(b, pi)
	case ct.ProtoSCTP:
		b, pi := beginNest(b, ctaProtoinfo)
		b, s := beginNest(b, ctaProtoinfoSCTP)
		b = appendU8(b, ctaSCTPState, e.SCTP.State)
		b = appendBE32(b, ctaSCTPVTagOrig, e.SCTP.VTagOrig)
		b = appendBE32(b, ctaSCTPVTagReply, e.SCTP.VTagReply)
		b = endNest(b, s)
		return endNest(b, pi)
	}
	return b
}

// AppendDelete appends a request deleting the entry k.
func AppendDelete(b []byte, seq uint32, k *ct.Key, ack bool) []byte {
	return appendKeyRequest(b, msgDelete, seq, k, ack)
}

// AppendGet appends a request for the entry k; the kernel answers with
// the entry (IPCTNL_MSG_CT_NEW) or an error.
func AppendGet(b []byte, seq uint32, k *ct.Key, ack bool) []byte {
	return appendKeyRequest(b, msgGet, seq, k, ack)
}

// appendKeyRequest appends a request of type msg naming the entry k.
func appendKeyRequest(b []byte, msg uint16, seq uint32, k *ct.Key, ack bool) []byte {
	flags := uint16(flagRequest)
	if ack {
		flags |= flagAck
	}
	b, start := appendHeader(b, subsysCT<<8|msg, flags, seq, family(&k.Orig))
	b = appendTuple(b, ctaTupleOrig, &k.Orig)
	if k.Zone != 0 {
		b = appendBE16(b, ctaZone, k.Zone)
	}
	return finishMessage(b, start)
}

// AppendTimeout appends a request setting the timeout of the existing
// entry k to seconds (CS-B13).
func AppendTimeout(b []byte, seq uint32, k *ct.Key, seconds uint32, ack bool) []byte {
	flags := uint16(flagRequest)
	if ack {
		flags |= flagAck
	}
	b, start := appendHeader(b, subsysCT<<8|msgNew, flags, seq, family(&k.Orig))
	b = appendTuple(b, ctaTupleOrig, &k.Orig)
	if k.Zone != 0 {
		b = appendBE16(b, ctaZone, k.Zone)
	}
	b = appendBE32(b, ctaTimeout, seconds)
	return finishMessage(b, start)
}
