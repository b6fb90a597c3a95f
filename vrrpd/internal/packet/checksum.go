package packet

import (
	"encoding/binary"
	"net/netip"
)

// checksum computes the checksum of a VRRP message (RFC 1071), skipping its
// checksum field; see the package documentation for which pseudo-header the
// version and family call for.
func checksum(v Version, msg []byte, src, dst netip.Addr, opts Options) uint16 {
	var sum uint32
	if v == Version3 && (src.Is6() || !opts.V3ChecksumAsV2) {
		sum = pseudoHeaderSum(src, dst, len(msg))
	}
	sum = addWords(sum, msg[:6])
	sum = addWords(sum, msg[8:])
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// pseudoHeaderSum sums the pseudo-header: RFC 768's for IPv4, RFC 8200
// §8.1's for IPv6. Both reduce to the addresses plus the length and the
// protocol as numbers, as the zero octets add nothing.
func pseudoHeaderSum(src, dst netip.Addr, length int) uint32 {
	sum := addWords(0, src.AsSlice())
	sum = addWords(sum, dst.AsSlice())
	return sum + uint32(length)>>16 + uint32(length)&0xffff + Protocol
}

// addWords adds b as big-endian 16-bit words, an odd last octet padded with
// zero, to a one's complement sum kept unfolded in 32 bits: messages are at
// most a few kilobytes, far from overflowing it.
func addWords(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}
