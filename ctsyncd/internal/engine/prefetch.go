package engine

import (
	"iter"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// prefetchChunk is how many entries the reader copies ahead at a time.
const prefetchChunk = 1024

// prefetched reads the entries of rangeFn on another goroutine, copied a
// chunk at a time, so that walking the cache (decoding its compact
// records) overlaps the kernel's inserts of the previous chunk: a commit
// is the kernel's time plus ours otherwise. The caller's loop is blocked
// in the commit, so nothing changes the cache meanwhile. Stopping early
// stops the reader before prefetched returns.
func prefetched(rangeFn func(func(*ct.Entry) bool)) iter.Seq[*ct.Entry] {
	return func(yield func(*ct.Entry) bool) {
		full := make(chan []ct.Entry, 2)
		free := make(chan []ct.Entry, 3)
		for range cap(free) {
			free <- make([]ct.Entry, 0, prefetchChunk)
		}
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			defer close(full)
			buf := <-free
			send := func() bool {
				select {
				case full <- buf:
				case <-stop:
					return false
				}
				select {
				case buf = <-free:
				case <-stop:
					return false
				}
				buf = buf[:0]
				return true
			}
			rangeFn(func(e *ct.Entry) bool {
				buf = append(buf, *e)
				return len(buf) < prefetchChunk || send()
			})
			if len(buf) > 0 {
				select {
				case full <- buf:
				case <-stop:
				}
			}
		}()
		defer func() {
			close(stop)
			<-done
		}()
		for chunk := range full {
			for i := range chunk {
				if !yield(&chunk[i]) {
					return
				}
			}
			free <- chunk[:0]
		}
	}
}
