// Package ctnl is ctsyncd's kernel side: its own codec of ctnetlink
// messages to and from ct.Entry and ct.Expect, and the thin socket shell
// around it — an event Listener, streaming dumps and batched writes.
//
// Why not ti-mo/conntrack (which the tests use as an independent oracle):
// its Create is one request and one ACK at a time (68k/s against the
// kernel's 338k/s batched, FIELD-NOTES), its Flow is large, and its
// listener stops at the first ENOBUFS. Here:
//
//   - Decoding allocates nothing per entry (helper names are interned);
//     encoding appends to a reused buffer.
//   - Commit sends up to 256 requests (64 KiB) per sendmsg without
//     NLM_F_ACK except on the last one: the kernel answers only failures,
//     which are matched back to their entries by sequence number. A create
//     that finds the entry (EEXIST) is retried as an update (CS-B11).
//   - A create carries IPS_CONFIRMED (the kernel answers EBUSY without it)
//     and leaves out the status bits the kernel refuses or ignores
//     (StatusRefused). A NATed entry is created from its un-NATed reply
//     tuple plus CTA_NAT_SRC/DST read off its reply tuple, so the kernel's
//     NAT setup rebuilds the binding and sets IPS_SRC_NAT/IPS_DST_NAT.
//   - The Listener keeps its socket on ENOBUFS and reports the overrun
//     once the queue is drained, so a resync dump started then covers
//     every lost event (CS-B08).
//
// Sockets live in the network namespace of the thread that opens them;
// the tests open them in netlab namespaces through Node.Do.
package ctnl
