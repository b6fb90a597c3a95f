package show

import (
	"net/netip"
	"strconv"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// statusNames are the IPS_* bits by the kernel's names without the prefix
// (enum ip_conntrack_status), bit i at index i.
var statusNames = [...]string{
	"EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED", "SRC_NAT", "DST_NAT", "SEQ_ADJUST", "SRC_NAT_DONE",
	"DST_NAT_DONE", "DYING", "FIXED_TIMEOUT", "TEMPLATE", "NAT_CLASH", "HELPER", "OFFLOAD", "HW_OFFLOAD",
}

// expectFlagNames are the NF_CT_EXPECT_* flags, bit i at index i.
var expectFlagNames = [...]string{"PERMANENT", "INACTIVE", "USERSPACE"}

// sctpStateNames is enum sctp_conntrack.
var sctpStateNames = [...]string{"NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED", "SHUTDOWN_SENT",
	"SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT", "HEARTBEAT_ACKED"}

// bitNames names the set bits of v, lowest first; a bit without a name
// reads "BIT<i>" so that nothing set is hidden.
func bitNames(v uint32, names []string) []string {
	var out []string
	for i := range 32 {
		if v&(1<<i) == 0 {
			continue
		}
		if i < len(names) {
			out = append(out, names[i])
		} else {
			out = append(out, "BIT"+strconv.Itoa(i))
		}
	}
	return out
}

// addr prints an address, "" when unset (a mask's zero address prints
// as "0.0.0.0", which is meant).
func addr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// TupleProto converts one direction of a connection.
func TupleProto(t ct.Tuple) *ctsyncv1.Tuple {
	return &ctsyncv1.Tuple{
		Src: addr(t.Src), Dst: addr(t.Dst),
		SrcPort: uint32(t.SrcPort), DstPort: uint32(t.DstPort),
		IcmpId: uint32(t.ICMPID), IcmpType: uint32(t.ICMPType), IcmpCode: uint32(t.ICMPCode),
	}
}

// EntryProto converts a cache entry for the API (the server's ShowCache),
// deriving the names and NAT flags the show commands and --json print.
func EntryProto(e *ct.Entry) *ctsyncv1.Entry {
	p := &ctsyncv1.Entry{
		Orig: TupleProto(e.Orig), Reply: TupleProto(e.Reply),
		Protocol: uint32(e.Orig.Proto), ProtocolName: ct.ProtoName(e.Orig.Proto),
		StatusBits: e.Status, Status: bitNames(e.Status, statusNames[:]),
		Timeout: e.Timeout, Mark: e.Mark, Zone: uint32(e.Zone), Helper: e.Helper,
		Snat: e.Status&ct.StatusSrcNAT != 0, Dnat: e.Status&ct.StatusDstNAT != 0,
	}
	switch e.Orig.Proto {
	case ct.ProtoTCP:
		p.State = ct.TCPStateName(e.TCP.State)
	case ct.ProtoSCTP:
		p.State = "UNKNOWN"
		if int(e.SCTP.State) < len(sctpStateNames) {
			p.State = sctpStateNames[e.SCTP.State]
		}
	}
	if e.HasSeqAdj() {
		p.SeqAdjOrig, p.SeqAdjReply = seqAdjProto(e.SeqAdjOrig), seqAdjProto(e.SeqAdjReply)
	}
	return p
}

func seqAdjProto(a ct.SeqAdj) *ctsyncv1.SeqAdj {
	return &ctsyncv1.SeqAdj{CorrectionPos: a.CorrectionPos, OffsetBefore: a.OffsetBefore, OffsetAfter: a.OffsetAfter}
}

// ExpectProto converts a cache expectation for the API.
func ExpectProto(x *ct.Expect) *ctsyncv1.Expect {
	p := &ctsyncv1.Expect{
		Master: TupleProto(x.Master), Tuple: TupleProto(x.Tuple), Mask: TupleProto(x.Mask),
		Protocol: uint32(x.Tuple.Proto), ProtocolName: ct.ProtoName(x.Tuple.Proto),
		Timeout: x.Timeout, Zone: uint32(x.Zone),
		FlagsBits: x.Flags, Flags: bitNames(x.Flags, expectFlagNames[:]),
		Class: x.Class, Helper: x.Helper, Function: x.Fn,
	}
	if x.NATTuple.Proto != 0 {
		p.Nat = &ctsyncv1.ExpectNat{Dir: x.NATDir, Tuple: TupleProto(x.NATTuple)}
	}
	return p
}
