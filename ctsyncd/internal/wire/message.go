// Package wire encodes and checks the datagrams two ctsyncd nodes exchange
// on the sync link (issue 5, CS-B06, CS-B07, CS-Q02): a protocol of our
// own on UDP, documented octet by octet in docs/ctsyncd-wire.md.
//
// This file is the contract the sync protocol (ctsyncd/internal/sync) is
// written against: the message types and what each field means. The
// encoding lives beside it.
package wire

import "github.com/hasuite/hasuite/ctsyncd/internal/ct"

// Port is the default UDP port of the sync channel (conntrackd's, CS-C09).
const Port = 3780

// MaxDatagram is the largest datagram a sender builds: an Ethernet MTU
// less the IPv4 and UDP headers and some room, so that nothing is
// fragmented on the sync link.
const MaxDatagram = 1400

// Type is a message type.
type Type uint8

const (
	// TypeUpdate carries records of the sender's internal cache. Updates
	// are the only sequenced messages: Seq numbers them 1, 2, 3... per
	// boot of the sender, the receiver applies them in order, acknowledges
	// them and asks for gaps (reliable delivery, CS-B07).
	TypeUpdate Type = 1
	// TypeAck acknowledges every update up to and including Ack.
	TypeAck Type = 2
	// TypeNack asks for the updates From..To (inclusive) again.
	TypeNack Type = 3
	// TypeAlive is the keep-alive, sent when nothing else was sent for a
	// keep-alive interval. Ack carries the sender's last update Seq, so a
	// receiver notices the loss of the last updates of a burst; State is
	// the sender's failover state.
	TypeAlive Type = 4
	// TypeResyncRequest asks the peer to send its whole internal cache
	// (a sweep of every bucket of both tables), CS-B12, CS-B19.
	TypeResyncRequest Type = 5
	// TypeRepairRequest asks the peer to resend the buckets in Buckets of
	// table Table: the answer to a digest that did not match.
	TypeRepairRequest Type = 6
)

// Table names the conntrack table a record or request is about.
type Table uint8

const (
	TableMain   Table = 0
	TableExpect Table = 1
)

// State is a node's failover state as it tells its peer (CS-Q03).
type State uint8

const (
	StateUnknown State = 0
	StatePrimary State = 1
	StateBackup  State = 2
	StateFault   State = 3
)

// Message is one datagram.
type Message struct {
	Type Type
	// Boot identifies the sender's run: its start time in tenths of a
	// second (sync.NewBoot), so a restarted node has a greater Boot. A
	// greater Boot from the peer means it restarted: the receiver forgets
	// the old sequence numbers and asks for a resync; a smaller one is a
	// replay of an older run and is dropped.
	Boot uint32
	// Counter numbers every message of a boot, of every type, strictly
	// increasing; with authentication it is the replay protection of the
	// messages that have no Seq.
	Counter uint32
	// Seq is the update's sequence number (TypeUpdate only).
	Seq uint32
	// Ack: TypeAck, the last update received in order; TypeAlive, the
	// last update sent.
	Ack uint32
	// From and To: TypeNack's range.
	From, To uint32
	// State: TypeAlive, the sender's failover state.
	State State
	// Table and Buckets: TypeRepairRequest, the buckets to resend (bit i
	// = bucket i of ct.Buckets).
	Table   Table
	Buckets uint64
	// Records: TypeUpdate's content, applied in order.
	Records []Record
	// Raw and RawCount are TypeUpdate's content already encoded, for a
	// sender that keeps what it sent in wire form (a record is ~41 octets
	// there against 216 as a Record): RawCount records that AppendRecord
	// wrote back to back. Marshal copies them after the update's fields
	// when Records is empty; Unmarshal always decodes into Records and
	// leaves these empty.
	Raw      []byte
	RawCount int
}

// RecordKind is what a record does to the receiver's external cache.
type RecordKind uint8

const (
	// RecordUpsert creates or replaces Entry.
	RecordUpsert RecordKind = 1
	// RecordDelete removes the entry with Entry's key (only Entry.Orig
	// and Entry.Zone are sent).
	RecordDelete RecordKind = 2
	// RecordExpectUpsert and RecordExpectDelete do the same for Expect.
	RecordExpectUpsert RecordKind = 3
	RecordExpectDelete RecordKind = 4
	// RecordSweepBegin starts a sweep of Sweep.Buckets of Sweep.Table:
	// the sender is about to upsert every entry it holds in them.
	RecordSweepBegin RecordKind = 5
	// RecordSweepEnd ends the sweep with the same ID: the receiver
	// removes every entry of those buckets that no record since the
	// matching begin upserted. A full resync is a sweep of all buckets.
	RecordSweepEnd RecordKind = 6
	// RecordDigest carries the sender's bucket sums of Digest.Table at
	// this point of the stream. Because it travels in order with the
	// updates, the receiver compares it with its external cache having
	// applied exactly the same changes, and asks for the buckets that
	// differ (TypeRepairRequest).
	RecordDigest RecordKind = 7
)

// Record is one change in an update.
type Record struct {
	Kind   RecordKind
	Entry  ct.Entry   // RecordUpsert, RecordDelete (key fields only)
	Expect *ct.Expect // RecordExpectUpsert, RecordExpectDelete (key fields only); a pointer: expectations are rare and big (296 B), and every queued record would carry one
	Sweep  Sweep      // RecordSweepBegin, RecordSweepEnd
	Digest *Digest    // RecordDigest
}

// Sweep identifies a sweep.
type Sweep struct {
	ID      uint32
	Table   Table
	Buckets uint64
}

// Digest is a table's bucket sums.
type Digest struct {
	Table Table
	Sums  ct.Sums
}
