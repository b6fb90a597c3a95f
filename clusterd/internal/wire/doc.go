// Package wire encodes, authenticates and checks clusterd heartbeats
// (CL-B04..B06, CL-Q11): the UDP payload two cluster nodes exchange every
// keepalive interval on each cluster interface.
//
// A heartbeat is a versioned binary message ending in an HMAC-SHA256 over
// every octet before it; docs/clusterd-wire.md gives the layout octet by
// octet. The MAC key is derived from the configured pre-shared-secret and
// the group name with HKDF-SHA256 ([DeriveKey]), so the secret itself never
// keys anything and the same secret reused elsewhere (another group, another
// hasuite protocol) never yields interchangeable MACs.
//
// Sending: a [Sealer] holds the node's identity (uid, boot id) and numbers
// every message it seals, so that no two messages of one boot carry the same
// sequence number, not even the copies of one round sent on different
// interfaces (the receiver's replay window would drop the second copy, and
// with it the liveness of the second link).
//
// Receiving: [Verifier.Check] runs the checks in an order that keeps what an
// unauthenticated sender can influence to counters: structure and version,
// then the group (another cluster on the same segment is not an attack),
// then the MAC in constant time, then identity and the replay window, which
// only authentic messages may update. Each failure carries a [DropReason]
// whose name is the counter it is counted under.
//
// Everything here is pure: no sockets, no clock. Decoding never panics,
// whatever the input (FuzzUnmarshal).
package wire
