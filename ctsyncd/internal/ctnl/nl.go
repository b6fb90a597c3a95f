package ctnl

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Netlink and nfnetlink framing. Headers and attribute headers are in host
// byte order (little endian on every platform ctsyncd runs on: amd64,
// arm64, riscv64); ctnetlink attribute payloads are big endian.

const (
	nlmsgHdrLen = 16
	nfgenLen    = 4
	attrHdrLen  = 4

	nlmsgError = 2
	nlmsgDone  = 3

	flagRequest = 0x1
	flagMulti   = 0x2
	flagAck     = 0x4
	flagDump    = 0x300 // NLM_F_ROOT|NLM_F_MATCH
	flagExcl    = 0x200
	flagCreate  = 0x400

	attrNested   = 0x8000
	attrTypeMask = 0x3fff

	nfnetlinkV0 = 0

	subsysCT  = 1 // NFNL_SUBSYS_CTNETLINK
	subsysExp = 2 // NFNL_SUBSYS_CTNETLINK_EXP

	msgNew    = 0 // IPCTNL_MSG_CT_NEW, IPCTNL_MSG_EXP_NEW
	msgGet    = 1
	msgDelete = 2

	afUnspec = 0
	afInet   = 2
	afInet6  = 10
)

var nativeEndian = binary.LittleEndian

// ErrMalformed is wrapped by every decoding error: the kernel (or a fuzzer)
// handed us bytes that do not parse as ctnetlink.
var ErrMalformed = errors.New("malformed ctnetlink message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Header is the part of a netlink message header the callers need.
type Header struct {
	Type  uint16 // subsystem<<8 | message
	Flags uint16
	Seq   uint32
}

// subsys and msg split a netfilter message type.
func (h Header) subsys() uint8 { return uint8(h.Type >> 8) }
func (h Header) msg() uint8    { return uint8(h.Type) }

// splitMessage returns the first netlink message of b: its header, its
// payload (after the netlink header) and the rest of b.
func splitMessage(b []byte) (h Header, payload, rest []byte, err error) {
	if len(b) < nlmsgHdrLen {
		return h, nil, nil, malformed("%d octets left, shorter than a netlink header", len(b))
	}
	n := int(nativeEndian.Uint32(b[0:4]))
	if n < nlmsgHdrLen || n > len(b) {
		return h, nil, nil, malformed("netlink length %d with %d octets left", n, len(b))
	}
	h.Type = nativeEndian.Uint16(b[4:6])
	h.Flags = nativeEndian.Uint16(b[6:8])
	h.Seq = nativeEndian.Uint32(b[8:12])
	payload = b[nlmsgHdrLen:n]
	aligned := align4(n)
	if aligned > len(b) {
		aligned = len(b)
	}
	return h, payload, b[aligned:], nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// attrs iterates over a run of netlink attributes:
//
//	for a := (attrs{b: b}); a.next(); { switch a.typ {...} }
//	if a.err != nil {...}
//
// next is small enough for the compiler to inline: decoding spends its
// time here.
type attrs struct {
	b   []byte
	typ uint16
	val []byte
	err error
}

func (a *attrs) next() bool {
	b := a.b
	if len(b) < attrHdrLen {
		if len(b) != 0 {
			a.err = badAttr(len(b), len(b))
		}
		return false
	}
	n := int(nativeEndian.Uint16(b))
	if n < attrHdrLen || n > len(b) {
		a.err = badAttr(n, len(b))
		return false
	}
	a.typ = nativeEndian.Uint16(b[2:]) & attrTypeMask
	a.val = b[attrHdrLen:n]
	if n = (n + 3) &^ 3; n > len(b) {
		n = len(b)
	}
	a.b = b[n:]
	return true
}

//go:noinline
func badAttr(n, left int) error {
	return malformed("attribute length %d with %d octets left", n, left)
}

// nextAttr splits the first attribute off b. ok is false at the end of b;
// err is set when b holds a partial attribute.
func nextAttr(b []byte) (typ uint16, val, rest []byte, ok bool, err error) {
	a := attrs{b: b}
	if !a.next() {
		return 0, nil, nil, false, a.err
	}
	return a.typ, a.val, a.b, true, nil
}

func be16(v []byte) (uint16, error) {
	if len(v) < 2 {
		return 0, malformed("16-bit attribute of %d octets", len(v))
	}
	return binary.BigEndian.Uint16(v), nil
}

func be32(v []byte) (uint32, error) {
	if len(v) < 4 {
		return 0, malformed("32-bit attribute of %d octets", len(v))
	}
	return binary.BigEndian.Uint32(v), nil
}

func u8(v []byte) (uint8, error) {
	if len(v) < 1 {
		return 0, malformed("empty 8-bit attribute")
	}
	return v[0], nil
}

// Appending encoders. They never allocate when b has the capacity.

// appendHeader starts a netlink message with its nfgenmsg; finishMessage
// fills its length in once the attributes are appended.
func appendHeader(b []byte, typ, flags uint16, seq uint32, family uint8) ([]byte, int) {
	start := len(b)
	b = nativeEndian.AppendUint32(b, 0)
	b = nativeEndian.AppendUint16(b, typ)
	b = nativeEndian.AppendUint16(b, flags)
	b = nativeEndian.AppendUint32(b, seq)
	b = nativeEndian.AppendUint32(b, 0) // port id: the kernel
	b = append(b, family, nfnetlinkV0, 0, 0)
	return b, start
}

func finishMessage(b []byte, start int) []byte {
	nativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

func appendAttr(b []byte, typ uint16, val ...byte) []byte {
	b = nativeEndian.AppendUint16(b, uint16(attrHdrLen+len(val)))
	b = nativeEndian.AppendUint16(b, typ)
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func appendU8(b []byte, typ uint16, v uint8) []byte {
	b = nativeEndian.AppendUint16(b, attrHdrLen+1)
	b = nativeEndian.AppendUint16(b, typ)
	return append(b, v, 0, 0, 0)
}

func appendBE16(b []byte, typ uint16, v uint16) []byte {
	b = nativeEndian.AppendUint16(b, attrHdrLen+2)
	b = nativeEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, v)
	return append(b, 0, 0)
}

func appendBE32(b []byte, typ uint16, v uint32) []byte {
	b = nativeEndian.AppendUint16(b, attrHdrLen+4)
	b = nativeEndian.AppendUint16(b, typ)
	return binary.BigEndian.AppendUint32(b, v)
}

func appendString(b []byte, typ uint16, s string) []byte {
	n := len(s) + 1 // NUL-terminated, as the kernel's NLA_NUL_STRING wants
	b = nativeEndian.AppendUint16(b, uint16(attrHdrLen+n))
	b = nativeEndian.AppendUint16(b, typ)
	b = append(b, s...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func beginNest(b []byte, typ uint16) ([]byte, int) {
	start := len(b)
	b = nativeEndian.AppendUint16(b, 0)
	b = nativeEndian.AppendUint16(b, typ|attrNested)
	return b, start
}

func endNest(b []byte, start int) []byte {
	nativeEndian.PutUint16(b[start:], uint16(len(b)-start))
	return b
}
