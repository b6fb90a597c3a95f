package sync

import (
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
)

// Defaults of Config; see doc.go for why each value.
const (
	DefaultQueueBytes     = 1 << 20 // sync-queue-size 1 MB (CS-C10)
	DefaultKeepalive      = time.Second
	DefaultDeadInterval   = 3 * time.Second
	DefaultDigestInterval = 5 * time.Second
	DefaultAckEvery       = 32
	DefaultAckDelay       = 20 * time.Millisecond
	DefaultNackInterval   = 50 * time.Millisecond
	DefaultNackTries      = 8
	DefaultProbeAfter     = 200 * time.Millisecond
	DefaultResyncRetry    = 2 * time.Second
	DefaultReorderWindow  = 1024
	// defaultOverhead bounds an update's header plus a MAC, whatever the
	// codec (Config.Overhead says exactly).
	defaultOverhead = 64
)

// Config tunes a Session. Zero fields take the defaults above.
type Config struct {
	// Boot identifies this run (NewBoot): a peer takes a greater Boot for
	// a restart of this node.
	Boot uint32
	// QueueBytes bounds the resend queue, hence the send window: no more
	// unacknowledged update bytes than this (sync-queue-size).
	QueueBytes int
	// PendingBytes bounds the live changes waiting for the window; beyond
	// it they are dropped and a full sweep replaces them. Default
	// QueueBytes.
	PendingBytes int
	// MaxDatagram is the largest datagram (wire.MaxDatagram).
	MaxDatagram int
	// Overhead is an update's bytes besides its records
	// (wire.Codec.Overhead); the default is enough for any codec.
	Overhead int
	// Expect: the expectation table is synced too (expect-sync set).
	Expect bool

	Keepalive      time.Duration // an Alive after this long without sending
	DeadInterval   time.Duration // the peer is dead after this long unheard
	DigestInterval time.Duration // a RecordDigest of each table this often
	AckEvery       int           // ack at once after this many in-order updates
	AckDelay       time.Duration // ...or this long after the first unacked one
	NackInterval   time.Duration // between nacks of the same gap
	NackTries      int           // nacks of a gap before giving it up as lost
	ProbeAfter     time.Duration // unacked updates and this long quiet: probe
	ResyncRetry    time.Duration // a resync request unanswered this long: again
	ReorderWindow  int           // updates buffered ahead of a gap
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.QueueBytes, DefaultQueueBytes)
	def(&c.PendingBytes, c.QueueBytes)
	def(&c.MaxDatagram, wire.MaxDatagram)
	def(&c.Overhead, defaultOverhead)
	// A window smaller than one datagram would never open.
	c.QueueBytes = max(c.QueueBytes, c.MaxDatagram)
	defD(&c.Keepalive, DefaultKeepalive)
	defD(&c.DeadInterval, DefaultDeadInterval)
	defD(&c.DigestInterval, DefaultDigestInterval)
	def(&c.AckEvery, DefaultAckEvery)
	defD(&c.AckDelay, DefaultAckDelay)
	defD(&c.NackInterval, DefaultNackInterval)
	def(&c.NackTries, DefaultNackTries)
	defD(&c.ProbeAfter, DefaultProbeAfter)
	defD(&c.ResyncRetry, DefaultResyncRetry)
	def(&c.ReorderWindow, DefaultReorderWindow)
	return c
}

// NewBoot returns the Boot of a run started at now: its start time in
// tenths of a second, so that a restarted node has a greater Boot than its
// previous run (compared as serial numbers: it wraps every 13.6 years and
// compares right across 6.8).
func NewBoot(now time.Time) uint32 { return uint32(now.UnixMilli() / 100) }

// after reports whether serial number a comes after b (RFC 1982 style).
func after(a, b uint32) bool { return int32(a-b) > 0 }

// Update sequence numbers run 1, 2 ... 2^32-1, 1 ...: the codec refuses
// Seq 0 (and a Nack From 0), so the sequence skips it when it wraps.

// succ is the Seq after s.
func succ(s uint32) uint32 { return add(s, 1) }

// pred is the Seq before s.
func pred(s uint32) uint32 {
	s--
	if s == 0 {
		s--
	}
	return s
}

// add is the Seq k (< 2^31) after s.
func add(s, k uint32) uint32 {
	t := s + k
	if k > 0 && (t < s || t == 0) {
		t++ // crossed 0
	}
	return t
}

// dist is the number of Seqs from b to a, negative when a comes first.
func dist(a, b uint32) int32 {
	d := int32(a - b)
	switch {
	case d > 0 && a < b: // crossed 0 forwards
		d--
	case d < 0 && a > b: // crossed 0 backwards
		d++
	}
	return d
}

// EventKind is what happened that the engine may act on.
type EventKind uint8

const (
	// EventPeerAlive: a valid message from a peer unheard (or dead).
	EventPeerAlive EventKind = iota + 1
	// EventPeerDead: nothing valid from the peer for DeadInterval.
	EventPeerDead
	// EventPeerRestarted: a peer's new Boot (or the first one seen); the
	// session has asked it for a full resync (CS-B17).
	EventPeerRestarted
	// EventPeerState: the peer's failover state changed (Alive.State).
	EventPeerState
	// EventResyncReceived: a sweep of every bucket of Table ended here,
	// the external cache holds the peer's whole table (the end of the
	// demotion hold after start, issue 5).
	EventResyncReceived
	// EventResyncRequested: the peer asked for a full resync; the session
	// is sending it.
	EventResyncRequested
	// EventLost: updates were lost for good (Count records or datagrams);
	// a full sweep repairs it.
	EventLost
)

var eventNames = [...]string{"", "peer-alive", "peer-dead", "peer-restarted", "peer-state",
	"resync-received", "resync-requested", "lost"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "event-?"
}

// Event is one thing the engine hears from Events.
type Event struct {
	Kind  EventKind
	At    time.Time
	Boot  uint32     // the peer's
	State wire.State // EventPeerState
	Table wire.Table // EventResyncReceived
	Count int        // EventLost
}

// Counters are the session's statistics (CS-O03 "message tracking",
// status). Byte and packet counts are those the shell reports through
// NoteSent and NoteReceived. The fields outside Tables are the whole
// channel's; Tables splits what the session can assign to a table
// (tables.go says how); the rest (errors, Malformed, LostMsgs, nacks,
// acks, resyncs: a full resync is both tables) belongs to no one table.
type Counters struct {
	// Traffic is every datagram of the channel: Tables[main] +
	// Tables[expect] = Traffic for the bytes, and for the packets less
	// Mixed.
	Traffic
	// Tables is each table's traffic, retransmits, digests and repairs,
	// indexed by wire.Table.
	Tables [2]TableCounters
	// Mixed: the datagrams that carried records of both tables, counted
	// under each.
	Mixed                  Mixed
	SendErrors, RecvErrors uint64
	// Malformed counts received datagrams the codec refused, by reason.
	Malformed wire.DropCounts
	// LostMsgs: updates given up for good (CS-B07 "Lost msgs"): gaps this
	// receiver skipped, updates the peer asked for that were no longer
	// queued here, and overflows of the pending bound (one each).
	LostMsgs uint64
	// Overflows and DroppedRecords: the pending bound overflowed and
	// that many live records were dropped for a full sweep (CS-B09).
	Overflows, DroppedRecords uint64
	Retransmits               uint64
	// Unencodable: records the codec refused, dropped before they
	// entered the stream (never expected: the caches admit no entry
	// the codec refuses, wire.CheckEntry).
	Unencodable          uint64
	NacksSent, NacksRecv uint64
	AcksSent, AcksRecv   uint64
	// ResyncSent: full resyncs asked of the peer; ResyncAnswered: asked
	// by the peer and started here.
	ResyncSent, ResyncAnswered uint64
	// RepairsSent: repair requests (buckets whose digest differed);
	// RepairsAnswered: the peer's, started here.
	RepairsSent, RepairsAnswered uint64
	DigestsOK, DigestsMismatch   uint64
	// UpdatesSent counts update datagrams (first sends), RecordsSent
	// their records; UpdatesApplied, RecordsApplied the peer's.
	UpdatesSent, RecordsSent       uint64
	UpdatesApplied, RecordsApplied uint64
	SweepsSent, SweepsApplied      uint64
	// Duplicates: updates received twice; OutOfWindow: too far ahead of
	// a gap to buffer; Replayed: a Counter already seen or too old;
	// StaleBoot: an older Boot of a live peer.
	Duplicates, OutOfWindow, Replayed, StaleBoot uint64
	PeerRestarts                                 uint64
}

// Status is the session's state for `show conntrack-sync status` and the
// statistics (CS-O03): counters plus the replication lag.
type Status struct {
	Counters
	Boot      uint32
	PeerKnown bool
	PeerBoot  uint32
	PeerAlive bool
	PeerState wire.State
	LastHeard time.Time
	// EntriesAtRisk: live records submitted and not yet acknowledged by
	// the peer (lost if this node died now); OldestUnacked: the age of
	// the oldest of them.
	EntriesAtRisk int
	OldestUnacked time.Duration
	QueueBytes    int // unacknowledged update bytes
	// LastDigest is when the peer's last digest was compared (zero if
	// never), LastDigestBuckets how many buckets differed then (0: the
	// caches agreed).
	LastDigest        time.Time
	LastDigestBuckets int
	PendingBytes      int // records waiting for the window
	Sweeping          bool
}

// Session is one node's end of the sync channel: the sender of its
// internal cache and the receiver of the peer's. It is a pure core, driven
// by one goroutine: it reads no clock (now is an argument) and does no
// I/O; the messages it wants sent wait in Outbox.
type Session struct {
	cfg     Config
	local   Local
	localX  LocalExpect
	remote  Remote
	remoteX RemoteExpect

	out     []*wire.Message
	events  []Event
	counter uint32
	state   wire.State
	stateCh bool
	c       Counters

	snd sender
	rcv receiver

	lastDigest        time.Time
	lastDigestBuckets int
}

// New returns a session reading local (and localX when cfg.Expect) and
// writing the peer's records to remote (remoteX). The expect pair may be
// nil without cfg.Expect.
func New(cfg Config, local Local, localX LocalExpect, remote Remote, remoteX RemoteExpect) *Session {
	s := &Session{cfg: cfg.withDefaults(), local: local, localX: localX, remote: remote, remoteX: remoteX}
	if localX == nil || remoteX == nil {
		s.cfg.Expect = false
	}
	s.rcv.ahead = map[uint32]*wire.Message{}
	return s
}

// Outbox returns the messages to send, in order, and empties it. The shell
// marshals and sends them. An update's Raw records are the session's
// resend copy: they must not be changed.
func (s *Session) Outbox() []*wire.Message {
	out := s.out
	s.out = nil
	return out
}

// Events returns what happened since the last call and empties the list.
func (s *Session) Events() []Event {
	ev := s.events
	s.events = nil
	return ev
}

// SetState sets the failover state this node announces; a change is sent
// at the next Tick.
func (s *Session) SetState(st wire.State) {
	if st != s.state {
		s.state, s.stateCh = st, true
	}
}

// NoteSent records the shell's send of m, a message of the Outbox, as a
// datagram of n bytes; err is the send's (or the codec's) error. The
// message says which table's traffic it is (tables.go).
func (s *Session) NoteSent(m *wire.Message, n int, err error) {
	if err != nil {
		s.c.SendErrors++
		return
	}
	s.c.countSent(s.sentShare(m), n)
}

// NoteReceived records a datagram of n bytes received, decoded into m;
// reason is why the codec refused it (m nil), wire.DropNone if it did
// not. Call it before Handle(m).
func (s *Session) NoteReceived(m *wire.Message, n int, reason wire.DropReason) {
	if reason != wire.DropNone {
		m = nil
		s.c.Malformed[reason]++
	}
	s.c.countReceived(receivedShare(m), n)
}

// NoteRecvError records a failed read of the socket.
func (s *Session) NoteRecvError() { s.c.RecvErrors++ }

// Status returns the counters and the lag at now.
func (s *Session) Status(now time.Time) Status {
	st := Status{
		Counters:      s.c,
		Boot:          s.cfg.Boot,
		PeerKnown:     s.rcv.known,
		PeerBoot:      s.rcv.boot,
		PeerAlive:     s.rcv.alive,
		PeerState:     s.rcv.state,
		LastHeard:     s.rcv.lastHeard,
		EntriesAtRisk: s.snd.atRisk,
		QueueBytes:    s.snd.queueBytes,
		PendingBytes:  s.snd.pendingBytes,
		Sweeping:      len(s.snd.sweeps) > 0,

		LastDigest:        s.lastDigest,
		LastDigestBuckets: s.lastDigestBuckets,
	}
	if t, ok := s.snd.oldestAtRisk(); ok {
		st.OldestUnacked = now.Sub(t)
	}
	return st
}

// Idle reports whether nothing waits to be sent or acknowledged: no
// pending records, no sweep, an empty resend queue.
func (s *Session) Idle() bool {
	return s.snd.pending.len() == 0 && len(s.snd.sweeps) == 0 && len(s.snd.queue) == 0
}

func (s *Session) event(ev Event) { s.events = append(s.events, ev) }

// emit stamps m with this run's Boot and the next Counter and queues it.
func (s *Session) emit(now time.Time, m *wire.Message) {
	s.counter++
	m.Boot, m.Counter = s.cfg.Boot, s.counter
	s.out = append(s.out, m)
	s.snd.lastSent = now
}

// Tick runs the timers due at now: acknowledgements, nack retries, peer
// death, flushing, probes, keep-alives and digests. The engine calls it at
// Next() at the latest.
func (s *Session) Tick(now time.Time) {
	s.tickReceiver(now)
	s.pump(now, true)
	s.tickSender(now)
}

// Next returns when Tick must run next.
func (s *Session) Next(now time.Time) time.Time {
	next := now.Add(s.cfg.Keepalive)
	at := func(t time.Time) {
		if t.Before(next) {
			next = t
		}
	}
	at(s.snd.lastSent.Add(s.cfg.Keepalive))
	at(s.snd.nextDigest)
	if len(s.snd.queue) > 0 {
		at(s.snd.lastProbe.Add(s.cfg.ProbeAfter))
	}
	if s.stateCh {
		at(now)
	}
	if s.snd.pending.len() > 0 {
		if _, size, _ := s.fit(); s.windowOpen(size) {
			at(now) // a partial datagram waits for a Flush
		}
	}
	r := &s.rcv
	if r.alive {
		at(r.lastHeard.Add(s.cfg.DeadInterval))
	}
	if r.unacked > 0 {
		at(r.firstUnacked.Add(s.cfg.AckDelay))
	}
	if r.ackDue {
		at(now)
	}
	if r.gap() {
		at(r.lastNack.Add(s.cfg.NackInterval))
	}
	if r.wantResync && r.alive {
		at(r.askedResync.Add(s.cfg.ResyncRetry))
	}
	if next.Before(now) {
		next = now
	}
	return next
}

// Handle takes one message from the peer, decoded and authenticated.
func (s *Session) Handle(now time.Time, m *wire.Message) {
	if !s.accept(now, m) {
		return
	}
	switch m.Type {
	case wire.TypeUpdate:
		s.onUpdate(now, m)
	case wire.TypeAck:
		s.c.AcksRecv++
		s.onAck(now, m.Ack)
	case wire.TypeNack:
		s.c.NacksRecv++
		s.onNack(now, m.From, m.To)
	case wire.TypeAlive:
		s.onAlive(now, m)
	case wire.TypeResyncRequest:
		s.c.ResyncAnswered++
		s.event(Event{Kind: EventResyncRequested, At: now, Boot: m.Boot})
		s.startFull()
		s.pump(now, true)
	case wire.TypeRepairRequest:
		s.c.RepairsAnswered++
		s.c.table(m.Table).RepairsAnswered++
		s.startSweep(m.Table, m.Buckets)
		s.pump(now, true)
	}
}

// RequestResync asks the peer for its whole internal cache (CS-B12,
// CS-B19). The request is repeated every ResyncRetry while the peer lives
// until a full sweep of its main table has ended here.
func (s *Session) RequestResync(now time.Time) {
	s.rcv.wantResync, s.rcv.askedResync = true, now
	s.c.ResyncSent++
	s.emit(now, &wire.Message{Type: wire.TypeResyncRequest})
}

// Resync sends this node's whole internal cache to the peer, as a full
// sweep of both tables (CS-B11 step 4, CS-B17, CS-B18).
func (s *Session) Resync(now time.Time) {
	s.startFull()
	s.pump(now, true)
}
