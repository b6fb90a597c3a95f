package engine

import (
	"net/netip"
	gosync "sync"

	"github.com/hasuite/hasuite/ctsyncd/internal/cache"
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/ctnl"
)

// maxQueuedEvents bounds the kernel events waiting for the loop. A loop
// that falls this far behind blocks the listener, so the kernel's socket
// buffer fills and overruns (ENOBUFS): that ends in a resync from a dump
// (CS-B08) instead of in unbounded memory.
const maxQueuedEvents = 1 << 16

type entryEvent struct {
	kind cache.EventKind
	e    ct.Entry
	acct ctnl.Acct
}

type expectEvent struct {
	kind cache.EventKind
	x    ct.Expect
}

// eventChunk is how many events a chunk of the kernel queue holds: the
// queue grows and shrinks a chunk at a time, so a burst never copies a
// growing slice under the listener's lock, and its memory goes back to
// the pool (and from there to the garbage collector) once drained.
const eventChunk = 1024

var chunkPool = gosync.Pool{New: func() any { return new([eventChunk]entryEvent) }}

// kernelQueue carries kernel events from the listener's goroutine to the
// loop in batches: the listener appends under the lock, the loop takes the
// whole batch at once. It implements EventSink.
type kernelQueue struct {
	mu      gosync.Mutex
	room    *gosync.Cond
	chunks  []*[eventChunk]entryEvent
	last    int // events in the last chunk
	queued  int
	expects []expectEvent
	overrun bool
	// notify has room for one signal: "there is something to take".
	notify chan struct{}
}

func newKernelQueue() *kernelQueue {
	q := &kernelQueue{notify: make(chan struct{}, 1)}
	q.room = gosync.NewCond(&q.mu)
	return q
}

func (q *kernelQueue) signal() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// wait blocks the listener while the queue is full; called with mu held.
// take, also at a stop, makes room, so a listener never stays blocked.
func (q *kernelQueue) wait() {
	for q.queued >= maxQueuedEvents {
		q.room.Wait()
	}
}

func (q *kernelQueue) Entry(kind cache.EventKind, e *ct.Entry, acct ctnl.Acct) {
	q.mu.Lock()
	q.wait()
	if len(q.chunks) == 0 || q.last == eventChunk {
		q.chunks = append(q.chunks, chunkPool.Get().(*[eventChunk]entryEvent))
		q.last = 0
	}
	q.chunks[len(q.chunks)-1][q.last] = entryEvent{kind: kind, e: *e, acct: acct}
	q.last++
	q.queued++
	q.mu.Unlock()
	q.signal()
}

func (q *kernelQueue) Expect(kind cache.EventKind, x *ct.Expect) {
	q.mu.Lock()
	q.wait()
	q.expects = append(q.expects, expectEvent{kind: kind, x: *x})
	q.queued++
	q.mu.Unlock()
	q.signal()
}

func (q *kernelQueue) Overrun() {
	q.mu.Lock()
	q.overrun = true
	q.mu.Unlock()
	q.signal()
}

// batch is what take hands the loop: the events in order, chunk by chunk.
type batch struct {
	chunks  []*[eventChunk]entryEvent
	last    int // events in the last chunk
	expects []expectEvent
}

// each calls fn for every entry event of the batch, in order.
func (b *batch) each(fn func(*entryEvent)) {
	for i, c := range b.chunks {
		n := eventChunk
		if i == len(b.chunks)-1 {
			n = b.last
		}
		for j := range n {
			fn(&c[j])
		}
	}
}

// take returns what is queued and whether an overrun happened since the
// last take; the loop hands the batch back with recycle.
func (q *kernelQueue) take(reuse batch) (batch, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := batch{chunks: q.chunks, last: q.last, expects: q.expects}
	overrun := q.overrun
	q.chunks, q.last, q.queued, q.overrun = reuse.chunks[:0], 0, 0, false
	q.expects = reuse.expects[:0]
	q.room.Broadcast()
	return b, overrun
}

// recycle returns a drained batch's chunks to the pool and keeps its
// slices for the next take.
func (q *kernelQueue) recycle(b batch) batch {
	for i, c := range b.chunks {
		clear(c[:]) // drop the helper names' strings
		chunkPool.Put(c)
		b.chunks[i] = nil
	}
	clear(b.expects)
	return batch{chunks: b.chunks[:0], expects: b.expects[:0]}
}

// packetQueue carries received datagrams from the channel's reader to the
// loop; bounded like kernelQueue, except that a full queue drops the
// datagram (the sync protocol recovers it: UDP may lose it anyway).
type packetQueue struct {
	mu      gosync.Mutex
	packets []packet
	dropped uint64
	notify  chan struct{}
}

// maxQueuedPackets is about two sync-queue-size worth of datagrams.
const maxQueuedPackets = 4096

func newPacketQueue() *packetQueue { return &packetQueue{notify: make(chan struct{}, 1)} }

// packet is a received datagram and its source.
type packet struct {
	b    []byte
	from netip.AddrPort
}

// push copies b: the reader reuses its buffer.
func (q *packetQueue) push(b []byte, from netip.AddrPort) {
	q.mu.Lock()
	if len(q.packets) >= maxQueuedPackets {
		q.dropped++
		q.mu.Unlock()
		return
	}
	q.packets = append(q.packets, packet{b: append([]byte(nil), b...), from: from})
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *packetQueue) take(reuse []packet) []packet {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.packets
	q.packets = reuse[:0]
	return out
}
