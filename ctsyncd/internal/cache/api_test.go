package cache

import (
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// The interfaces the other packages were promised (issue 5's fixed
// contract; ctsyncd/internal/sync defines its own copies): a compile-time
// check that the cache types keep satisfying them.
type (
	localCache[V, K any] interface {
		Apply(kind EventKind, v *V) (Change[V], bool)
		BeginResync()
		ResyncAdd(v *V) (Change[V], bool)
		EndResync() []Change[V]
		Len() int
		Get(k K) (V, bool)
		Range(fn func(*V) bool)
		RangeBuckets(buckets uint64, fn func(*V) bool)
		Sums() ct.Sums
		SetFilter(Filter) []K
		Flush()
		Counters() Counters
	}
	remoteCache[V, K any] interface {
		Upsert(v *V)
		Delete(k K)
		BeginSweep(id uint32, buckets uint64)
		EndSweep(id uint32) (removed int)
		Sums() ct.Sums
		Len() int
		Get(k K) (V, bool)
		Range(fn func(*V) bool)
		RangeBuckets(buckets uint64, fn func(*V) bool)
		Flush()
		Counters() Counters
		CountCommit(ok, failed int)
		SetPeerAlive(now time.Time, alive bool)
		Expire(now time.Time) int
	}
)

var (
	_ localCache[ct.Entry, ct.Key]         = (*Internal)(nil)
	_ localCache[ct.Expect, ct.ExpectKey]  = (*InternalExpect)(nil)
	_ remoteCache[ct.Entry, ct.Key]        = (*External)(nil)
	_ remoteCache[ct.Expect, ct.ExpectKey] = (*ExternalExpect)(nil)
)
