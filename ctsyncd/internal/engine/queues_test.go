package engine

import (
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/cache"
	"github.com/hasuite/hasuite/ctsyncd/internal/ctnl"
)

// The kernel queue hands the loop every event in order across chunks, and
// reuses its chunks from one batch to the next.
func TestKernelQueueOrder(t *testing.T) {
	q := newKernelQueue()
	var keep batch
	for round := range 3 {
		n := 2*eventChunk + 17*round
		for i := range n {
			e := flow(i)
			q.Entry(cache.New, &e, ctnl.Acct{Packets: uint64(i)})
		}
		b, overrun := q.take(keep)
		if overrun {
			t.Fatal("overrun without Overrun")
		}
		i := 0
		b.each(func(ev *entryEvent) {
			if ev.acct.Packets != uint64(i) {
				t.Fatalf("round %d: event %d is the %dth queued", round, i, ev.acct.Packets)
			}
			i++
		})
		if i != n {
			t.Fatalf("round %d: %d events taken, %d queued", round, i, n)
		}
		keep = q.recycle(b)
	}
}

// A full queue blocks the listener until the loop takes the batch: the
// kernel's buffer then overruns, which ends in a resync (CS-B08), rather
// than memory growing without bound.
func TestKernelQueueBound(t *testing.T) {
	q := newKernelQueue()
	e := flow(1)
	for range maxQueuedEvents {
		q.Entry(cache.Update, &e, ctnl.Acct{})
	}
	done := make(chan struct{})
	go func() {
		q.Entry(cache.Update, &e, ctnl.Acct{})
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("the listener was not held at a full queue")
	case <-time.After(50 * time.Millisecond):
	}
	b, _ := q.take(batch{})
	<-done
	q.recycle(b)
}
