package ctnl

import (
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// Expectation attributes (enum ctattr_expect).
const (
	ctaExpMaster   = 1
	ctaExpTuple    = 2
	ctaExpMask     = 3
	ctaExpTimeout  = 4
	ctaExpHelpName = 6
	ctaExpZone     = 7
	ctaExpFlags    = 8
	ctaExpClass    = 9
	ctaExpNAT      = 10
	ctaExpFn       = 11

	ctaExpNATDir   = 1
	ctaExpNATTuple = 2
)

// DecodeExpect decodes a ctnetlink expectation message's payload into x,
// overwriting it.
func DecodeExpect(payload []byte, x *ct.Expect) error {
	*x = ct.Expect{}
	if len(payload) < nfgenLen {
		return malformed("expectation message of %d octets", len(payload))
	}
	b := payload[nfgenLen:]
	var sawTuple, sawMaster bool
	a := attrs{b: b}
	for a.next() {
		typ, v := a.typ, a.val
		var err error
		switch typ {
		case ctaExpMaster:
			err = decodeTuple(v, &x.Master)
			sawMaster = true
		case ctaExpTuple:
			err = decodeTuple(v, &x.Tuple)
			sawTuple = true
		case ctaExpMask:
			err = decodeTuple(v, &x.Mask)
		case ctaExpTimeout:
			x.Timeout, err = be32(v)
		case ctaExpZone:
			x.Zone, err = be16(v)
		case ctaExpFlags:
			x.Flags, err = be32(v)
		case ctaExpClass:
			x.Class, err = be32(v)
		case ctaExpHelpName:
			x.Helper = internHelper(cString(v))
		case ctaExpFn:
			x.Fn = internExpectFn(cString(v))
		case ctaExpNAT:
			err = decodeExpectNAT(v, x)
		}
		if err != nil {
			return err
		}
	}
	if a.err != nil {
		return a.err
	}
	if !sawTuple || !sawMaster {
		return malformed("expectation message without CTA_EXPECT_TUPLE or _MASTER")
	}
	return nil
}

func decodeExpectNAT(b []byte, x *ct.Expect) error {
	a := attrs{b: b}
	for a.next() {
		typ, v := a.typ, a.val
		var err error
		switch typ {
		case ctaExpNATDir:
			x.NATDir, err = be32(v)
		case ctaExpNATTuple:
			err = decodeTuple(v, &x.NATTuple)
		}
		if err != nil {
			return err
		}
	}
	return a.err
}

// AppendExpect appends a request creating the expectation x (its master
// connection must exist, with a helper). Existing expectations cannot be
// changed through ctnetlink (EEXIST for create; update is limited to the
// timeout), so there is only one mode.
func AppendExpect(b []byte, seq uint32, x *ct.Expect, ack bool) []byte {
	flags := uint16(flagRequest | flagCreate | flagExcl)
	if ack {
		flags |= flagAck
	}
	b, start := appendHeader(b, subsysExp<<8|msgNew, flags, seq, family(&x.Master))
	b = appendTuple(b, ctaExpMaster, &x.Master)
	b = appendTuple(b, ctaExpTuple, &x.Tuple)
	b = appendTuple(b, ctaExpMask, &x.Mask)
	b = appendBE32(b, ctaExpTimeout, x.Timeout)
	if x.Zone != 0 {
		b = appendBE16(b, ctaExpZone, x.Zone)
	}
	if x.Flags != 0 {
		b = appendBE32(b, ctaExpFlags, x.Flags)
	}
	if x.Class != 0 {
		b = appendBE32(b, ctaExpClass, x.Class)
	}
	if x.Helper != "" {
		b = appendString(b, ctaExpHelpName, x.Helper)
	}
	if x.NATTuple.Proto != 0 {
		var n int
		b, n = beginNest(b, ctaExpNAT)
		b = appendBE32(b, ctaExpNATDir, x.NATDir)
		b = appendTuple(b, ctaExpNATTuple, &x.NATTuple)
		b = endNest(b, n)
	}
	if fn := expectFn(x); fn != "" {
		b = appendString(b, ctaExpFn, fn)
	}
	return finishMessage(b, start)
}

// expectFn is the function the kernel is to run on x's expected
// connection (CTA_EXPECT_FN): without it the expected connection is not
// NATed at all (an FTP data connection to a DNATed VIP reaches the router
// itself and is refused). The kernel reports it and the peers carry it;
// an expectation with NAT information but no function named (a peer that
// did not send one) gets the one its master's helper always uses, where
// there is one.
func expectFn(x *ct.Expect) string {
	if x.Fn != "" {
		return x.Fn
	}
	if x.NATTuple.Proto != 0 {
		return natExpectFn[x.Helper]
	}
	return ""
}

// internExpectFn is the kernel's name of an expectation function without
// an allocation for the ones it registers.
func internExpectFn(b []byte) string {
	switch string(b) {
	case "nat-follow-master":
		return "nat-follow-master"
	case "sip":
		return "sip"
	case "Q.931":
		return "Q.931"
	case "H.245":
		return "H.245"
	}
	return string(b)
}

// natExpectFn: the function by master helper, for helpers whose NATed
// expectations always use the one (H.323's vary by expectation).
var natExpectFn = map[string]string{
	"ftp": "nat-follow-master", "irc": "nat-follow-master", "amanda": "nat-follow-master",
	"tftp": "nat-follow-master", "sip": "sip",
}

// AppendExpectDelete appends a request deleting the expectation k.
func AppendExpectDelete(b []byte, seq uint32, k *ct.ExpectKey, ack bool) []byte {
	flags := uint16(flagRequest)
	if ack {
		flags |= flagAck
	}
	b, start := appendHeader(b, subsysExp<<8|msgDelete, flags, seq, family(&k.Tuple))
	b = appendTuple(b, ctaExpTuple, &k.Tuple)
	if k.Zone != 0 {
		b = appendBE16(b, ctaExpZone, k.Zone)
	}
	return finishMessage(b, start)
}
