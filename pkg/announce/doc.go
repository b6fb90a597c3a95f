// Package announce builds and sends the frames that move an IPv4 or IPv6
// address to a new host: gratuitous ARP and unsolicited neighbour
// advertisements. vrrpd sends them for the virtual addresses of a new
// master (VR-B14), clusterd for the cluster IPs it brings up (CL-B13).
//
// An [Announcer] writes whole Ethernet frames to a net.PacketConn: a
// send-only packet socket from [OpenAnnouncer], or any PacketConn in tests
// (a UDP socket on loopback needs no privilege). The frames are built by
// [GratuitousARP] and [UnsolicitedNA], pure functions checked against golden
// bytes. When and how often to announce is the caller's business.
package announce
