package sync

import (
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
)

const peerBoot = 5000

// harness drives one session by hand: the test plays the peer.
type harness struct {
	t   *testing.T
	now time.Time
	n   *node
	ctr uint32 // the peer's Counter
}

func newHarness(t *testing.T, cfg Config) *harness {
	if cfg.Boot == 0 {
		cfg.Boot = 1000
	}
	return &harness{t: t, now: t0, n: newNode(cfg)}
}

// from delivers a message from the peer (Boot peerBoot unless set).
func (h *harness) from(m wire.Message) {
	if m.Boot == 0 {
		m.Boot = peerBoot
	}
	if m.Counter == 0 {
		h.ctr++
		m.Counter = h.ctr
	}
	h.n.s.Handle(h.now, &m)
}

func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.n.s.Tick(h.now)
}

// out drains the outbox and keeps the messages of type typ, as the peer
// would decode them (an update's records go out encoded, in Raw).
func (h *harness) out(typ wire.Type) []*wire.Message {
	var ms []*wire.Message
	for _, m := range h.n.s.Outbox() {
		if m.Type == typ {
			ms = append(ms, h.wireTrip(m))
		}
	}
	return ms
}

// wireTrip passes m through the unauthenticated codec.
func (h *harness) wireTrip(m *wire.Message) *wire.Message {
	h.t.Helper()
	b, err := plainCodec.Marshal(m)
	if err != nil {
		h.t.Fatalf("marshal %v: %v", m.Type, err)
	}
	got, err := plainCodec.Unmarshal(b)
	if err != nil {
		h.t.Fatalf("unmarshal %v: %v", m.Type, err)
	}
	return got
}

var plainCodec = wire.NewCodec(nil)

// meet makes the peer known and alive, synced at Seq 1, and drains.
func (h *harness) meet() {
	h.from(wire.Message{Type: wire.TypeAlive, Ack: 0})
	h.n.s.Outbox()
	h.n.s.Events()
}

func update(seq uint32, es ...ct.Entry) wire.Message {
	m := wire.Message{Type: wire.TypeUpdate, Seq: seq}
	for _, e := range es {
		m.Records = append(m.Records, wire.Record{Kind: wire.RecordUpsert, Entry: e})
	}
	return m
}

func records(ms []*wire.Message, kind wire.RecordKind) int {
	n := 0
	for _, m := range ms {
		for _, r := range m.Records {
			if r.Kind == kind {
				n++
			}
		}
	}
	return n
}

// CS-B07: updates are numbered 1, 2, 3..., many records each, none larger
// than a datagram.
func TestSenderBatchesAndNumbers(t *testing.T) {
	h := newHarness(t, Config{})
	for i := range 100 {
		h.n.upsert(h.now, entry(i, 3))
	}
	h.n.s.Flush(h.now)
	ups := h.out(wire.TypeUpdate)
	if len(ups) < 2 || len(ups) > 20 {
		t.Fatalf("100 records in %d updates, want a few full ones", len(ups))
	}
	total := 0
	for i, m := range ups {
		if m.Seq != uint32(i+1) {
			t.Errorf("update %d has Seq %d", i, m.Seq)
		}
		size := defaultOverhead
		for _, r := range m.Records {
			size += wire.RecordSize(&r)
		}
		if size > wire.MaxDatagram {
			t.Errorf("update %d: %d bytes > %d", m.Seq, size, wire.MaxDatagram)
		}
		total += len(m.Records)
		if m.Boot != 1000 || m.Counter == 0 {
			t.Errorf("update %d: Boot %d Counter %d", m.Seq, m.Boot, m.Counter)
		}
	}
	if total != 100 {
		t.Errorf("%d records sent, want 100", total)
	}
	// Without Flush only full datagrams go.
	h.n.upsert(h.now, entry(500, 3))
	if got := h.out(wire.TypeUpdate); len(got) != 0 {
		t.Errorf("a lone record went without Flush: %d updates", len(got))
	}
}

// CS-B09: no more unacknowledged bytes than the queue holds; an Ack frees
// them and lets the pending records go; the lag counts what is at risk.
func TestSenderWindowAndAck(t *testing.T) {
	h := newHarness(t, Config{QueueBytes: 4 * wire.MaxDatagram, PendingBytes: 1 << 20})
	h.meet()
	for i := range 200 {
		h.n.upsert(h.now, entry(i, 3))
	}
	h.n.s.Flush(h.now)
	ups := h.out(wire.TypeUpdate)
	if st := h.n.s.Status(h.now); st.QueueBytes > 4*wire.MaxDatagram || st.PendingBytes == 0 || len(ups) < 4 {
		t.Fatalf("%d updates, %d bytes unacked, %d pending with a window of %d", len(ups), st.QueueBytes,
			st.PendingBytes, 4*wire.MaxDatagram)
	}
	last := ups[len(ups)-1].Seq
	h.advance(100 * time.Millisecond)
	st := h.n.s.Status(h.now)
	if st.EntriesAtRisk != 200 || st.OldestUnacked != 100*time.Millisecond {
		t.Errorf("at risk %d, oldest %v; want 200, 100ms", st.EntriesAtRisk, st.OldestUnacked)
	}
	h.from(wire.Message{Type: wire.TypeAck, Ack: last})
	if more := h.out(wire.TypeUpdate); len(more) < 3 || more[0].Seq != last+1 {
		t.Fatalf("after Ack %d: %d updates", last, len(more))
	}
	// A bogus Ack beyond what was sent frees nothing.
	h.from(wire.Message{Type: wire.TypeAck, Ack: 1000})
	if st := h.n.s.Status(h.now); st.QueueBytes == 0 {
		t.Error("an Ack beyond the last Seq freed the queue")
	}
}

// CS-B07: a Nack resends what is queued; a Nack for updates no longer
// queued counts them lost and starts a full sweep.
func TestSenderNack(t *testing.T) {
	h := newHarness(t, Config{})
	h.meet()
	for i := range 100 {
		h.n.upsert(h.now, entry(i, 3))
	}
	h.n.s.Flush(h.now)
	ups := h.out(wire.TypeUpdate)
	h.from(wire.Message{Type: wire.TypeNack, From: 2, To: 3})
	re := h.out(wire.TypeUpdate)
	if len(re) != 2 || re[0].Seq != 2 || re[1].Seq != 3 || re[0].Counter <= ups[len(ups)-1].Counter {
		t.Fatalf("resent %+v", re)
	}
	if c := h.n.s.Status(h.now).Counters; c.Retransmits != 2 || c.NacksRecv != 1 || c.LostMsgs != 0 {
		t.Errorf("counters %+v", c)
	}
	h.from(wire.Message{Type: wire.TypeAck, Ack: 3})
	h.from(wire.Message{Type: wire.TypeNack, From: 1, To: 4})
	sw := h.out(wire.TypeUpdate)
	if records(sw[:1], wire.RecordUpsert) == 0 && records(sw, wire.RecordSweepBegin) != 2 {
		t.Errorf("no full sweep (both tables) after an unrecoverable Nack: %d begins", records(sw, wire.RecordSweepBegin))
	}
	if c := h.n.s.Status(h.now).Counters; c.LostMsgs != 3 || c.Retransmits != 3 {
		t.Errorf("lost %d retransmits %d, want 3 and 3", c.LostMsgs, c.Retransmits)
	}
}

// CS-B09: live changes beyond the pending bound are dropped for a full
// sweep, never silently.
func TestSenderOverflow(t *testing.T) {
	h := newHarness(t, Config{QueueBytes: 2 * wire.MaxDatagram, PendingBytes: 4 * wire.MaxDatagram})
	h.meet()
	for i := range 500 {
		h.n.upsert(h.now, entry(i, 3))
	}
	c := h.n.s.Status(h.now).Counters
	if c.Overflows == 0 || c.DroppedRecords == 0 || c.LostMsgs == 0 {
		t.Fatalf("no overflow counted: %+v", c)
	}
	evs := h.n.s.Events()
	if len(evs) == 0 || evs[0].Kind != EventLost {
		t.Errorf("events %v, want lost", evs)
	}
	// The sweep runs as the window opens and ends with a digest.
	var begins, ends, digests, ups int
	for range 1000 {
		ms := h.out(wire.TypeUpdate)
		if len(ms) == 0 && h.n.s.Idle() {
			break
		}
		for _, m := range ms {
			begins += records([]*wire.Message{m}, wire.RecordSweepBegin)
			ends += records([]*wire.Message{m}, wire.RecordSweepEnd)
			digests += records([]*wire.Message{m}, wire.RecordDigest)
			ups += records([]*wire.Message{m}, wire.RecordUpsert)
			h.from(wire.Message{Type: wire.TypeAck, Ack: m.Seq})
		}
		h.advance(time.Millisecond)
	}
	if begins != 1 || ends != 1 || digests < 1 || ups < 500 {
		t.Errorf("sweep: %d begins %d ends %d digests %d upserts", begins, ends, digests, ups)
	}
}

// CS-B07: Alive every keep-alive interval when idle, with the last Seq;
// a probe when updates stay unacknowledged.
func TestSenderAliveAndProbe(t *testing.T) {
	h := newHarness(t, Config{})
	h.advance(0)
	h.n.s.Outbox()
	h.advance(DefaultKeepalive / 2)
	if a := h.out(wire.TypeAlive); len(a) != 0 {
		t.Fatalf("alive before the keep-alive interval")
	}
	h.advance(DefaultKeepalive / 2)
	if a := h.out(wire.TypeAlive); len(a) != 1 || a[0].Ack != 0 {
		t.Fatalf("keep-alive: %+v", a)
	}
	h.n.upsert(h.now, entry(1, 3))
	h.n.s.SetState(wire.StatePrimary)
	h.n.s.Flush(h.now)
	h.advance(time.Millisecond)
	if a := h.out(wire.TypeAlive); len(a) != 1 || a[0].State != wire.StatePrimary {
		t.Fatalf("state change not announced: %+v", a)
	}
	h.advance(DefaultProbeAfter)
	if a := h.out(wire.TypeAlive); len(a) != 1 || a[0].Ack != 1 {
		t.Fatalf("probe of an unacked update: %+v", a)
	}
}

// Receiver rules (CS-B07): in order, duplicates dropped, gaps buffered
// and nacked, retried, given up as lost with a resync request.
func TestReceiverOrderAndGaps(t *testing.T) {
	h := newHarness(t, Config{})
	h.meet()
	h.from(update(1, entry(1, 3)))
	h.from(update(1, entry(1, 3)))
	if c := h.n.s.Status(h.now).Counters; c.Duplicates != 1 || c.UpdatesApplied != 1 {
		t.Fatalf("duplicate: %+v", c)
	}
	h.from(update(3, entry(3, 3)))
	h.from(update(5, entry(5, 3)))
	nacks := h.out(wire.TypeNack)
	if len(nacks) != 1 || nacks[0].From != 2 || nacks[0].To != 2 {
		t.Fatalf("nack at once for the first gap: %+v", nacks)
	}
	if h.n.remote.Len() != 1 {
		t.Fatalf("applied out of order: %d entries", h.n.remote.Len())
	}
	h.advance(DefaultNackInterval / 2)
	if len(h.out(wire.TypeNack)) != 0 {
		t.Fatal("nack retried before the nack interval")
	}
	h.advance(DefaultNackInterval)
	if nacks := h.out(wire.TypeNack); len(nacks) != 2 || nacks[1].From != 4 || nacks[1].To != 4 {
		t.Fatalf("retry: %+v", nacks)
	}
	h.from(update(2, entry(2, 3)))
	if h.n.remote.Len() != 3 {
		t.Fatalf("after filling the gap: %d entries, want 3", h.n.remote.Len())
	}
	for range DefaultNackTries + 2 {
		h.advance(DefaultNackInterval)
	}
	if h.n.remote.Len() != 4 {
		t.Errorf("after giving up on 4: %d entries, want 4 (5 applied)", h.n.remote.Len())
	}
	c := h.n.s.Status(h.now).Counters
	if c.LostMsgs != 1 || c.ResyncSent != 2 { // first contact, then the loss
		t.Errorf("lost %d resync requests %d, want 1 and 2", c.LostMsgs, c.ResyncSent)
	}
	h.from(update(6, entry(6, 3)))
	if h.n.remote.Len() != 5 {
		t.Errorf("not in order after giving up")
	}
}

// An Alive whose Seq we have not seen reveals a lost tail (CS-B07).
func TestReceiverAliveRevealsTail(t *testing.T) {
	h := newHarness(t, Config{})
	h.meet()
	h.from(update(1, entry(1, 3)))
	h.from(wire.Message{Type: wire.TypeAlive, Ack: 3})
	if n := h.out(wire.TypeNack); len(n) != 1 || n[0].From != 2 || n[0].To != 3 {
		t.Fatalf("nack %+v, want 2..3", n)
	}
}

// Delayed cumulative Ack: at once after AckEvery updates, else after
// AckDelay.
func TestReceiverDelayedAck(t *testing.T) {
	h := newHarness(t, Config{})
	h.meet()
	for i := range DefaultAckEvery - 1 {
		h.from(update(uint32(i+1), entry(i, 3)))
	}
	if a := h.out(wire.TypeAck); len(a) != 0 {
		t.Fatalf("ack before %d updates or %v", DefaultAckEvery, DefaultAckDelay)
	}
	h.from(update(DefaultAckEvery, entry(99, 3)))
	if a := h.out(wire.TypeAck); len(a) != 1 || a[0].Ack != DefaultAckEvery {
		t.Fatalf("ack after %d updates: %+v", DefaultAckEvery, a)
	}
	h.from(update(DefaultAckEvery+1, entry(100, 3)))
	h.advance(DefaultAckDelay)
	if a := h.out(wire.TypeAck); len(a) != 1 || a[0].Ack != DefaultAckEvery+1 {
		t.Fatalf("delayed ack: %+v", a)
	}
}

// Issue 5 digest: the peer's sums compared at the same point of the
// stream; the buckets that differ are asked again.
func TestReceiverDigest(t *testing.T) {
	h := newHarness(t, Config{})
	h.meet()
	mine := newEntries()
	e1, e2 := entry(1, 3), entry(2, 3)
	mine.Upsert(&e1)
	mine.Upsert(&e2)
	m := update(1, e1)
	m.Records = append(m.Records, wire.Record{Kind: wire.RecordDigest, Digest: &wire.Digest{Sums: mine.Sums()}})
	h.from(m)
	rq := h.out(wire.TypeRepairRequest)
	want := uint64(1) << e2.Key().Bucket(ct.Buckets)
	if len(rq) != 1 || rq[0].Buckets != want || rq[0].Table != wire.TableMain {
		t.Fatalf("repair %+v, want buckets %#x", rq, want)
	}
	m = update(2, e2)
	m.Records = append(m.Records, wire.Record{Kind: wire.RecordDigest, Digest: &wire.Digest{Sums: mine.Sums()}})
	h.from(m)
	c := h.n.s.Status(h.now).Counters
	if c.DigestsOK != 1 || c.DigestsMismatch != 1 || c.RepairsSent != 1 {
		t.Errorf("digests ok %d mismatch %d repairs %d", c.DigestsOK, c.DigestsMismatch, c.RepairsSent)
	}
	// Answering: a repair request starts a sweep of those buckets.
	h.from(wire.Message{Type: wire.TypeRepairRequest, Table: wire.TableMain, Buckets: 1 << 7})
	ups := h.out(wire.TypeUpdate)
	if records(ups, wire.RecordSweepBegin) != 1 || ups[0].Records[0].Sweep.Buckets != 1<<7 {
		t.Errorf("repair answered with %+v", ups)
	}
}

// Boot and replay rules (CS-B17, issue 5 "garbage and wrong-secret
// messages are counted, never applied"): a greater Boot is a restart, a
// smaller one is refused while the peer lives, a Counter is taken once.
func TestBootAndReplay(t *testing.T) {
	cases := []struct {
		name    string
		msgs    func(h *harness)
		restart bool
		stale   uint64
		replay  uint64
	}{
		{name: "same counter twice", msgs: func(h *harness) {
			h.from(wire.Message{Type: wire.TypeAlive, Counter: 50})
			h.from(wire.Message{Type: wire.TypeAlive, Counter: 50})
		}, replay: 1},
		{name: "reordered within the window", msgs: func(h *harness) {
			h.from(wire.Message{Type: wire.TypeAlive, Counter: 50})
			h.from(wire.Message{Type: wire.TypeAlive, Counter: 45})
		}},
		{name: "too old", msgs: func(h *harness) {
			h.from(wire.Message{Type: wire.TypeAlive, Counter: 500})
			h.from(wire.Message{Type: wire.TypeAlive, Counter: 400})
		}, replay: 1},
		{name: "greater boot is a restart", msgs: func(h *harness) {
			h.from(wire.Message{Type: wire.TypeAlive, Boot: peerBoot + 1, Counter: 1})
		}, restart: true},
		{name: "older boot of a live peer is a replay", msgs: func(h *harness) {
			h.from(wire.Message{Type: wire.TypeAlive, Boot: peerBoot - 1, Counter: 1})
		}, stale: 1},
		{name: "older boot of a dead peer is a restart (clock went back)", msgs: func(h *harness) {
			h.advance(DefaultDeadInterval)
			h.from(wire.Message{Type: wire.TypeAlive, Boot: peerBoot - 1, Counter: 1})
		}, restart: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.meet()
			tc.msgs(h)
			c := h.n.s.Status(h.now).Counters
			restarted := false
			for _, ev := range h.n.s.Events() {
				restarted = restarted || ev.Kind == EventPeerRestarted
			}
			if restarted != tc.restart || c.StaleBoot != tc.stale || c.Replayed != tc.replay {
				t.Errorf("restart %v stale %d replayed %d; want %v %d %d", restarted, c.StaleBoot, c.Replayed,
					tc.restart, tc.stale, tc.replay)
			}
			if tc.restart && len(h.out(wire.TypeResyncRequest)) != 1 {
				t.Error("no resync asked of the restarted peer (CS-B17)")
			}
		})
	}
}

// Liveness: alive on any valid message, dead after DeadInterval; a
// resync request is answered by a full sweep of both tables.
func TestLivenessAndResync(t *testing.T) {
	h := newHarness(t, Config{Expect: true})
	h.from(wire.Message{Type: wire.TypeAlive, State: wire.StateBackup})
	evs := h.n.s.Events()
	kinds := map[EventKind]bool{}
	for _, ev := range evs {
		kinds[ev.Kind] = true
	}
	if !kinds[EventPeerAlive] || !kinds[EventPeerRestarted] || !kinds[EventPeerState] {
		t.Fatalf("first contact events %v", evs)
	}
	h.advance(DefaultDeadInterval)
	if evs := h.n.s.Events(); len(evs) != 1 || evs[0].Kind != EventPeerDead {
		t.Fatalf("events %v, want peer-dead", evs)
	}
	h.n.s.Outbox()
	h.from(wire.Message{Type: wire.TypeResyncRequest})
	ups := h.out(wire.TypeUpdate)
	if records(ups, wire.RecordSweepBegin) != 2 { // main and expect
		t.Fatalf("resync: %d sweep begins", records(ups, wire.RecordSweepBegin))
	}
	if c := h.n.s.Status(h.now).Counters; c.ResyncAnswered != 1 {
		t.Errorf("resync answered %d", c.ResyncAnswered)
	}
}

// Seq 0 is skipped when the sequence wraps (the codec refuses it).
func TestSeqArithmetic(t *testing.T) {
	const top = ^uint32(0)
	cases := []struct {
		a, b uint32
		dist int32
	}{
		{5, 3, 2}, {3, 5, -2}, {1, top, 1}, {top, 1, -1}, {2, top - 1, 3}, {top - 1, 2, -3}, {7, 7, 0},
	}
	for _, c := range cases {
		if d := dist(c.a, c.b); d != c.dist {
			t.Errorf("dist(%d, %d) = %d, want %d", c.a, c.b, d, c.dist)
		}
		if c.dist >= 0 {
			if got := add(c.b, uint32(c.dist)); got != c.a {
				t.Errorf("add(%d, %d) = %d, want %d", c.b, c.dist, got, c.a)
			}
		}
	}
	if succ(top) != 1 || pred(1) != top || succ(5) != 6 || pred(6) != 5 {
		t.Error("succ/pred do not skip 0")
	}
}

// A resync request is repeated until the peer's full sweep has arrived:
// a lost request must not leave the external cache incomplete, nor the
// engine's demotion hold on for ever (CS-B12, CS-B17).
func TestResyncRequestRetried(t *testing.T) {
	h := newHarness(t, Config{})
	h.from(wire.Message{Type: wire.TypeAlive})
	if n := len(h.out(wire.TypeResyncRequest)); n != 1 {
		t.Fatalf("%d resync requests at first contact", n)
	}
	h.now = h.now.Add(DefaultResyncRetry)
	h.from(wire.Message{Type: wire.TypeAlive})
	h.advance(0)
	if n := len(h.out(wire.TypeResyncRequest)); n != 1 {
		t.Fatalf("%d resync requests after %v unanswered, want 1", n, DefaultResyncRetry)
	}
	sw := wire.Sweep{ID: 1, Table: wire.TableMain, Buckets: allBuckets}
	h.from(wire.Message{Type: wire.TypeUpdate, Seq: 1, Records: []wire.Record{
		{Kind: wire.RecordSweepBegin, Sweep: sw}, {Kind: wire.RecordSweepEnd, Sweep: sw}}})
	got := false
	for _, ev := range h.n.s.Events() {
		got = got || ev.Kind == EventResyncReceived
	}
	if !got {
		t.Error("no resync-received event after a full sweep")
	}
	h.now = h.now.Add(DefaultResyncRetry)
	h.from(wire.Message{Type: wire.TypeAlive, Ack: 1})
	h.advance(0)
	if n := len(h.out(wire.TypeResyncRequest)); n != 0 {
		t.Errorf("%d resync requests after the resync arrived", n)
	}
}
