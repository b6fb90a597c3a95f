// Package ct is ctsyncd's model of a connection-tracking entry: the
// fields replicated between the nodes (CS-B03) in a compact, comparable
// form that every other package shares — the kernel codec (ctnl) reads and
// writes it, the caches hold it, the sync protocol (wire) carries it, the
// show package prints it.
//
// An Entry is a value of fixed size without pointers except the address
// zones and the helper name, so that a cache of 100k entries stays small
// and cheap for the garbage collector. Its identity is its Key: the
// original-direction tuple and the zone, as in the kernel.
package ct

import (
	"encoding/binary"
	"net/netip"
)

// Tuple is one direction of a connection: addresses, L4 protocol and the
// protocol's identifying fields. Ports are used by TCP, UDP, UDP-Lite,
// SCTP and DCCP; ICMP and ICMPv6 use ID, Type and Code; other protocols
// (GRE without the PPTP helper, IGMP...) are tracked by addresses alone.
type Tuple struct {
	Src, Dst         netip.Addr
	Proto            uint8
	SrcPort, DstPort uint16
	ICMPID           uint16
	ICMPType         uint8
	ICMPCode         uint8
}

// L4 protocol numbers ctsyncd knows by name (accept-protocol, CS-C02, and
// the show commands, CS-O02).
const (
	ProtoICMP    uint8 = 1
	ProtoTCP     uint8 = 6
	ProtoUDP     uint8 = 17
	ProtoGRE     uint8 = 47
	ProtoDCCP    uint8 = 33
	ProtoICMPv6  uint8 = 58
	ProtoSCTP    uint8 = 132
	ProtoUDPLite uint8 = 136
)

// HasPorts reports whether the protocol's tuple carries ports.
func HasPorts(proto uint8) bool {
	switch proto {
	case ProtoTCP, ProtoUDP, ProtoUDPLite, ProtoSCTP, ProtoDCCP:
		return true
	}
	return false
}

// IsICMP reports whether the protocol's tuple carries ICMP id/type/code.
func IsICMP(proto uint8) bool { return proto == ProtoICMP || proto == ProtoICMPv6 }

// ProtoName is the protocol's name in the show commands, "unknown" for a
// number without one (the guide prints IGMP as `unknown [2]`, CS-O02).
func ProtoName(proto uint8) string {
	switch proto {
	case ProtoICMP:
		return "icmp"
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoGRE:
		return "gre"
	case ProtoDCCP:
		return "dccp"
	case ProtoICMPv6:
		return "icmpv6"
	case ProtoSCTP:
		return "sctp"
	case ProtoUDPLite:
		return "udplite"
	}
	return "unknown"
}

// Status bits of a conntrack entry (linux/netfilter/nf_conntrack_common.h,
// enum ip_conntrack_status).
const (
	StatusExpected     uint32 = 1 << 0
	StatusSeenReply    uint32 = 1 << 1
	StatusAssured      uint32 = 1 << 2
	StatusConfirmed    uint32 = 1 << 3
	StatusSrcNAT       uint32 = 1 << 4
	StatusDstNAT       uint32 = 1 << 5
	StatusSeqAdjust    uint32 = 1 << 6
	StatusSrcNATDone   uint32 = 1 << 7
	StatusDstNATDone   uint32 = 1 << 8
	StatusDying        uint32 = 1 << 9
	StatusFixedTimeout uint32 = 1 << 10
	StatusTemplate     uint32 = 1 << 11
	StatusNATClash     uint32 = 1 << 12
	StatusHelper       uint32 = 1 << 13
	StatusOffload      uint32 = 1 << 14
	StatusHWOffload    uint32 = 1 << 15
)

// TCP conntrack states (enum tcp_conntrack).
const (
	TCPNone        uint8 = 0
	TCPSynSent     uint8 = 1
	TCPSynRecv     uint8 = 2
	TCPEstablished uint8 = 3
	TCPFinWait     uint8 = 4
	TCPCloseWait   uint8 = 5
	TCPLastAck     uint8 = 6
	TCPTimeWait    uint8 = 7
	TCPClose       uint8 = 8
	TCPSynSent2    uint8 = 9
)

var tcpStateNames = [...]string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
	"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

// TCPStateName is the kernel's name of a TCP conntrack state.
func TCPStateName(s uint8) string {
	if int(s) < len(tcpStateNames) {
		return tcpStateNames[s]
	}
	return "UNKNOWN"
}

// TCPFlagBeLiberal is IP_CT_TCP_FLAG_BE_LIBERAL: conntrack checks no
// sequence window for the direction, only the state.
const TCPFlagBeLiberal uint8 = 0x08

// TCPInfo is the TCP protocol state (CTA_PROTOINFO_TCP): without it a
// committed entry would start in state NONE and window tracking would drop
// the first segments after a takeover.
type TCPInfo struct {
	State                   uint8
	WScaleOrig, WScaleReply uint8
	// FlagsOrig, FlagsReply are the per-direction IP_CT_TCP_FLAG_* bits
	// (window scale seen, SACK permitted, close init, be liberal...).
	FlagsOrig, FlagsReply uint8
}

// SCTPInfo is the SCTP protocol state (CTA_PROTOINFO_SCTP).
type SCTPInfo struct {
	State               uint8
	VTagOrig, VTagReply uint32
}

// Entry is one connection as ctsyncd replicates it (CS-B03).
type Entry struct {
	Orig, Reply Tuple
	// Status is the IPS_* bit set (Status* constants).
	Status uint32
	// Timeout is the seconds left when the entry was read from the
	// kernel; a commit gives the entry this timeout afresh.
	Timeout uint32
	Mark    uint32
	Zone    uint16
	TCP     TCPInfo
	SCTP    SCTPInfo
	// Helper is the name of the conntrack helper attached ("ftp", "sip"),
	// empty for none.
	Helper string
	// SeqAdjOrig and SeqAdjReply are the NAT sequence adjustments
	// (CTA_SEQ_ADJ_ORIG/REPLY), zero unless Status has StatusSeqAdjust.
	// Without them a new master forwards a connection whose packets a
	// helper lengthened (nf_nat_ftp rewriting a PASV reply) with sequence
	// numbers the endpoints no longer agree on, and the connection stalls.
	SeqAdjOrig, SeqAdjReply SeqAdj
}

// SeqAdj is one direction's NAT sequence adjustment: segments starting
// after CorrectionPos are shifted by OffsetAfter, earlier ones by
// OffsetBefore (the kernel's struct nf_ct_seqadj).
type SeqAdj struct {
	CorrectionPos, OffsetBefore, OffsetAfter uint32
}

// HasSeqAdj reports whether e carries a sequence adjustment.
func (e *Entry) HasSeqAdj() bool { return e.SeqAdjOrig != SeqAdj{} || e.SeqAdjReply != SeqAdj{} }

// Key identifies an entry: the kernel's lookup is by the original tuple
// within a zone.
type Key struct {
	Orig Tuple
	Zone uint16
}

// Key returns e's identity.
func (e *Entry) Key() Key { return Key{Orig: e.Orig, Zone: e.Zone} }

// Expect is one expectation of a conntrack helper (CS-B02, CS-B03): the
// connection a helper such as FTP expects, and the master connection that
// announced it.
type Expect struct {
	Master Tuple
	Tuple  Tuple
	Mask   Tuple
	// Timeout is the seconds left when read.
	Timeout uint32
	Zone    uint16
	Flags   uint32
	Class   uint32
	Helper  string
	// Fn is the function the kernel runs on the expected connection
	// (CTA_EXPECT_FN: "nat-follow-master" for FTP's NATed data
	// connections), empty for none.
	Fn string
	// NATDir and NATTuple are the NAT information of an expectation whose
	// master is NATed (CTA_EXPECT_NAT); NATTuple.Proto is zero without.
	NATDir   uint32
	NATTuple Tuple
}

// ExpectKey identifies an expectation: its expected tuple and master in a
// zone.
type ExpectKey struct {
	Master, Tuple Tuple
	Zone          uint16
}

// Key returns x's identity.
func (x *Expect) Key() ExpectKey { return ExpectKey{Master: x.Master, Tuple: x.Tuple, Zone: x.Zone} }

// Digest returns a 64-bit hash of everything in e the peers must agree on:
// all replicated fields except Timeout, which changes while the
// connection lives without the kernel announcing it. The two nodes compare
// sums of digests per bucket to find divergence (issue 5), so the function
// must not change between versions that talk to each other: it is a fixed
// mix over a fixed encoding, not a runtime-seeded hash.
func (e *Entry) Digest() uint64 {
	var b [152]byte
	n := putTuple(b[:], e.Orig)
	n += putTuple(b[n:], e.Reply)
	binary.BigEndian.PutUint32(b[n:], e.Status)
	binary.BigEndian.PutUint32(b[n+4:], e.Mark)
	binary.BigEndian.PutUint16(b[n+8:], e.Zone)
	b[n+10] = e.TCP.State
	b[n+11] = e.TCP.WScaleOrig
	b[n+12] = e.TCP.WScaleReply
	b[n+13] = e.TCP.FlagsOrig
	b[n+14] = e.TCP.FlagsReply
	b[n+15] = e.SCTP.State
	binary.BigEndian.PutUint32(b[n+16:], e.SCTP.VTagOrig)
	binary.BigEndian.PutUint32(b[n+20:], e.SCTP.VTagReply)
	n += 24
	if e.HasSeqAdj() {
		// Only when set, as Expect's Fn: entries without an adjustment
		// keep the digest older versions computed.
		for _, a := range [2]SeqAdj{e.SeqAdjOrig, e.SeqAdjReply} {
			binary.BigEndian.PutUint32(b[n:], a.CorrectionPos)
			binary.BigEndian.PutUint32(b[n+4:], a.OffsetBefore)
			binary.BigEndian.PutUint32(b[n+8:], a.OffsetAfter)
			n += 12
		}
	}
	return hashString(hashWords(b[:n]), e.Helper)
}

// Bucket returns the bucket of k among n (n > 0) for the digest exchange;
// like Digest it is stable across nodes and versions.
func (k Key) Bucket(n int) int {
	var b [48]byte
	m := putTuple(b[:], k.Orig)
	binary.BigEndian.PutUint16(b[m:], k.Zone)
	return int(hashWords(b[:m+4]) % uint64(n))
}

// putTuple writes t in a fixed layout of 44 octets: both addresses as 16
// octets (IPv4 mapped), then the protocol fields.
func putTuple(b []byte, t Tuple) int {
	s, d := t.Src.As16(), t.Dst.As16()
	copy(b[0:16], s[:])
	copy(b[16:32], d[:])
	b[32] = t.Proto
	binary.BigEndian.PutUint16(b[33:], t.SrcPort)
	binary.BigEndian.PutUint16(b[35:], t.DstPort)
	binary.BigEndian.PutUint16(b[37:], t.ICMPID)
	b[39] = t.ICMPType
	b[40] = t.ICMPCode
	if t.Src.Is4() {
		b[41] = 4
	} else if t.Src.Is6() {
		b[41] = 6
	}
	return 44
}

const (
	seed64 = 0x9e3779b97f4a7c15
	mul64  = 0xff51afd7ed558ccd
)

// hashWords mixes b (a multiple of 8 octets long) eight octets at a time:
// the fixed encodings above are, and a word at a time is several times
// faster than FNV's octet at a time on the per-event path.
func hashWords(b []byte) uint64 {
	h := uint64(seed64)
	for len(b) >= 8 {
		h = mix64(h ^ binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	return h
}

// hashString mixes the octets of s into h (helper names: short, rare).
func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = mix64(h ^ uint64(s[i]) ^ 0x100)
	}
	return h
}

// mix64 is MurmurHash3's 64-bit finaliser: every input bit affects every
// output bit.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= mul64
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
