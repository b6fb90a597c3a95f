package cache

import (
	"math/rand/v2"
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// Churn over many chunks per bucket and several index growths: every key
// held is found, none removed is, the sums and Len stay right, and a
// shrinking table frees its chunks.
func TestTableChurn(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 40_000 // ~600 per bucket: five chunks
	pool := make([]ct.Entry, n)
	for i := range pool {
		pool[i] = genEntry(r, i)
	}
	c := NewExternal()
	held := make([]bool, n)
	count := 0
	check := func(round int) {
		t.Helper()
		if c.Len() != count {
			t.Fatalf("round %d: Len %d, want %d", round, c.Len(), count)
		}
		for i := range pool {
			got, ok := c.Get(pool[i].Key())
			if ok != held[i] || ok && got != pool[i] {
				t.Fatalf("round %d: entry %d: held %v, Get ok %v", round, i, held[i], ok)
			}
		}
		checkSums(t, "churn", c.Sums(), c.Range)
	}
	for round := range 4 {
		for range n {
			i := r.IntN(n)
			if held[i] {
				c.Delete(pool[i].Key())
				count--
			} else {
				c.Upsert(&pool[i])
				count++
			}
			held[i] = !held[i]
		}
		check(round)
	}
	for i := range pool {
		if held[i] {
			c.Delete(pool[i].Key())
		}
	}
	count, held = 0, make([]bool, n)
	check(99)
	for b := range c.t.buckets {
		if bk := c.t.buckets[b]; bk.n != 0 || len(bk.c) > 1 || len(bk.c) == 1 && len(bk.c[0]) != 0 {
			t.Fatalf("bucket %d keeps %d chunks when empty", b, len(bk.c))
		}
	}
}

// A bucket going back and forth over a chunk boundary keeps a spare chunk
// instead of allocating each time (0 allocs in steady state).
func TestChunksBoundaryNoAllocs(t *testing.T) {
	var c chunks[ekey, erec]
	for range chunkSize {
		c.push(slot[ekey, erec]{})
	}
	if n := testing.AllocsPerRun(100, func() { c.push(slot[ekey, erec]{gen: 1}); c.pop() }); n != 0 {
		t.Errorf("%v allocs per push/pop at the boundary", n)
	}
	if c.n != chunkSize || c.at(chunkSize-1).gen != 0 {
		t.Errorf("n %d after push/pop", c.n)
	}
}
