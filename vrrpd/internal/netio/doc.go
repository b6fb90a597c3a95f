// Package netio moves VRRP traffic between the engine and the wire: adverts
// over IP protocol 112, and the schedule of the gratuitous ARPs and
// unsolicited neighbour advertisements a new master sends for its virtual
// addresses.
//
// Adverts travel through an [AdvertConn]: [ListenAdverts] opens the real one
// (raw IPv4 or IPv6 sockets bound to an interface), [FakeLink] connects fakes
// in memory for tests. Payloads are VRRP messages as encoded by
// vrrpd/internal/packet; the IP header is the kernel's, and what the
// receiver needs of it (source, destination, TTL or hop limit, arrival
// interface) comes from control messages. A received advert is reported
// whatever its TTL: dropping one that is not 255 is the caller's check
// (packet.CheckHopLimit), so that it can be counted.
//
// The receive and send interfaces may differ: in RFC 3768 mode (VR-B03) the
// master sends through the macvlan carrying the virtual MAC, so that the
// advert leaves with that MAC as its source, while adverts are still read on
// the parent.
//
// Announcements (gratuitous ARP, unsolicited NA) are sent through
// pkg/announce, shared with clusterd. When to announce (the bursts and
// refreshes of VR-B14) is [Schedule], pure arithmetic on the time since the
// transition; the engine owns the timers.
package netio
