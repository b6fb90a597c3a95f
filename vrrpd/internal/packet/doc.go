// Package packet encodes and decodes VRRP advertisements: version 2 (RFC 3768)
// and version 3 (RFC 5798, RFC 9568) over IPv4 and IPv6.
//
// It handles the VRRP message alone, the payload of an IP raw socket; the IP
// header is the kernel's. It opens no sockets and keeps no state, so every
// function is safe for concurrent use, and decoding never panics, whatever
// the input.
//
// A receiver checks an advert in the order of RFC 3768 §7.1 / RFC 5798 §7.1,
// each failed check yielding a DropReason the caller counts:
//
//  1. CheckHopLimit on the TTL or hop limit read from the control message;
//  2. Unmarshal, which rejects what is malformed (version, type, length,
//     checksum, unknown authentication type);
//  3. finding the group by VRID (an unknown VRID is ignored, not counted);
//  4. Expect.Check against that group's configuration.
//
// # Checksums
//
// A version 2 checksum covers the VRRP message alone. A version 3 checksum
// also covers a pseudo-header: for IPv6 the one of RFC 8200 §8.1 (source,
// destination, 32-bit length, next header 112), for IPv4 the one of RFC 768
// (source, destination, zero, protocol 112, 16-bit length). Implementations
// disagree over IPv4: RFC 5798 named only the IPv6 pseudo-header, so some
// routers sum the IPv4 message alone, as in version 2. keepalived includes
// the pseudo-header (2.2.7 always; later versions unless `v3_checksum_as_v2`
// is set), FRR unless `no checksum-with-ipv4-pseudoheader` is configured.
// The pseudo-header is therefore the default here, and Options.V3ChecksumAsV2
// the switch to the message-only sum; both sides of a group must agree on it.
// It has no effect on IPv6, where the pseudo-header was never in doubt.
//
// For unicast adverts (peer addresses) the destination in the pseudo-header
// is the peer's address, the one the IP header carries, as keepalived 2.2.7
// does unless `old_unicast_checksum` asks for its earlier, multicast-address
// sum, which this package does not offer.
//
// # Authentication
//
// Version 2 carries an authentication type and 8 octets of authentication
// data. Type 1 puts the password, NUL-padded, in those octets. Type 2 (IP
// Authentication Header, RFC 2338) is encoded as keepalived's `auth_type AH`
// does: the VRRP message says type 2 and carries zero authentication data,
// while the integrity check value travels in an IPsec AH header between the
// IP header and the VRRP message (IP protocol 51). That header is not part
// of this package: a receiver verifies it before handing the VRRP message
// to Unmarshal, and Expect.Check then only compares the type.
package packet
