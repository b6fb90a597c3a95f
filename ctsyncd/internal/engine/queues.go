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

// kernelQueue carries kernel events from the listener's goroutine to the
// loop in batches: the listener appends under the lock, the loop takes the
// whole batch at once. It implements EventSink.
type kernelQueue struct {
	mu      gosync.Mutex
	room    *gosync.Cond
	entries []entryEvent
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
	for len(q.entries)+len(q.expects) >= maxQueuedEvents {
		q.room.Wait()
	}
}

func (q *kernelQueue) Entry(kind cache.EventKind, e *ct.Entry, acct ctnl.Acct) {
	q.mu.Lock()
	q.wait()
	q.entries = append(q.entries, entryEvent{kind: kind, e: *e, acct: acct})
	q.mu.Unlock()
	q.signal()
}

func (q *kernelQueue) Expect(kind cache.EventKind, x *ct.Expect) {
	q.mu.Lock()
	q.wait()
	q.expects = append(q.expects, expectEvent{kind: kind, x: *x})
	q.mu.Unlock()
	q.signal()
}

func (q *kernelQueue) Overrun() {
	q.mu.Lock()
	q.overrun = true
	q.mu.Unlock()
	q.signal()
}

// take returns what is queued, reusing the slices the loop handed back
// (entries[:0], expects[:0]), and whether an overrun happened since the
// last take.
func (q *kernelQueue) take(entries []entryEvent, expects []expectEvent) ([]entryEvent, []expectEvent, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	outE, outX, overrun := q.entries, q.expects, q.overrun
	q.entries, q.expects, q.overrun = entries[:0], expects[:0], false
	q.room.Broadcast()
	return outE, outX, overrun
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
