// Package cache holds ctsyncd's two conntrack caches (issue 5, CS-B05,
// CS-B06): the internal cache, this node's own connections as the kernel
// reports them, which is what the node replicates; and the external
// cache, the peer's connections as received, which the node commits into
// its kernel only when it takes over. Each exists for the main table
// (ct.Entry) and for expectations (ct.Expect); one generic implementation
// serves both (kind says how to handle each).
//
// The package is pure: no sockets, no clock of its own (times are passed
// in), not safe for concurrent use (the engine's loop owns the caches).
//
// # Internal cache
//
// Apply takes kernel events after the filter (CS-B04: accept-protocol,
// ignore-address and the node's own addresses, matched against the
// ORIGINAL source or destination, CS-C07) and returns the Change to send,
// or false when there is nothing to send. An Update that changes only the
// timeout sends nothing: the timeout runs down and is refreshed by every
// packet without an event, so the value in an event is stale at once, and
// the peer does not age entries while it hears from us (below); it learns
// the timeout with the next real change, resync or repair.
// BeginResync/ResyncAdd/EndResync rebuild the cache from a kernel dump
// (start, event overrun CS-B08) and report what the dump added, changed or
// no longer has. SetFilter applies a reloaded filter at once.
//
// # External cache
//
// Upsert and Delete apply the peer's changes. A sweep (BeginSweep,
// EndSweep) brackets the peer resending whole buckets (full resync, or
// the repair of buckets whose sums differ): what was not resent is gone.
//
// Timeouts ("keeps what it receives in its external cache, with
// timeouts"): while the peer is alive its entries do not age. Conntrack
// refreshes a live connection's timeout on every packet without sending
// an event, so the Timeout an entry arrived with says nothing about how
// long the connection still lives; the peer's digest exchange vouches for
// the entries instead, and its deletes remove them. Once the peer falls
// silent (SetPeerAlive(now, false)), nobody vouches any more: each entry
// expires its Timeout after the later of the silence's start and its last
// upsert, and Expire(now) removes it. The engine calls Expire every
// second or so; an upsert is stamped with the last time given, so a
// deadline is at most that period early.
//
// # Counters (CS-O03, Example 4-16)
//
//   - Created: values added. An Update event for an unknown value adds it
//     (the New event may have been lost) and also counts as UpdatedFailed,
//     as in conntrackd.
//   - CreatedFailed: values that could not be stored (more than 256
//     distinct helper names, a tuple with fields its protocol has not, or
//     a bucket over 67M entries), and commit
//     failures reported by the engine through External.CountCommit.
//   - Updated: events or upserts for a value already held, including those
//     that change only the timeout (the cache keeps the new timeout).
//   - Destroyed: values removed by a Destroy event or a Delete, by the end
//     of a resync or sweep, or by expiry (also counted in Expired).
//     SetFilter's removals are not counted: the kernel still has them.
//   - DestroyedFailed: a Destroy or Delete of a value not held.
//
// # Memory
//
// Values are stored as compact records without pointers (compact.go) in
// per-bucket chunks, with an open-addressing index: a 72-octet slot per
// entry, sized for IPv4 (IPv6 addresses, SCTP state and sequence
// adjustments are shared side values), about 90 octets an entry with the
// index, 8.7 MiB for a 100k table of 10 % IPv6 (TestMemoryPerEntry), none
// of it scanned by the garbage collector; walking one bucket
// (RangeBuckets) costs only that bucket's entries. An entry whose tuples
// carry fields their protocol has not (ports on GRE: the wire codec
// refuses them too) is not stored (CreatedFailed). The process must still
// bound its heap growth to stay under the 30 MiB: with the default
// GOGC=100 the heap may reach twice the live data before a collection
// (ctsyncd runs with GOGC=50: a collection scans little of this heap).
package cache
