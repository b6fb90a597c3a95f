// Package sync is ctsyncd's replication protocol (issue 5 "Replicate to
// the peer over a reliable protocol of our own on UDP", CS-B06, CS-B07,
// CS-B09, CS-B17, CS-O03): a pure core, [Session], that sends this node's
// internal cache to the peer and applies the peer's to the external cache,
// and a thin shell, [UDPConn], the socket on the sync interface.
//
// A Session reads no clock and does no I/O. The engine's loop owns it and
// calls Submit (each internal-cache change, in the order the cache made
// it) and Flush, Handle (each message the codec accepted, or Deliver with
// the bytes), Tick (at Next() at the latest), Resync, RequestResync and
// SetState; it sends what Outbox holds (or Transmit) and acts on Events.
// The caches are reached through the small interfaces [Local], [Remote]
// (and their expectation twins), which the cache package satisfies.
//
// # Sender
//
//   - Records are batched many per TypeUpdate, filled up to MaxDatagram by
//     Codec.Overhead + the records' encoded sizes. Each update takes the next Seq: 1,
//     2 ... 2^32-1, then 1 again (0 is never used: the codec refuses it).
//     Submit sends full datagrams at once; Flush and Tick send the last,
//     partial one.
//   - Both queues hold records in wire form (wire.AppendRecord, ~41
//     octets a typical record, not a 216-octet wire.Record): a record is
//     encoded once, when it is submitted (or swept), and an update and its
//     resends carry those octets (wire.Message.Raw).
//   - Sent updates stay in the resend queue until acknowledged. The queue
//     is bounded in bytes by sync-queue-size and is the send window: an
//     update is sent only if it fits. Records waiting for the window are
//     pending; when live records overflow the pending bound (also
//     sync-queue-size), all pending records are dropped, counted (Lost
//     msgs, overflows, dropped records) and a full sweep is started
//     instead: the sweep sends the current state of everything they were
//     about. Nothing is lost silently (CS-B09).
//   - An Ack N frees every update up to N. A Nack From..To resends those
//     still queued (retransmits, with a new Counter); those no longer
//     queued are counted lost and start a full sweep.
//   - When the window closes, or updates stay unacknowledged for
//     ProbeAfter (200 ms) without a send, the sender probes with a
//     TypeAlive: its Ack is the last Seq sent, and the receiver answers
//     with an Ack, or Nacks for what it lacks (a lost tail). A TypeAlive
//     also goes when nothing was sent for Keepalive (1 s) and when the
//     failover state changes (State).
//   - A sweep resends buckets of one table: RecordSweepBegin{ID, Table,
//     Buckets}, the upserts of those buckets one bucket at a time as the
//     window allows (live changes interleave, in order), RecordSweepEnd
//     with the same ID and Buckets, then a RecordDigest of the table. A
//     full resync is a sweep of all 64 buckets of the main table, then of
//     the expectation table (expect-sync). Sweeps run one at a time; a new
//     request merges into a queued sweep of the same table not yet begun.
//     A sweep cut short by an overflow never sends its end; the next
//     BeginSweep of the table supersedes it at the receiver.
//   - Every DigestInterval (5 s), and after each sweep, a RecordDigest of
//     each table (its bucket sums) goes into the stream, except while a
//     sweep of that table is open, while the peer is not alive, or while a
//     backlog waits.
//   - TypeResyncRequest starts a full sweep (resync requests answered);
//     TypeRepairRequest a sweep of its buckets (repairs answered).
//
// # Receiver
//
//   - Updates are applied strictly in Seq order. Those ahead of a gap are
//     buffered (up to ReorderWindow, 1024; beyond, dropped and counted),
//     duplicates and old ones dropped (and re-acknowledged). A gap is
//     Nacked at once (one TypeNack per hole, at most 8 per round, never a
//     range through 0) and again every NackInterval (50 ms); after
//     NackTries (8) rounds it is given up: the holes are counted lost, what
//     is buffered is applied, and a full resync is requested.
//   - Acks are cumulative and delayed: at once after AckEvery (32) updates,
//     else AckDelay (20 ms) after the first unacknowledged one, and in
//     answer to every TypeAlive that reveals no gap.
//   - RecordDigest is compared, at its place in the stream, with the
//     external cache's sums: equal counts "digests ok"; different sends a
//     TypeRepairRequest for the buckets that differ (repairs requested),
//     except while a sweep of the table is open here.
//   - RecordSweepBegin/End drive Remote.BeginSweep/EndSweep; an end whose
//     begin was skipped (a lost gap) is ignored. The end of a full sweep
//     of the main table is EventResyncReceived (the engine's demotion hold
//     after start ends there).
//   - A full resync asked of the peer (at its first contact, its restart,
//     a lost gap, RequestResync) is asked again every ResyncRetry (2 s)
//     while the peer lives, until a full sweep of its main table ends.
//
// # Peers, boots and replay
//
// Boot is the sender's start time in tenths of a second (NewBoot), so a
// restarted node has a greater Boot; Counter numbers every message of a
// boot from 1. Any valid message makes the peer alive (EventPeerAlive);
// none for DeadInterval (3 s) makes it dead (EventPeerDead). The first
// peer met, or a Boot greater than the peer's (compared as serial
// numbers), is a (re)start: the receive state is reset, the resend queue
// dropped (the full resync the new run asks covers it), a full resync
// requested (CS-B17) and EventPeerRestarted reported. A smaller Boot is
// refused while the peer lives (stale boot): a replayed datagram of an
// older run cannot reset the session. Once the peer is dead any other Boot
// is taken, so a peer whose clock went back is heard again after
// DeadInterval of silence. Within a boot a Counter is accepted once, in a
// window of 64 below the highest seen (replayed): with a secret, the
// codec's MAC makes this the replay protection; without one it only
// drops duplicates, as anyone on the link can forge anyway.
//
// # Shell
//
// [Listen] opens the UDP socket on the sync interface (SO_BINDTODEVICE),
// bound to the group and joined to it on that interface, or, with `peer`,
// unicast; TTL 1, multicast loopback off, IP_MULTICAST_ALL off,
// SO_SNDBUF/SO_RCVBUF forced to sync-queue-size; datagrams from the
// interface's own addresses are ignored. A goroutine reads it and hands
// (bytes, source) to a callback.
package sync
