package sync

import (
	"math/bits"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
)

// receiver is the half of a session that applies the peer's changes.
type receiver struct {
	known     bool // a peer was heard since start
	boot      uint32
	alive     bool
	lastHeard time.Time
	state     wire.State

	// Replay window over Counter: hi is the highest seen, bit i of win
	// says hi-i was seen.
	hi  uint32
	win uint64

	synced  bool   // next is meaningful
	next    uint32 // the next Seq to apply
	maxSeen uint32 // the highest Seq known to exist (updates, Alive.Ack)
	ahead   map[uint32]*wire.Message

	gapSince  time.Time
	lastNack  time.Time
	nackTries int

	unacked      int // updates applied since the last Ack sent
	firstUnacked time.Time
	ackDue       bool

	open     [2]bool // a sweep of the table is open here
	openID   [2]uint32
	openFull [2]bool // ...of every bucket

	// wantResync: a full resync was asked at askedResync and has not
	// arrived yet.
	wantResync  bool
	askedResync time.Time
}

// gap reports whether updates are missing before some known to exist.
func (r *receiver) gap() bool { return r.synced && !after(r.next, r.maxSeen) }

// replayWindow is the number of Counters below the highest seen that are
// still accepted once (messages reordered on the link).
const replayWindow = 64

// fresh records Counter c and reports whether it was not seen before.
func (r *receiver) fresh(c uint32) bool {
	if d := c - r.hi; after(c, r.hi) {
		if d >= replayWindow {
			r.win = 1
		} else {
			r.win = r.win<<d | 1
		}
		r.hi = c
		return true
	}
	off := r.hi - c
	if off >= replayWindow || r.win&(1<<off) != 0 {
		return false
	}
	r.win |= 1 << off
	return true
}

// accept checks m's Boot and Counter and keeps the peer's liveness. A
// Boot other than the peer's known one is a restart only when it is
// greater, or when the peer was dead: so a replayed datagram of an older
// run cannot reset a live session, and a peer whose clock went back still
// comes back after DeadInterval of silence.
func (s *Session) accept(now time.Time, m *wire.Message) bool {
	r := &s.rcv
	switch {
	case !r.known || (m.Boot != r.boot && (after(m.Boot, r.boot) || !r.alive)):
		first := !r.known
		s.resetReceiver(m.Boot)
		r.hi, r.win = m.Counter, 1
		if !first {
			s.c.PeerRestarts++
			// Its resend queue is gone with it; ours holds updates its
			// new run never asked for. The full resync it asks covers
			// them (CS-B17).
			s.dropQueue()
		}
		s.event(Event{Kind: EventPeerRestarted, At: now, Boot: m.Boot})
		s.RequestResync(now)
	case m.Boot != r.boot:
		s.c.StaleBoot++
		return false
	case !r.fresh(m.Counter):
		s.c.Replayed++
		return false
	}
	r.lastHeard = now
	if !r.alive {
		r.alive = true
		s.event(Event{Kind: EventPeerAlive, At: now, Boot: m.Boot})
	}
	return true
}

// resetReceiver forgets everything about the peer's previous run.
func (s *Session) resetReceiver(boot uint32) {
	ahead := s.rcv.ahead
	clear(ahead)
	s.rcv = receiver{known: true, boot: boot, alive: s.rcv.alive, lastHeard: s.rcv.lastHeard,
		state: s.rcv.state, ahead: ahead, wantResync: s.rcv.wantResync, askedResync: s.rcv.askedResync}
}

// dropQueue forgets the resend queue (the peer that would ask for it is
// gone).
func (s *Session) dropQueue() {
	sn := &s.snd
	for _, d := range sn.queue {
		sn.atRisk -= d.live
	}
	sn.queue, sn.queueBytes = nil, 0
}

func (s *Session) onUpdate(now time.Time, m *wire.Message) {
	r := &s.rcv
	if !r.synced {
		// First update of a peer met mid-run: what came before is in the
		// full resync asked at first contact.
		r.synced, r.next, r.maxSeen = true, m.Seq, pred(m.Seq)
	}
	d := dist(m.Seq, r.next)
	switch {
	case d < 0:
		s.c.Duplicates++
		r.ackDue = true // its sender may have missed our Ack
		return
	case d >= int32(s.cfg.ReorderWindow):
		s.c.OutOfWindow++
		if after(m.Seq, r.maxSeen) {
			r.maxSeen = m.Seq
		}
		s.checkGap(now)
		return
	case d > 0:
		if _, dup := r.ahead[m.Seq]; dup {
			s.c.Duplicates++
			return
		}
		r.ahead[m.Seq] = m
		if after(m.Seq, r.maxSeen) {
			r.maxSeen = m.Seq
		}
		s.checkGap(now)
		return
	}
	s.apply(now, m)
	s.drainAhead(now)
	s.checkGap(now)
}

// drainAhead applies the buffered updates that follow next.
func (s *Session) drainAhead(now time.Time) {
	r := &s.rcv
	for range len(r.ahead) {
		m, ok := r.ahead[r.next]
		if !ok {
			return
		}
		delete(r.ahead, r.next)
		s.apply(now, m)
	}
}

// apply applies one in-order update and counts it for the delayed Ack.
func (s *Session) apply(now time.Time, m *wire.Message) {
	r := &s.rcv
	r.next = succ(m.Seq)
	if after(m.Seq, r.maxSeen) {
		r.maxSeen = m.Seq
	}
	s.c.UpdatesApplied++
	for i := range m.Records {
		s.applyRecord(now, &m.Records[i])
	}
	if r.unacked == 0 {
		r.firstUnacked = now
	}
	r.unacked++
	if r.unacked >= s.cfg.AckEvery {
		s.sendAck(now)
	}
}

func (s *Session) applyRecord(now time.Time, rec *wire.Record) {
	r := &s.rcv
	s.c.RecordsApplied++
	x := s.cfg.Expect
	switch rec.Kind {
	case wire.RecordUpsert:
		s.remote.Upsert(&rec.Entry)
	case wire.RecordDelete:
		s.remote.Delete(rec.Entry.Key())
	case wire.RecordExpectUpsert:
		if x && rec.Expect != nil {
			s.remoteX.Upsert(rec.Expect)
		}
	case wire.RecordExpectDelete:
		if x && rec.Expect != nil {
			s.remoteX.Delete(rec.Expect.Key())
		}
	case wire.RecordSweepBegin:
		t := rec.Sweep.Table
		if t == wire.TableMain || (t == wire.TableExpect && x) {
			r.open[t], r.openID[t], r.openFull[t] = true, rec.Sweep.ID, rec.Sweep.Buckets == allBuckets
			if t == wire.TableMain {
				s.remote.BeginSweep(rec.Sweep.ID, rec.Sweep.Buckets)
			} else {
				s.remoteX.BeginSweep(rec.Sweep.ID, rec.Sweep.Buckets)
			}
		}
	case wire.RecordSweepEnd:
		t := rec.Sweep.Table
		if t > wire.TableExpect || !r.open[t] || r.openID[t] != rec.Sweep.ID {
			return // its begin was skipped with a lost gap: the full resync asked then redoes it
		}
		r.open[t] = false
		if t == wire.TableMain {
			s.remote.EndSweep(rec.Sweep.ID)
		} else {
			s.remoteX.EndSweep(rec.Sweep.ID)
		}
		s.c.SweepsApplied++
		if rec.Sweep.Buckets == allBuckets {
			if t == wire.TableMain {
				r.wantResync = false
			}
			s.event(Event{Kind: EventResyncReceived, At: now, Boot: r.boot, Table: t})
		}
	case wire.RecordDigest:
		s.compareDigest(now, rec.Digest)
	}
}

// compareDigest compares the peer's sums, taken at this point of its
// stream, with the external cache having applied the same records; the
// buckets that differ are asked again (issue 5: detect and repair
// divergence).
func (s *Session) compareDigest(now time.Time, d *wire.Digest) {
	if d == nil || d.Table > wire.TableExpect || (d.Table == wire.TableExpect && !s.cfg.Expect) {
		return
	}
	if s.rcv.open[d.Table] {
		return // half swept: the digest after the sweep's end will tell
	}
	var mine = s.remote.Sums
	if d.Table == wire.TableExpect {
		mine = s.remoteX.Sums
	}
	sums := mine()
	diff := sums.Diff(&d.Sums)
	s.lastDigest, s.lastDigestBuckets = now, bits.OnesCount64(diff)
	tc := s.c.table(d.Table)
	if diff == 0 {
		s.c.DigestsOK++
		tc.DigestsOK++
		return
	}
	s.c.DigestsMismatch++
	tc.DigestsMismatch++
	s.c.RepairsSent++
	tc.RepairsSent++
	s.emit(now, &wire.Message{Type: wire.TypeRepairRequest, Table: d.Table, Buckets: diff})
}

// checkGap nacks a newly seen gap at once; Tick retries it.
func (s *Session) checkGap(now time.Time) {
	r := &s.rcv
	if !r.gap() {
		r.gapSince, r.nackTries = time.Time{}, 0
		return
	}
	if r.gapSince.IsZero() {
		r.gapSince = now
		r.nackTries = 0
		s.sendNacks(now)
	}
}

// maxNackRanges bounds the Nacks of one round; later holes are asked in
// the next rounds.
const maxNackRanges = 8

// sendNacks asks for every hole between next and maxSeen.
func (s *Session) sendNacks(now time.Time) {
	r := &s.rcv
	r.lastNack = now
	r.nackTries++
	ranges := 0
	span := min(uint32(dist(r.maxSeen, r.next))+1, uint32(s.cfg.ReorderWindow)+1)
	for k := uint32(0); k < span && ranges < maxNackRanges; {
		seq := add(r.next, k)
		if _, ok := r.ahead[seq]; ok {
			k++
			continue
		}
		from, to := seq, seq
		for k < span {
			seq := add(r.next, k)
			if _, ok := r.ahead[seq]; ok {
				break
			}
			to = seq
			k++
			if seq == ^uint32(0) {
				break // a Nack range does not wrap
			}
		}
		s.c.NacksSent++
		ranges++
		s.emit(now, &wire.Message{Type: wire.TypeNack, From: from, To: to})
	}
}

// giveUp skips the holes as lost: applies what is buffered in order and
// asks for a full resync (CS-B07: unrecoverable loss is counted, then
// repaired).
func (s *Session) giveUp(now time.Time) {
	r := &s.rcv
	lost := 0
	for range s.cfg.ReorderWindow + 1 {
		if !r.gap() {
			break
		}
		if m, ok := r.ahead[r.next]; ok {
			delete(r.ahead, r.next)
			s.apply(now, m)
			continue
		}
		lost++
		r.next = succ(r.next)
	}
	if r.gap() { // beyond the window: nothing buffered there
		lost += int(dist(r.maxSeen, r.next)) + 1
		r.next = succ(r.maxSeen)
	}
	clear(r.ahead)
	r.open = [2]bool{}
	r.gapSince, r.nackTries = time.Time{}, 0
	s.c.LostMsgs += uint64(lost)
	s.event(Event{Kind: EventLost, At: now, Boot: r.boot, Count: lost})
	s.RequestResync(now)
	s.sendAck(now)
}

func (s *Session) sendAck(now time.Time) {
	r := &s.rcv
	r.unacked, r.ackDue = 0, false
	s.c.AcksSent++
	s.emit(now, &wire.Message{Type: wire.TypeAck, Ack: r.next - 1})
}

// onAlive takes the peer's state and its last Seq: updates after ours are
// missing (the tail of a burst lost); an Alive is also the sender's probe,
// answered by an Ack.
func (s *Session) onAlive(now time.Time, m *wire.Message) {
	r := &s.rcv
	if m.State != r.state {
		r.state = m.State
		s.event(Event{Kind: EventPeerState, At: now, Boot: r.boot, State: m.State})
	}
	if !r.synced {
		r.synced, r.next, r.maxSeen = true, succ(m.Ack), m.Ack
		return
	}
	if after(m.Ack, r.maxSeen) {
		r.maxSeen = m.Ack
	}
	s.checkGap(now)
	if !r.gap() {
		s.sendAck(now)
	}
}

// tickReceiver runs the receiver's timers.
func (s *Session) tickReceiver(now time.Time) {
	r := &s.rcv
	if r.alive && now.Sub(r.lastHeard) >= s.cfg.DeadInterval {
		r.alive = false
		s.event(Event{Kind: EventPeerDead, At: now, Boot: r.boot})
	}
	if r.gap() && now.Sub(r.lastNack) >= s.cfg.NackInterval {
		if r.nackTries >= s.cfg.NackTries {
			s.giveUp(now)
		} else {
			s.sendNacks(now)
		}
	}
	if r.ackDue || (r.unacked > 0 && now.Sub(r.firstUnacked) >= s.cfg.AckDelay) {
		s.sendAck(now)
	}
	if r.wantResync && r.alive && now.Sub(r.askedResync) >= s.cfg.ResyncRetry {
		if r.openFull[wire.TableMain] && r.open[wire.TableMain] {
			r.askedResync = now // on its way: asking again would only restart it
		} else {
			s.RequestResync(now)
		}
	}
}
