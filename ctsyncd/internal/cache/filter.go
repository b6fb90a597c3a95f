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
	// Local are the node's own addresses, ignored as the guide advises
	// (its flows are the node's own and die with it). The engine supplies
	// them.
	Local []netip.Addr
}

// matcher is a Filter compiled for the per-event check: a protocol bit set
// and the prefixes split by family, IPv4 as integers.
type matcher struct {
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
			add(netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return m
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// accepts reports whether a connection whose original tuple is t is kept.
func (m *matcher) accepts(t ct.Tuple) bool {
	if !m.allProtos && m.protos[t.Proto/64]&(1<<(t.Proto%64)) == 0 {
		return false
	}
	return !m.ignored(t.Src) && !m.ignored(t.Dst)
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
