package cache

import (
	"net/netip"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// Filter decides which connections the internal cache keeps (CS-B04):
// those whose L4 protocol is accepted and whose ORIGINAL source and
// destination both match neither an ignored prefix nor one of the node's
// own addresses (CS-C07: "original source or destination").
type Filter struct {
	// Protocols are the accepted L4 protocols (accept-protocol); empty
	// accepts all.
	Protocols []uint8
	// Ignore are the ignored prefixes (ignore-address). The engine adds
	// the sync channel's own flows here; the cache has no special case.
	Ignore []netip.Prefix
	// Local are the node's own addresses. The guide advises ignoring
	// them: connections that end at the node itself (its SSH, BGP) die
	// with it, and their sockets are not synced. But a connection to or
	// from a local address that NAT translates is a NAT binding through
	// the node (DNAT on a VIP, SNAT to a VIP, Example 4-9), exactly what
	// must survive a takeover. So an entry is the node's own only when an
	// end is a local address in the original direction and the same
	// address in the reply (not translated); expectations are not judged
	// by Local at all (their master was). The engine supplies the list.
	Local []netip.Addr
}

// matcher is a Filter compiled for the per-event check: a protocol bit set
// and the prefixes split by family, IPv4 as integers.
type matcher struct {
	local     map[netip.Addr]bool
	allProtos bool
	protos    [4]uint64
	v4        []prefix4
	v6        []netip.Prefix
}

type prefix4 struct{ addr, mask uint32 }

func compile(f Filter) *matcher {
	m := &matcher{allProtos: len(f.Protocols) == 0}
	for _, p := range f.Protocols {
		m.protos[p/64] |= 1 << (p % 64)
	}
	add := func(p netip.Prefix) {
		if !p.IsValid() {
			return
		}
		p = p.Masked()
		if p.Addr().Is4() {
			// A shift by 32 (a /0) gives 0 in Go: the mask of "everything".
			m.v4 = append(m.v4, prefix4{addr: u32(p.Addr()), mask: ^uint32(0) << (32 - p.Bits())})
			return
		}
		m.v6 = append(m.v6, p)
	}
	for _, p := range f.Ignore {
		add(p)
	}
	for _, a := range f.Local {
		a = a.Unmap().WithZone("")
		if a.IsValid() {
			if m.local == nil {
				m.local = map[netip.Addr]bool{}
			}
			m.local[a] = true
		}
	}
	return m
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// accepts reports whether a connection is kept: orig is its original
// tuple (an expectation's master), reply its reply tuple when it has one.
func (m *matcher) accepts(orig, reply ct.Tuple, hasReply bool) bool {
	if !m.allProtos && m.protos[orig.Proto/64]&(1<<(orig.Proto%64)) == 0 {
		return false
	}
	if m.ignored(orig.Src) || m.ignored(orig.Dst) {
		return false
	}
	if !hasReply || m.local == nil {
		return true
	}
	own := func(a, same netip.Addr) bool { return m.local[a.Unmap().WithZone("")] && a == same }
	return !own(orig.Src, reply.Dst) && !own(orig.Dst, reply.Src)
}

func (m *matcher) ignored(a netip.Addr) bool {
	if a.Is4() {
		if len(m.v4) == 0 {
			return false
		}
		x := u32(a)
		for _, p := range m.v4 {
			if x&p.mask == p.addr {
				return true
			}
		}
		return false
	}
	for _, p := range m.v6 {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
