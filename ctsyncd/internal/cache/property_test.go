package cache

import (
	"maps"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// Random sequences of events, resyncs and filter changes on an Internal,
// checked against a plain map; its changes reach an External over a lossy
// link, and sweeps of the buckets whose sums differ (issue 5's digest
// exchange and repair) must leave both equal with identical sums.
func TestPropertyInternalExternal(t *testing.T) {
	seeds := uint64(8)
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(seed, 99))
		pool := make([]ct.Entry, 3000)
		for i := range pool {
			pool[i] = genEntry(r, i)
		}
		in := NewInternal(Filter{})
		ex := NewExternal()
		model := map[ct.Key]ct.Entry{}
		filter := Filter{}
		accepted := func(e *ct.Entry) bool { return compile(filter).accepts(e.Orig, e.Reply, true) }
		send := func(ch Change[ct.Entry]) {
			if r.IntN(10) == 0 { // lost on the link
				return
			}
			if ch.Op == OpDelete {
				ex.Delete(ch.Value.Key())
			} else {
				ex.Upsert(&ch.Value)
			}
		}
		var sweepID uint32
		for step := range 20000 {
			e := pool[r.IntN(len(pool))]
			switch op := r.IntN(100); {
			case op < 45:
				e.Timeout = uint32(r.IntN(1000))
				if r.IntN(3) == 0 {
					e.TCP.State = uint8(r.IntN(10))
				}
				kind := New
				if r.IntN(2) == 0 {
					kind = Update
				}
				if ch, ok := in.Apply(kind, &e); ok {
					send(ch)
				}
				if accepted(&e) {
					model[e.Key()] = e
				}
			case op < 85:
				if ch, ok := in.Apply(Destroy, &e); ok {
					send(ch)
				}
				delete(model, e.Key())
			case op < 86: // a resync from a "dump": the model, with some entries gone and some added
				in.BeginResync()
				for k, v := range model {
					if r.IntN(20) == 0 {
						delete(model, k)
						continue
					}
					if ch, ok := in.ResyncAdd(&v); ok {
						send(ch)
					}
				}
				extra := pool[r.IntN(len(pool))]
				if accepted(&extra) {
					model[extra.Key()] = extra
				}
				if ch, ok := in.ResyncAdd(&extra); ok {
					send(ch)
				}
				for _, ch := range in.EndResync() {
					send(ch)
				}
			case op < 87: // a reload changes the filter
				filter = Filter{}
				if r.IntN(2) == 0 {
					filter.Protocols = []uint8{ct.ProtoTCP}
				}
				if r.IntN(2) == 0 {
					filter.Ignore = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/22")}
				}
				for _, k := range in.SetFilter(filter) {
					send(Change[ct.Entry]{Op: OpDelete, Value: ct.Entry{Orig: k.Orig, Zone: k.Zone}})
				}
				maps.DeleteFunc(model, func(_ ct.Key, v ct.Entry) bool { return !accepted(&v) })
			default: // digest exchange: repair what differs, sometimes one bucket at a time
				is, es := in.Sums(), ex.Sums()
				diff := is.Diff(&es)
				for diff != 0 {
					set := diff
					if r.IntN(2) == 0 {
						set = diff & -diff
					}
					diff &^= set
					sweepID++
					ex.BeginSweep(sweepID, set)
					in.RangeBuckets(set, func(e *ct.Entry) bool { ex.Upsert(e); return true })
					ex.EndSweep(sweepID)
				}
			}
			if step%500 == 0 || step == 19999 {
				checkSums(t, "internal", in.Sums(), in.Range)
				checkSums(t, "external", ex.Sums(), ex.Range)
				if got := contents(in.Range); !maps.Equal(got, model) || in.Len() != len(model) {
					t.Fatalf("seed %d step %d: internal (%d) differs from the model (%d)", seed, step, in.Len(), len(model))
				}
			}
		}
		// A final repair with a loss-free link must converge.
		is, es := in.Sums(), ex.Sums()
		if diff := is.Diff(&es); diff != 0 {
			ex.BeginSweep(sweepID+1, diff)
			in.RangeBuckets(diff, func(e *ct.Entry) bool { ex.Upsert(e); return true })
			ex.EndSweep(sweepID + 1)
		}
		if in.Sums() != ex.Sums() {
			t.Fatalf("seed %d: sums differ after repair", seed)
		}
		// Equal up to timeouts, which the Internal does not send alone.
		strip := func(m map[ct.Key]ct.Entry) map[ct.Key]ct.Entry {
			for k, v := range m {
				v.Timeout = 0
				m[k] = v
			}
			return m
		}
		if !maps.Equal(strip(contents(in.Range)), strip(contents(ex.Range))) {
			t.Fatalf("seed %d: caches differ after repair", seed)
		}
	}
}
