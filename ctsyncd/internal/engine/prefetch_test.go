package engine

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// source ranges n entries numbered by their mark, counting the ones it
// handed out; returned is set when it has returned.
func source(n int, handed *atomic.Int64, returned *atomic.Bool) func(func(*ct.Entry) bool) {
	return func(yield func(*ct.Entry) bool) {
		defer returned.Store(true)
		for i := range n {
			e := ct.Entry{Mark: uint32(i)}
			handed.Add(1)
			if !yield(&e) {
				return
			}
		}
	}
}

// TestPrefetchedInOrder: every entry arrives once, in the source's order,
// whatever the count against the chunk size.
func TestPrefetchedInOrder(t *testing.T) {
	for _, n := range []int{0, 1, prefetchChunk - 1, prefetchChunk, prefetchChunk + 1, 3*prefetchChunk + 5} {
		var handed atomic.Int64
		var returned atomic.Bool
		next := 0
		for e := range prefetched(source(n, &handed, &returned)) {
			if int(e.Mark) != next {
				t.Fatalf("n=%d: entry %d arrived as number %d", n, e.Mark, next)
			}
			next++
		}
		if next != n {
			t.Errorf("n=%d: %d entries arrived", n, next)
		}
	}
}

// TestPrefetchedStopsTheReader: a consumer that stops early (a commit
// whose context ended) stops the reader before prefetched returns: the
// cache is the loop's again, nothing reads it behind its back.
func TestPrefetchedStopsTheReader(t *testing.T) {
	for _, stopAt := range []int{0, 5, prefetchChunk, 2*prefetchChunk + 3} {
		var handed atomic.Int64
		var returned atomic.Bool
		got := 0
		for range prefetched(source(10*prefetchChunk, &handed, &returned)) {
			if got == stopAt {
				break
			}
			got++
		}
		if !returned.Load() {
			t.Errorf("stop at %d: the cache's range had not returned when prefetched did", stopAt)
		}
		after := handed.Load()
		time.Sleep(20 * time.Millisecond)
		if handed.Load() != after {
			t.Errorf("stop at %d: the reader went on after prefetched returned (%d, then %d)", stopAt, after, handed.Load())
		}
		// At most the chunks in flight were read ahead.
		if ahead := int(after) - stopAt; ahead > 4*prefetchChunk {
			t.Errorf("stop at %d: read %d ahead", stopAt, ahead)
		}
	}
}
