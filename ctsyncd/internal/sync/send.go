package sync

import (
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
)

// sender is the half of a session that sends this node's changes.
//
// Both of its queues hold records in wire form (wire.AppendRecord), ~41
// octets a typical record against 216 as a wire.Record: with
// sync-queue-size 1 MB each queue may hold ~25k records, and holding them
// decoded cost ~5 MB each at the moment a node holds the most entries (the
// issue's RSS aim, 100k entries under 30 MiB). A record is encoded once,
// when it enters pending, and resent as the same octets.
type sender struct {
	seq   uint32 // the last Seq given
	queue []sent // sent, unacknowledged, consecutive Seqs
	// queueBytes is the size of queue, bounded by Config.QueueBytes.
	queueBytes int

	pending      pendingQ // records waiting to go, in stream order
	pendingBytes int
	liveBytes    int // the part of pendingBytes Submit added

	sweeps  []*sweepJob // sweeps[0] is the one running
	sweepID uint32
	// open: a sweep of the table has begun in the stream and not ended:
	// a periodic digest then would compare half-swept buckets.
	open [2]bool

	atRisk int
	// probed: the window closed and a probe went to make the receiver
	// ack at once rather than after its AckDelay; cleared by progress.
	probed     bool
	lastSent   time.Time // any message
	lastProbe  time.Time // an update sent or a probe
	nextDigest time.Time
}

// sent is one update datagram kept for resending: its records as they
// went (a resend is the same records under a new header: Boot and
// Counter, and the MAC over them).
type sent struct {
	seq uint32
	// xbytes: the octets of its expectation records (statistics: its
	// tables are those whose records take octets in it).
	xbytes uint32
	recs   []byte // RawCount n records, encoded; shared with the messages emitted
	n      int
	size   int       // the datagram's size
	live   int       // live records in it (entries at risk)
	at     time.Time // submission of its oldest live record
}

// share is how d divides between the tables (tables.go).
func (d *sent) share() share {
	sh := share{xbytes: int(d.xbytes)}
	if d.xbytes > 0 {
		sh.tables |= inExpect
	}
	if int(d.xbytes) < len(d.recs) {
		sh.tables |= inMain
	}
	return sh
}

// message is d as an update to emit.
func (d *sent) message() *wire.Message {
	return &wire.Message{Type: wire.TypeUpdate, Seq: d.seq, Raw: d.recs, RawCount: d.n}
}

// pendingQ is the records waiting for the window: their octets back to
// back in buf, and per record its size and whether Submit added it (a
// live change, at risk) or the session itself (sweeps, digests). The
// submission times of the live ones are kept per run of records submitted
// at the same instant (Submit takes them in batches): the lag needs the
// oldest only.
type pendingQ struct {
	buf  []byte
	recs []pendRec
	runs []liveRun
}

type pendRec struct {
	size  uint16 // a record takes at most a few hundred octets (a digest 770)
	live  bool
	table wire.Table // the table it is about (statistics)
}

type liveRun struct {
	n  int
	at time.Time
}

func (q *pendingQ) len() int { return len(q.recs) }

// add appends r, encoded; it returns its size, 0 if the codec refused it.
func (q *pendingQ) add(r *wire.Record, live bool, now time.Time) (int, error) {
	start := len(q.buf)
	b, err := wire.AppendRecord(q.buf, r)
	if err != nil {
		return 0, err
	}
	q.buf = b
	size := len(b) - start
	q.recs = append(q.recs, pendRec{size: uint16(size), live: live, table: recordTable(r)})
	if live {
		if k := len(q.runs) - 1; k >= 0 && q.runs[k].at.Equal(now) {
			q.runs[k].n++
		} else {
			q.runs = append(q.runs, liveRun{n: 1, at: now})
		}
	}
	return size, nil
}

// unadd removes the record add just appended (size octets, live).
func (q *pendingQ) unadd(size int, live bool) {
	q.buf = q.buf[:len(q.buf)-size]
	q.recs = q.recs[:len(q.recs)-1]
	if live {
		k := len(q.runs) - 1
		if q.runs[k].n--; q.runs[k].n == 0 {
			q.runs = q.runs[:k]
		}
	}
}

// oldestLive is the submission time of the first live record waiting.
func (q *pendingQ) oldestLive() (time.Time, bool) {
	if len(q.runs) == 0 {
		return time.Time{}, false
	}
	return q.runs[0].at, true
}

// take removes the first n records, bytes octets, into a new datagram
// body, and says how many of them were live, their octets, when the first
// of them came, and the octets of the expectation table's.
func (q *pendingQ) take(n, bytes int) (body []byte, live, liveBytes int, at time.Time, xbytes int) {
	body = make([]byte, bytes)
	copy(body, q.buf[:bytes])
	for _, r := range q.recs[:n] {
		if r.table == wire.TableExpect {
			xbytes += int(r.size)
		}
		if !r.live {
			continue
		}
		if live == 0 {
			at = q.runs[0].at
		}
		live++
		liveBytes += int(r.size)
		if q.runs[0].n--; q.runs[0].n == 0 {
			q.runs[0] = liveRun{}
			q.runs = q.runs[1:]
		}
	}
	q.buf, q.recs = q.buf[bytes:], q.recs[n:]
	if len(q.recs) == 0 {
		*q = pendingQ{} // let the arrays go after a flood
	}
	return body, live, liveBytes, at, xbytes
}

// sweepJob walks Buckets of Table one bucket at a time.
type sweepJob struct {
	id      uint32
	table   wire.Table
	buckets uint64
	next    int // the next bucket to walk
	begun   bool
}

const allBuckets = ^uint64(0)

// find is the queued update seq, nil if it is not queued.
func (s *sender) find(seq uint32) *sent {
	if len(s.queue) == 0 {
		return nil
	}
	if i := dist(seq, s.queue[0].seq); i >= 0 && int(i) < len(s.queue) && s.queue[i].seq == seq {
		return &s.queue[i]
	}
	return nil
}

func (s *sender) oldestAtRisk() (time.Time, bool) {
	for _, d := range s.queue {
		if d.live > 0 {
			return d.at, true
		}
	}
	return s.pending.oldestLive()
}

// Submit queues changes of this node's internal cache for the peer (upserts
// and deletes of entries or expectations, CS-B06), in the order the cache
// made them. Full datagrams go at once as the window allows; Flush sends
// the rest. A record the codec refuses (the caches admit none: CS-B03,
// wire.CheckEntry) is dropped and counted (Unencodable).
func (s *Session) Submit(now time.Time, recs ...wire.Record) {
	sn := &s.snd
	for i := range recs {
		r := &recs[i]
		switch r.Kind {
		case wire.RecordUpsert, wire.RecordDelete:
		case wire.RecordExpectUpsert, wire.RecordExpectDelete:
			if !s.cfg.Expect {
				continue
			}
		default:
			continue // sweeps and digests are the session's own
		}
		size, err := sn.pending.add(r, true, now)
		if err != nil {
			s.c.Unencodable++
			continue
		}
		if sn.liveBytes+size > s.cfg.PendingBytes {
			sn.pending.unadd(size, true)
			s.overflow(now)
			continue
		}
		sn.pendingBytes += size
		sn.liveBytes += size
		sn.atRisk++
	}
	s.pump(now, false)
}

// Flush sends every pending record the window allows, in a last datagram
// that may not be full.
func (s *Session) Flush(now time.Time) { s.pump(now, true) }

// overflow drops every pending record (live and swept) and replaces them
// by a full sweep, which sends the current state of everything they were
// about (CS-B09: never lose track silently).
func (s *Session) overflow(now time.Time) {
	sn := &s.snd
	dropped := 0
	for _, r := range sn.pending.runs {
		dropped += r.n
	}
	sn.atRisk -= dropped
	sn.pending, sn.pendingBytes, sn.liveBytes = pendingQ{}, 0, 0
	// The running sweep lost records; its end must not be sent, and a
	// new full sweep supersedes it at the receiver.
	sn.sweeps = nil
	sn.open = [2]bool{}
	s.c.Overflows++
	s.c.LostMsgs++
	s.c.DroppedRecords += uint64(dropped)
	s.event(Event{Kind: EventLost, At: now, Count: dropped})
	s.startFull()
}

// startFull queues a sweep of every bucket of both tables, unless one is
// queued and not begun yet: it will read the same state.
func (s *Session) startFull() {
	s.startSweep(wire.TableMain, allBuckets)
	if s.cfg.Expect {
		s.startSweep(wire.TableExpect, allBuckets)
	}
}

// startSweep queues a sweep of buckets of table, merged into a queued
// sweep of the same table not begun yet.
func (s *Session) startSweep(table wire.Table, buckets uint64) {
	if buckets == 0 || table > wire.TableExpect || (table == wire.TableExpect && !s.cfg.Expect) {
		return
	}
	sn := &s.snd
	for _, j := range sn.sweeps {
		if !j.begun && j.table == table {
			j.buckets |= buckets
			return
		}
	}
	sn.sweepID++
	sn.sweeps = append(sn.sweeps, &sweepJob{id: sn.sweepID, table: table, buckets: buckets})
}

// push appends a record of the session's own to pending.
func (s *Session) push(now time.Time, r *wire.Record) {
	size, err := s.snd.pending.add(r, false, now)
	if err != nil {
		s.c.Unencodable++
		return
	}
	s.snd.pendingBytes += size
}

// room is the space for records in one datagram.
func (s *Session) room() int { return s.cfg.MaxDatagram - s.cfg.Overhead }

// windowOpen reports whether a datagram of size fits the send window.
func (s *Session) windowOpen(size int) bool {
	return len(s.snd.queue) == 0 || s.snd.queueBytes+size <= s.cfg.QueueBytes
}

// pump turns pending records into update datagrams while the window
// allows, walking the running sweep a bucket at a time when fewer than a
// datagram's worth of records wait. Without flush, only full datagrams go.
func (s *Session) pump(now time.Time, flush bool) {
	sn := &s.snd
	for range 1 << 20 { // bounded: each round sends a datagram or walks a bucket
		if sn.pendingBytes < s.room() && len(sn.sweeps) > 0 && s.windowOpen(s.cfg.MaxDatagram) {
			s.sweepStep(now)
			continue
		}
		if sn.pending.len() == 0 {
			return
		}
		n, size, full := s.fit()
		if !full && !flush && len(sn.sweeps) == 0 {
			return
		}
		if !s.windowOpen(size) {
			if !sn.probed {
				sn.probed = true
				s.probe(now)
			}
			return
		}
		s.sendUpdate(now, n, size)
	}
}

// fit says how many pending records make the next datagram, its size, and
// whether it is full (the next record would not fit).
func (s *Session) fit() (n, size int, full bool) {
	size = s.cfg.Overhead
	for _, p := range s.snd.pending.recs {
		if size+int(p.size) > s.cfg.MaxDatagram {
			if n == 0 { // larger than a datagram on its own: send it alone
				return 1, size + int(p.size), true
			}
			return n, size, true
		}
		size += int(p.size)
		n++
	}
	return n, size, false
}

func (s *Session) sendUpdate(now time.Time, n, size int) {
	sn := &s.snd
	bytes := size - s.cfg.Overhead
	body, live, liveBytes, at, xbytes := sn.pending.take(n, bytes)
	sn.pendingBytes -= bytes
	sn.liveBytes -= liveBytes
	sn.seq = succ(sn.seq)
	d := sent{seq: sn.seq, xbytes: uint32(xbytes), recs: body, n: n, size: size, live: live, at: at}
	sn.queue = append(sn.queue, d)
	sn.queueBytes += size
	s.c.UpdatesSent++
	s.c.RecordsSent += uint64(n)
	sn.lastProbe = now
	s.emit(now, d.message())
}

// sweepStep moves the running sweep one step: its begin, one bucket's
// entries, or its end and the digest of its table.
func (s *Session) sweepStep(now time.Time) {
	sn := &s.snd
	j := sn.sweeps[0]
	sw := wire.Sweep{ID: j.id, Table: j.table, Buckets: j.buckets}
	if !j.begun {
		j.begun = true
		sn.open[j.table] = true
		s.push(now, &wire.Record{Kind: wire.RecordSweepBegin, Sweep: sw})
		return
	}
	for j.next < ct.Buckets && j.buckets&(1<<j.next) == 0 {
		j.next++
	}
	if j.next >= ct.Buckets {
		s.push(now, &wire.Record{Kind: wire.RecordSweepEnd, Sweep: sw})
		sn.open[j.table] = false
		sn.sweeps = sn.sweeps[1:]
		s.c.SweepsSent++
		s.pushDigest(now, j.table)
		return
	}
	bit := uint64(1) << j.next
	j.next++
	// Each record is encoded at once: the cache's *ct.Entry (or Expect)
	// is valid only during the call.
	if j.table == wire.TableMain {
		rec := wire.Record{Kind: wire.RecordUpsert}
		s.local.RangeBuckets(bit, func(e *ct.Entry) bool {
			rec.Entry = *e
			s.push(now, &rec)
			return true
		})
		return
	}
	s.localX.RangeBuckets(bit, func(x *ct.Expect) bool {
		s.push(now, &wire.Record{Kind: wire.RecordExpectUpsert, Expect: x})
		return true
	})
}

// pushDigest puts the bucket sums of table into the stream: they describe
// the local cache with every record before them applied.
func (s *Session) pushDigest(now time.Time, table wire.Table) {
	var sums ct.Sums
	if table == wire.TableMain {
		sums = s.local.Sums()
	} else {
		sums = s.localX.Sums()
	}
	s.push(now, &wire.Record{Kind: wire.RecordDigest, Digest: &wire.Digest{Table: table, Sums: sums}})
}

// onAck frees the updates up to ack and lets pending records go.
func (s *Session) onAck(now time.Time, ack uint32) {
	sn := &s.snd
	if after(ack, sn.seq) {
		return // not ours (a previous run's numbers)
	}
	i := 0
	for i < len(sn.queue) && !after(sn.queue[i].seq, ack) {
		sn.queueBytes -= sn.queue[i].size
		sn.atRisk -= sn.queue[i].live
		i++
	}
	if i > 0 {
		sn.probed = false
		clear(sn.queue[:i])
		sn.queue = sn.queue[i:]
		if len(sn.queue) == 0 {
			sn.queue = nil
		}
	}
	s.pump(now, true)
}

// maxNackSpan bounds the work of one Nack.
const maxNackSpan = 1 << 16

// onNack resends what is still queued of from..to; what is not is lost for
// good and a full sweep replaces it.
func (s *Session) onNack(now time.Time, from, to uint32) {
	sn := &s.snd
	if after(from, to) || after(to, sn.seq) {
		to = sn.seq
	}
	if after(from, to) {
		return
	}
	span := min(uint32(dist(to, from))+1, maxNackSpan)
	missing := 0
	for k := range span {
		seq := add(from, k)
		if len(sn.queue) > 0 {
			if idx := dist(seq, sn.queue[0].seq); idx >= 0 && int(idx) < len(sn.queue) {
				s.c.Retransmits++
				if d := &sn.queue[idx]; d.share().tables == inExpect {
					s.c.Tables[wire.TableExpect].Retransmits++
				} else {
					s.c.Tables[wire.TableMain].Retransmits++ // mixed ones too
				}
				sn.lastProbe = now
				s.emit(now, sn.queue[idx].message())
				continue
			}
		}
		missing++
	}
	if missing > 0 {
		s.c.LostMsgs += uint64(missing)
		s.event(Event{Kind: EventLost, At: now, Count: missing})
		s.startFull()
		s.pump(now, true)
	}
}

// tickSender sends what timers call for: a probe when updates stay
// unacknowledged, the state after a change, a keep-alive when idle, the
// periodic digests.
func (s *Session) tickSender(now time.Time) {
	sn := &s.snd
	if sn.nextDigest.IsZero() {
		sn.nextDigest = now.Add(s.cfg.DigestInterval)
	}
	if !now.Before(sn.nextDigest) {
		sn.nextDigest = now.Add(s.cfg.DigestInterval)
		// Nobody to compare, or a backlog the digest would only grow:
		// skipping one is harmless, the next comes.
		skip := !s.rcv.alive || sn.pendingBytes >= s.room()
		for t := wire.TableMain; t <= wire.TableExpect; t++ {
			if skip || (t == wire.TableExpect && !s.cfg.Expect) || sn.open[t] {
				continue
			}
			s.pushDigest(now, t)
		}
		s.pump(now, true)
	}
	probe := len(sn.queue) > 0 && now.Sub(sn.lastProbe) >= s.cfg.ProbeAfter
	if probe || s.stateCh || now.Sub(sn.lastSent) >= s.cfg.Keepalive {
		s.probe(now)
	}
}

// probe sends an Alive: the keep-alive, the state, and the last Seq, which
// the receiver answers with an Ack or Nacks.
func (s *Session) probe(now time.Time) {
	s.snd.lastProbe = now
	s.stateCh = false
	s.emit(now, &wire.Message{Type: wire.TypeAlive, Ack: s.snd.seq, State: s.state})
}
