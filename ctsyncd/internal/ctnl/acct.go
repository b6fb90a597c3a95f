package ctnl

import "encoding/binary"

// Accounting attributes (CTA_COUNTERS_*; present with nf_conntrack_acct=1).
const (
	ctaCountersOrig  = 9
	ctaCountersReply = 10

	ctaCountersPackets   = 1
	ctaCountersBytes     = 2
	ctaCountersPackets32 = 3
	ctaCountersBytes32   = 4
)

// Acct is a connection's traffic in both directions, as the kernel counts
// it with nf_conntrack_acct=1. The destroy event carries the final count:
// CS-O03's "traffic processed".
type Acct struct {
	Bytes, Packets uint64
}

// DecodeAcct reads the accounting attributes of a conntrack message's
// payload; zero when the kernel does not count. It never fails: a
// malformed counter is simply not counted.
func DecodeAcct(payload []byte) Acct {
	var a Acct
	if len(payload) < nfgenLen {
		return a
	}
	b := payload[nfgenLen:]
	at := attrs{b: b}
	for at.next() {
		typ, v := at.typ, at.val
		if typ == ctaCountersOrig || typ == ctaCountersReply {
			a.add(v)
		}
	}
	return a
}

func (a *Acct) add(b []byte) {
	at := attrs{b: b}
	for at.next() {
		typ, v := at.typ, at.val
		switch {
		case (typ == ctaCountersPackets || typ == ctaCountersBytes) && len(v) >= 8:
			n := binary.BigEndian.Uint64(v)
			if typ == ctaCountersPackets {
				a.Packets += n
			} else {
				a.Bytes += n
			}
		case (typ == ctaCountersPackets32 || typ == ctaCountersBytes32) && len(v) >= 4:
			n := uint64(binary.BigEndian.Uint32(v))
			if typ == ctaCountersPackets32 {
				a.Packets += n
			} else {
				a.Bytes += n
			}
		}
	}
}
