// Package netio moves clusterd heartbeats between the engine and the wire:
// UDP datagrams to the cluster's multicast group (CL-C11, default
// 239.251.252.253:694) or to unicast peers (CL-Q12), on every cluster
// interface (CL-C09, CL-B04).
//
// A [Conn] sends on a named interface and receives on all of them, telling
// the arrival interface (from IP_PKTINFO), so that the engine can keep
// per-link liveness: losing one of two links is not a failure. [Open] makes
// the real one: one UDP socket bound to the port, member of the group on
// each cluster interface and only there (IP_MULTICAST_ALL off), sending with
// TTL 1, multicast loopback off and DSCP CS6 (network control), from the
// interface's own primary IPv4 address, never from a cluster IP alias
// (CL-B04, CL-B18). Datagrams arriving on other interfaces are discarded.
//
// Interfaces come and go: one missing, down or without an IPv4 address when
// the conn opens does not fail it. [Conn.Refresh] re-reads every interface
// (index, state, primary address), joins the group where it was not joined
// or where the interface came back with a new index, and reports each
// interface's state; Send refuses an interface the last Refresh found
// unusable. The engine calls Refresh on link and address events, or simply
// before each round of heartbeats.
//
// Payloads are opaque here: clusterd/internal/wire encodes and checks them.
// [FakeLink] and [FakeConn] connect engines in memory for tests.
package netio
