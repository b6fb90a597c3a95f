package cache

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

type applyStep struct {
	kind  EventKind
	entry ct.Entry
	ok    bool
	op    Op
}

// CS-B05, CS-O03: what Apply returns and counts for each event.
func TestInternalApply(t *testing.T) {
	e := tcp("10.0.0.1", 40000, "192.0.2.7", 80)
	timeoutOnly := e
	timeoutOnly.Timeout = 12
	closing := e
	closing.TCP.State = ct.TCPFinWait
	wscale := e
	wscale.TCP.FlagsOrig = 0x20 // not in the digest, still needed by the peer
	other := tcp("10.0.0.2", 40000, "192.0.2.7", 80)
	ignored := tcp("127.0.0.1", 1, "127.0.0.1", 2)
	tests := []struct {
		name  string
		steps []applyStep
		want  Counters
	}{
		{"new then destroy", []applyStep{{New, e, true, OpUpsert}, {Destroy, e, true, OpDelete}},
			Counters{Created: 1, Destroyed: 1}},
		{"update of the timeout alone is not sent", []applyStep{{New, e, true, OpUpsert}, {Update, timeoutOnly, false, 0}},
			Counters{Current: 1, Created: 1, Updated: 1}},
		{"update of the state is sent", []applyStep{{New, e, true, OpUpsert}, {Update, closing, true, OpUpsert}},
			Counters{Current: 1, Created: 1, Updated: 1}},
		{"update of the TCP flags is sent", []applyStep{{New, e, true, OpUpsert}, {Update, wscale, true, OpUpsert}},
			Counters{Current: 1, Created: 1, Updated: 1}},
		{"update of an unknown entry creates it, counted failed", []applyStep{{Update, e, true, OpUpsert}},
			Counters{Current: 1, Created: 1, UpdatedFailed: 1}},
		{"destroy of an unknown entry", []applyStep{{Destroy, e, false, 0}},
			Counters{DestroyedFailed: 1}},
		{"new of a known entry updates it", []applyStep{{New, e, true, OpUpsert}, {New, closing, true, OpUpsert}, {New, closing, false, 0}},
			Counters{Current: 1, Created: 1, Updated: 2}},
		{"filtered: nothing counted", []applyStep{{New, ignored, false, 0}, {Destroy, ignored, false, 0}},
			Counters{}},
		{"two entries", []applyStep{{New, e, true, OpUpsert}, {New, other, true, OpUpsert}, {Destroy, e, true, OpDelete}},
			Counters{Current: 1, Created: 2, Destroyed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewInternal(Filter{Ignore: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
			for i, s := range tt.steps {
				ch, ok := c.Apply(s.kind, &s.entry)
				if ok != s.ok || ch.Op != s.op {
					t.Fatalf("step %d: Apply = (%v, %v), want (%v, %v)", i, ch.Op, ok, s.op, s.ok)
				}
				if ok && ch.Value.Key() != s.entry.Key() {
					t.Fatalf("step %d: change for %v, want %v", i, ch.Value.Key(), s.entry.Key())
				}
				checkSums(t, "after step", c.Sums(), c.Range)
			}
			if got := c.Counters(); got != tt.want {
				t.Errorf("counters %+v, want %+v", got, tt.want)
			}
			if c.Len() != tt.want.Current {
				t.Errorf("Len %d, want %d", c.Len(), tt.want.Current)
			}
		})
	}
}

// The cache keeps the latest timeout even when it does not send it, and
// Get returns the stored entry.
func TestInternalGetKeepsTimeout(t *testing.T) {
	c := NewInternal(Filter{})
	e := tcp("10.0.0.1", 40000, "192.0.2.7", 80)
	c.Apply(New, &e)
	e.Timeout = 99
	c.Apply(Update, &e)
	got, ok := c.Get(e.Key())
	if !ok || got != e {
		t.Fatalf("Get = %+v, %v; want %+v", got, ok, e)
	}
	absent := tcp("10.9.9.9", 1, "10.9.9.8", 2)
	if _, ok := c.Get(absent.Key()); ok {
		t.Fatal("Get of an absent key succeeded")
	}
}

// CS-B08: a resync from a dump reports what is new, changed and gone;
// events during the dump count as seen.
func TestInternalResync(t *testing.T) {
	a, b, c3, d := tcp("10.0.0.1", 1, "10.0.1.1", 80), tcp("10.0.0.2", 1, "10.0.1.1", 80),
		tcp("10.0.0.3", 1, "10.0.1.1", 80), tcp("10.0.0.4", 1, "10.0.1.1", 80)
	c := NewInternal(Filter{})
	for _, e := range []ct.Entry{a, b, c3} {
		c.Apply(New, &e)
	}
	c.BeginResync()
	if _, ok := c.ResyncAdd(&a); ok {
		t.Error("unchanged entry reported by the resync")
	}
	b2 := b
	b2.Mark = 5
	if ch, ok := c.ResyncAdd(&b2); !ok || ch.Op != OpUpsert {
		t.Error("changed entry not reported")
	}
	if ch, ok := c.Apply(New, &d); !ok || ch.Op != OpUpsert { // an event while dumping
		t.Error("event during the resync not applied")
	}
	dels := c.EndResync()
	if len(dels) != 1 || dels[0].Op != OpDelete || dels[0].Value.Orig != c3.Orig {
		t.Fatalf("EndResync = %+v, want the delete of %v", dels, c3.Key())
	}
	if c.Len() != 3 {
		t.Fatalf("Len %d after resync, want 3", c.Len())
	}
	checkSums(t, "resync", c.Sums(), c.Range)
	if got := c.EndResync(); got != nil {
		t.Errorf("EndResync without BeginResync = %v", got)
	}
	if ct := c.Counters(); ct.Destroyed != 1 || ct.Updated != 1 || ct.Created != 4 {
		t.Errorf("counters %+v", ct)
	}
}

// A reloaded filter removes at once what it rejects (CS-B04).
func TestInternalSetFilter(t *testing.T) {
	c := NewInternal(Filter{})
	keep, drop1, drop2 := tcp("10.0.0.1", 1, "10.0.1.1", 80), tcp("192.0.2.1", 1, "10.0.1.1", 80),
		ct.Entry{Orig: ct.Tuple{Src: addr("10.0.0.9"), Dst: addr("10.0.0.8"), Proto: ct.ProtoUDP}}
	for _, e := range []ct.Entry{keep, drop1, drop2} {
		c.Apply(New, &e)
	}
	got := c.SetFilter(Filter{Protocols: []uint8{ct.ProtoTCP}, Local: []netip.Addr{addr("192.0.2.1")}})
	want := []ct.Key{drop1.Key(), drop2.Key()}
	sortKeys := func(k []ct.Key) {
		slices.SortFunc(k, func(a, b ct.Key) int { return a.Orig.Src.Compare(b.Orig.Src) })
	}
	sortKeys(got)
	sortKeys(want)
	if !slices.Equal(got, want) {
		t.Fatalf("SetFilter removed %v, want %v", got, want)
	}
	if c.Len() != 1 {
		t.Fatalf("Len %d, want 1", c.Len())
	}
	checkSums(t, "SetFilter", c.Sums(), c.Range)
	if _, ok := c.Apply(New, &drop1); ok {
		t.Fatal("new filter not applied to later events")
	}
}

// RangeBuckets visits exactly the entries of the buckets asked for, and
// Range stops when told.
func TestInternalRangeBuckets(t *testing.T) {
	c := NewInternal(Filter{})
	for i := range 1000 {
		e := tcp("10.0.0.1", uint16(1000+i), "10.0.1.1", 80)
		c.Apply(New, &e)
	}
	const set uint64 = 1<<3 | 1<<40 | 1<<63
	n := 0
	c.RangeBuckets(set, func(e *ct.Entry) bool {
		if b := e.Key().Bucket(ct.Buckets); set&(1<<b) == 0 {
			t.Fatalf("entry of bucket %d visited", b)
		}
		n++
		return true
	})
	s := c.Sums()
	if want := int(s[3].Count + s[40].Count + s[63].Count); n != want {
		t.Fatalf("visited %d, want %d", n, want)
	}
	n = 0
	c.Range(func(*ct.Entry) bool { n++; return n < 10 })
	if n != 10 {
		t.Fatalf("Range did not stop: %d calls", n)
	}
	c.Flush()
	if c.Len() != 0 || c.Sums() != (ct.Sums{}) || c.Counters().Created != 1000 {
		t.Fatalf("Flush: len %d, counters %+v", c.Len(), c.Counters())
	}
}

// CS-B02: expectations have their own cache with the same behaviour.
func TestInternalExpect(t *testing.T) {
	c := NewInternalExpect(Filter{})
	x := ct.Expect{Master: tcp("10.0.0.1", 40000, "192.0.2.7", 21).Orig,
		Tuple:   ct.Tuple{Src: addr("192.0.2.7"), Dst: addr("10.0.0.1"), Proto: ct.ProtoTCP, DstPort: 50000},
		Timeout: 300, Helper: "ftp"}
	if ch, ok := c.Apply(New, &x); !ok || ch.Value != x {
		t.Fatalf("Apply(New) = %+v, %v", ch, ok)
	}
	y := x
	y.Timeout = 10
	if _, ok := c.Apply(Update, &y); ok {
		t.Fatal("timeout-only update of an expectation sent")
	}
	var s ct.Sums
	c.Range(func(e *ct.Expect) bool { s.Add(e.Key().Bucket(ct.Buckets), e.Digest()); return true })
	if s != c.Sums() {
		t.Fatal("expectation sums wrong")
	}
	if got, ok := c.Get(x.Key()); !ok || got != y {
		t.Fatalf("Get = %+v", got)
	}
	if ch, ok := c.Apply(Destroy, &x); !ok || ch.Op != OpDelete || c.Len() != 0 {
		t.Fatal("destroy of an expectation failed")
	}
}

// A resync whose dump failed removes nothing: what the dump did not reach
// may still be in the kernel.
func TestAbortResyncKeeps(t *testing.T) {
	c := NewInternal(Filter{})
	e := tcp("10.0.0.1", 1, "192.0.2.7", 80)
	c.Apply(New, &e)
	c.BeginResync()
	c.AbortResync()
	if got := c.EndResync(); len(got) != 0 || c.Len() != 1 {
		t.Errorf("after an aborted resync: %d deletes, %d entries; want 0 and 1", len(got), c.Len())
	}
}
