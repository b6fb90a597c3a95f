package sync

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
)

type timeT = time.Time

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// simNet carries messages between two nodes with an injected clock: a
// latency, and optionally loss, duplication, reordering and partition.
type simNet struct {
	now      time.Time
	a, b     *node
	rng      *rand.Rand
	loss     float64 // probability each datagram is lost
	dup      float64 // ... sent twice
	reorder  float64 // ... delayed by up to 20 ms more
	cut      bool    // partition: everything lost
	drop     func(m *wire.Message) bool
	inflight []flight
	sent     int
	// codec: every message goes through the real encoding, as on the
	// wire; an error there fails the test.
	codec *wire.Codec
	err   error
}

type flight struct {
	at   time.Time
	to   *node
	m    *wire.Message
	size int // its datagram's
}

func newSimNet(seed uint64, cfgA, cfgB Config) *simNet {
	return &simNet{now: t0, a: newNode(cfgA), b: newNode(cfgB), rng: rand.New(rand.NewPCG(seed, 1)),
		codec: simCodec}
}

// send moves from's outbox onto the link towards to.
func (n *simNet) send(from, to *node) {
	for _, m := range from.s.Outbox() {
		n.sent++
		b, err := n.codec.Marshal(m)
		if err != nil && n.err == nil {
			n.err = err
		}
		from.s.NoteSent(m, len(b), err)
		if n.cut || n.rng.Float64() < n.loss || (n.drop != nil && n.drop(m)) {
			continue
		}
		copies := 1
		if n.rng.Float64() < n.dup {
			copies = 2
		}
		for range copies {
			d := time.Millisecond
			if n.rng.Float64() < n.reorder {
				d += time.Duration(n.rng.IntN(20)) * time.Millisecond
			}
			got, err := n.codec.Unmarshal(b)
			if err != nil && n.err == nil {
				n.err = err
			}
			if err == nil {
				n.inflight = append(n.inflight, flight{at: n.now.Add(d), to: to, m: got, size: len(b)})
			}
		}
	}
}

// step advances the clock by d: deliveries due, both Ticks, then sends.
func (n *simNet) step(d time.Duration) {
	n.now = n.now.Add(d)
	keep := n.inflight[:0]
	var due []flight
	for _, f := range n.inflight {
		if f.at.After(n.now) {
			keep = append(keep, f)
		} else {
			due = append(due, f)
		}
	}
	n.inflight = keep
	for _, f := range due {
		f.to.s.NoteReceived(f.m, f.size, wire.DropNone)
		f.to.s.Handle(n.now, f.m)
	}
	for _, x := range []*node{n.a, n.b} {
		x.s.Flush(n.now)
		x.s.Tick(n.now)
	}
	n.send(n.a, n.b)
	n.send(n.b, n.a)
}

// converged reports whether each node's external cache equals the
// other's internal one and nothing is in flight or unacknowledged.
func (n *simNet) converged() string {
	if !n.a.s.Idle() || !n.b.s.Idle() || len(n.inflight) > 0 {
		return "sessions busy"
	}
	if d := n.a.local.diff(n.b.remote); d != "" {
		return "b's external cache: " + d
	}
	if d := n.b.local.diff(n.a.remote); d != "" {
		return "a's external cache: " + d
	}
	if d := n.a.localX.diff(n.b.remoteX); d != "" {
		return "b's external expect cache: " + d
	}
	return ""
}

// runUntil steps 1 ms at a time until converged, for at most limit of
// simulated time, and returns the time it took.
func (n *simNet) runUntil(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	start := n.now
	last := ""
	for n.now.Sub(start) < limit {
		n.step(time.Millisecond)
		if n.err != nil {
			t.Fatalf("codec: %v", n.err)
		}
		if n.now.Sub(start)%(10*time.Millisecond) != 0 {
			continue // the comparison costs more than a step
		}
		if last = n.converged(); last == "" {
			return n.now.Sub(start)
		}
	}
	t.Fatalf("not converged after %v simulated: %s; a %+v; b %+v", limit, last, n.a.s.Status(n.now), n.b.s.Status(n.now))
	return 0
}

// run steps for d of simulated time.
func (n *simNet) run(d time.Duration) {
	for end := n.now.Add(d); n.now.Before(end); {
		n.step(time.Millisecond)
	}
}

// simCodec authenticates, the costlier case for the datagram budget.
var simCodec = wire.NewCodec([]byte("sim secret"))

func simConfig(boot uint32) Config {
	return Config{Boot: boot, Expect: true, QueueBytes: 64 << 10,
		Overhead: simCodec.Overhead()}
}

// TestSimConverges (CS-B06, CS-B07, CS-B09, CS-B17, issue 5 "5 % loss ...
// still ends with identical caches"): whatever the link does, once it
// heals both external caches equal the peers' internal ones.
func TestSimConverges(t *testing.T) {
	cases := []struct {
		name               string
		loss, dup, reorder float64
		entries            int
		queue              int
		pre                func(n *simNet)
		scenario           func(n *simNet, cfgA, cfgB Config)
	}{
		{name: "clean", entries: 3000},
		{name: "loss 5%", loss: 0.05, entries: 3000},
		{name: "loss 30%", loss: 0.3, entries: 2000},
		{name: "duplication", dup: 0.2, entries: 2000},
		{name: "reordering", reorder: 0.3, entries: 2000},
		{name: "all at once", loss: 0.1, dup: 0.1, reorder: 0.2, entries: 3000},
		{name: "partition", entries: 2000, scenario: func(n *simNet, _, _ Config) {
			n.cut = true
			churn(n, 2000, 4000, n.now)
			n.run(10 * time.Second) // both sides declare the peer dead
			n.cut = false
		}},
		{name: "restart of the sender (CS-B17)", entries: 2000, scenario: func(n *simNet, cfgA, _ Config) {
			n.run(20 * time.Millisecond) // some in flight, some acked
			cfgA.Boot += 50
			n.a.restart(cfgA)
			churn(n, 0, 500, n.now)
		}},
		{name: "restart of the receiver (CS-B17)", entries: 2000, scenario: func(n *simNet, _, cfgB Config) {
			n.run(20 * time.Millisecond)
			cfgB.Boot += 50
			n.b.restart(cfgB)
			churn(n, 0, 500, n.now)
		}},
		{name: "sequence wraps, with loss", loss: 0.1, entries: 3000, pre: func(n *simNet) {
			n.a.s.snd.seq = ^uint32(0) - 100
		}},
		{name: "flood larger than the queue (CS-B09)", entries: 20000, queue: 16 << 10},
		{name: "flood with loss", loss: 0.05, entries: 20000, queue: 16 << 10},
	}
	for seed, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfgA, cfgB := simConfig(1000), simConfig(2000)
			if tc.queue > 0 {
				cfgA.QueueBytes = tc.queue
			}
			n := newSimNet(uint64(seed+1), cfgA, cfgB)
			n.loss, n.dup, n.reorder = tc.loss, tc.dup, tc.reorder
			if tc.pre != nil {
				tc.pre(n)
			}
			n.run(10 * time.Millisecond) // the peers meet
			churn(n, 0, tc.entries, n.now)
			for i := range 50 {
				n.b.upsert(n.now, entry(1<<20+i, 3)) // traffic the other way too
			}
			if tc.scenario != nil {
				tc.scenario(n, cfgA, cfgB)
			}
			n.loss, n.dup, n.reorder = 0, 0, 0 // healed
			took := n.runUntil(t, 60*time.Second)
			st := n.a.s.Status(n.now)
			t.Logf("converged %v after healing; a sent %d updates, %d retransmits, %d lost, %d overflows; b: %d nacks, %d digests ok, %d mismatched",
				took, st.UpdatesSent, st.Retransmits, st.LostMsgs, st.Overflows,
				n.b.s.Status(n.now).NacksSent, n.b.s.Status(n.now).DigestsOK, n.b.s.Status(n.now).DigestsMismatch)
			if st.EntriesAtRisk != 0 {
				t.Errorf("entries at risk after convergence = %d, want 0", st.EntriesAtRisk)
			}
		})
	}
}

// churn creates entries from..to on a, changes every third and deletes
// every seventh, a few expectations, each change submitted, 1 ms apart
// every 100 changes.
func churn(n *simNet, from, to int, _ time.Time) {
	for i := from; i < to; i++ {
		n.a.upsert(n.now, entry(i, 1))
		if i%3 == 0 {
			n.a.upsert(n.now, entry(i, 3))
		}
		if i%7 == 0 {
			n.a.del(n.now, entry(i, 3))
		}
		if i%500 == 0 {
			n.a.upsertX(n.now, expectation(i))
		}
		if i%100 == 99 {
			n.step(time.Millisecond)
		}
	}
}

// TestNacksRecoverLoss fails without nacks: one lost update in the middle
// of a burst is resent on the receiver's Nack, with no loss counted and no
// resync, long before any digest could notice (CS-B07).
func TestNacksRecoverLoss(t *testing.T) {
	cfg := simConfig(1000)
	cfg.DigestInterval = time.Hour
	n := newSimNet(1, cfg, simConfig(2000))
	n.run(10 * time.Millisecond)
	dropped := 0
	n.drop = func(m *wire.Message) bool {
		if m.Type == wire.TypeUpdate && m.Seq == 3 && dropped == 0 {
			dropped++
			return true
		}
		return false
	}
	churn(n, 0, 1000, n.now)
	n.runUntil(t, time.Second)
	if dropped != 1 {
		t.Fatal("the update to lose was never sent")
	}
	a, b := n.a.s.Status(n.now), n.b.s.Status(n.now)
	if a.Retransmits == 0 || b.NacksSent == 0 || a.LostMsgs+b.LostMsgs != 0 || b.ResyncSent != 1 || b.DigestsMismatch != 0 {
		t.Errorf("recovered otherwise than by a Nack: retransmits %d nacks %d lost %d resyncs %d mismatches %d",
			a.Retransmits, b.NacksSent, a.LostMsgs+b.LostMsgs, b.ResyncSent, b.DigestsMismatch)
	}
}

// TestDigestRepairsDivergence fails without digests: the external cache
// diverges without any loss the sequence numbers could see (a bug, a
// bit flip, a reset), and the next digest finds and repairs the buckets
// (issue 5: "detects divergence and repairs it within seconds").
func TestDigestRepairsDivergence(t *testing.T) {
	n := newSimNet(2, simConfig(1000), simConfig(2000))
	n.run(10 * time.Millisecond)
	churn(n, 0, 1000, n.now)
	n.runUntil(t, time.Second)
	gone, bogus := entry(10, 1), entry(99999, 3)
	n.b.remote.Delete(gone.Key())
	n.b.remote.Upsert(&bogus)
	took := n.runUntil(t, 2*DefaultDigestInterval)
	b := n.b.s.Status(n.now)
	if b.DigestsMismatch == 0 || b.RepairsSent == 0 || n.a.s.Status(n.now).RepairsAnswered == 0 {
		t.Errorf("mismatches %d repairs %d", b.DigestsMismatch, b.RepairsSent)
	}
	t.Logf("repaired %v after the divergence", took)
}
