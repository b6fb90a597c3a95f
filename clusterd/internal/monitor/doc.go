// Package monitor pings a cluster group's monitor nodes and says which are
// reachable (CL-B09, CL-B10, CL-C05, CL-C12).
//
// Each monitor gets one ICMP echo request every keepalive-interval. A
// monitor is Reachable from its first reply on, and Unreachable once
// monitor-dead-interval has passed without one; until either happens it is
// Pending. The decisions live in [Tracker], pure code driven by the times
// it is given; [Pinger] is the loop that sends, receives and arms the
// timers through an injected clock and a [Prober], and publishes every
// change on a channel.
//
// The real Prober ([ICMP]) uses a raw ICMP socket (CAP_NET_RAW). The
// unprivileged "ping" socket (SOCK_DGRAM, IPPROTO_ICMP) is no option: its
// sysctl net.ipv4.ping_group_range is "1 0" in every new network namespace,
// which allows no group at all, root included. A raw socket also lets each
// request carry the source address explicitly (IP_PKTINFO): requests leave
// from the node's own address on the interface that routes to the monitor,
// never from a cluster IP (CL-B09), so that the reply reaches this node
// and not the one that holds the cluster IPs.
package monitor
