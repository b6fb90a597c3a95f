package sync

import (
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/cache"
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
)

var (
	_ Local        = (*cache.Internal)(nil)
	_ LocalExpect  = (*cache.InternalExpect)(nil)
	_ Remote       = (*cache.External)(nil)
	_ RemoteExpect = (*cache.ExternalExpect)(nil)
)

// TestSimRealCaches runs the protocol over the real caches (CS-B05,
// CS-B06, CS-B07): kernel-like events applied to a's cache.Internal, the
// changes it returns submitted, 10 % loss and reordering, a flood beyond
// the queue; b's cache.External ends with the same bucket sums.
func TestSimRealCaches(t *testing.T) {
	cfgA, cfgB := simConfig(1000), simConfig(2000)
	cfgA.QueueBytes = 16 << 10
	n := newSimNet(7, cfgA, cfgB)
	la, lxa := cache.NewInternal(cache.Filter{}), cache.NewInternalExpect(cache.Filter{})
	rb, rxb := cache.NewExternal(), cache.NewExternalExpect()
	n.a.s = New(cfgA, la, lxa, cache.NewExternal(), cache.NewExternalExpect())
	n.b.s = New(cfgB, cache.NewInternal(cache.Filter{}), cache.NewInternalExpect(cache.Filter{}), rb, rxb)
	n.loss, n.reorder = 0.1, 0.2
	n.run(10 * time.Millisecond)
	submit := func(c cache.EntryChange, ok bool) {
		if !ok {
			return
		}
		r := wire.Record{Kind: wire.RecordUpsert, Entry: c.Value}
		if c.Op == cache.OpDelete {
			r = wire.Record{Kind: wire.RecordDelete, Entry: ct.Entry{Orig: c.Value.Orig, Zone: c.Value.Zone}}
		}
		n.a.s.Submit(n.now, r)
	}
	for i := range 20000 {
		e := entry(i, ct.TCPSynSent)
		submit(la.Apply(cache.New, &e))
		if i%3 == 0 {
			e.TCP.State = ct.TCPEstablished
			submit(la.Apply(cache.Update, &e))
		}
		if i%7 == 0 {
			submit(la.Apply(cache.Destroy, &e))
		}
		if i%100 == 99 {
			n.step(time.Millisecond)
		}
	}
	n.loss, n.reorder = 0, 0
	start := n.now
	for n.now.Sub(start) < time.Minute {
		n.run(10 * time.Millisecond)
		if n.err != nil {
			t.Fatal(n.err)
		}
		if la.Sums() == rb.Sums() && la.Len() == rb.Len() && n.a.s.Idle() {
			t.Logf("%d entries equal %v after healing; a: %+v", rb.Len(), n.now.Sub(start), n.a.s.Status(n.now).Counters)
			return
		}
	}
	d := la.Sums()
	rs := rb.Sums()
	t.Fatalf("not converged: a %d entries, b %d; differing buckets %#x", la.Len(), rb.Len(), d.Diff(&rs))
}
