package cache

import (
	"math"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// External is the peer's conntrack entries as replicated to this node
// (CS-B06): never written to the kernel until takeover. Not safe for
// concurrent use.
type External struct {
	remote[ct.Entry, ct.Key, ekey, erec, entryKind]
}

// ExternalExpect is the same for expectations.
type ExternalExpect struct {
	remote[ct.Expect, ct.ExpectKey, xkey, xrec, expectKind]
}

// NewExternal returns an empty cache; the peer counts as alive until
// SetPeerAlive says otherwise.
func NewExternal() *External {
	return &External{remote[ct.Entry, ct.Key, ekey, erec, entryKind]{
		t: newTable[ct.Entry, ct.Key, ekey, erec, entryKind](), alive: true}}
}

// NewExternalExpect returns an empty expectation cache.
func NewExternalExpect() *ExternalExpect {
	return &ExternalExpect{remote[ct.Expect, ct.ExpectKey, xkey, xrec, expectKind]{
		t: newTable[ct.Expect, ct.ExpectKey, xkey, xrec, expectKind](), alive: true}}
}

// remote implements External and ExternalExpect.
type remote[V, K any, CK, R comparable, O kind[V, K, CK, R]] struct {
	t        table[V, K, CK, R, O]
	counters Counters

	// gen numbers sweeps: BeginSweep increments it, every upsert stamps
	// the value with it, EndSweep removes the values of its buckets
	// stamped before it began.
	gen    uint32
	sweeps []sweep

	// Cache time is in whole seconds since base (the first time given).
	// Upserts carry no time: they are stamped with the latest time given
	// to SetPeerAlive or Expire, which the engine calls every second or so.
	base        time.Time
	hasBase     bool
	now         uint32
	alive       bool
	silentSince uint32
	// next is no later than the earliest deadline while the peer is
	// silent, so that Expire scans the table only when one has come.
	next uint64
}

// sweep is a sweep in progress: its buckets are owned by it alone.
type sweep struct {
	id, gen uint32
	buckets uint64
}

// Upsert stores a value received from the peer.
func (r *remote[V, K, CK, R, O]) Upsert(v *V) {
	switch r.t.put(*v, r.gen, r.now) {
	case putCreated:
		r.counters.Created++
	case putChanged, putSame:
		r.counters.Updated++
	default:
		r.counters.CreatedFailed++
		return
	}
	if !r.alive {
		r.next = min(r.next, uint64(r.now)+uint64(r.t.kind.timeoutOf(*v)))
	}
}

// Delete removes the value of k; a k not held counts as "destroyed failed".
func (r *remote[V, K, CK, R, O]) Delete(k K) {
	if _, ok := r.t.del(k); ok {
		r.counters.Destroyed++
	} else {
		r.counters.DestroyedFailed++
	}
}

// BeginSweep starts sweep id over the buckets in set: the peer is about
// to resend everything it holds in them. A sweep in progress with the same
// id restarts; one with another id gives up the buckets the new one takes
// and keeps the others, so sweeps of different buckets can overlap.
func (r *remote[V, K, CK, R, O]) BeginSweep(id uint32, set uint64) {
	r.gen++
	kept := r.sweeps[:0]
	for _, s := range r.sweeps {
		s.buckets &^= set
		if s.id != id && s.buckets != 0 {
			kept = append(kept, s)
		}
	}
	r.sweeps = kept
	if set &= allBuckets; set != 0 {
		r.sweeps = append(r.sweeps, sweep{id: id, gen: r.gen, buckets: set})
	}
}

// EndSweep ends sweep id: the values of its buckets not upserted since
// it began are gone from the peer; it removes them (counted as destroyed)
// and returns how many. An unknown id (superseded, or never begun) removes
// nothing.
func (r *remote[V, K, CK, R, O]) EndSweep(id uint32) (removed int) {
	for i, s := range r.sweeps {
		if s.id != id {
			continue
		}
		r.sweeps = append(r.sweeps[:i], r.sweeps[i+1:]...)
		removed = r.t.removeIf(s.buckets, func(sl *slot[CK, R]) bool { return sl.gen < s.gen }, nil)
		r.counters.Destroyed += uint64(removed)
		return removed
	}
	return 0
}

// tick advances the cache time to now.
func (r *remote[V, K, CK, R, O]) tick(now time.Time) {
	if now.IsZero() { // no time given: a zero base would pin the clock at its maximum
		return
	}
	if !r.hasBase {
		r.base, r.hasBase = now, true
	}
	d := now.Sub(r.base) / time.Second
	switch {
	case d < 0:
		d = 0
	case d > math.MaxUint32:
		d = math.MaxUint32
	}
	r.now = max(r.now, uint32(d))
}

// SetPeerAlive records whether the peer is heard from. While it is, its
// values do not age: the kernel refreshes a live connection's timeout
// without an event, so the timeout received is stale, and the peer's
// digests vouch for what it holds. Once it is silent, each value expires
// its Timeout after the later of the silence's start and its last upsert.
func (r *remote[V, K, CK, R, O]) SetPeerAlive(now time.Time, alive bool) {
	r.tick(now)
	if r.alive && !alive {
		r.silentSince = r.now
		r.next = 0
	}
	r.alive = alive
}

// Expire removes the values whose deadline has come (see SetPeerAlive),
// counted as destroyed and expired, and returns how many. It walks the
// whole table only when the earliest deadline has come, so calling it
// every second costs nothing while the peer is alive and one walk per
// second with deadlines at most while it is silent.
func (r *remote[V, K, CK, R, O]) Expire(now time.Time) int {
	r.tick(now)
	if r.alive || uint64(r.now) < r.next {
		return 0
	}
	next := uint64(math.MaxUint64)
	n := r.t.removeIf(allBuckets, func(s *slot[CK, R]) bool {
		dl := uint64(max(r.silentSince, s.seen)) + uint64(r.t.kind.timeout(s.rec))
		if dl <= uint64(r.now) {
			return true
		}
		next = min(next, dl)
		return false
	}, nil)
	r.next = next
	r.counters.Destroyed += uint64(n)
	r.counters.Expired += uint64(n)
	return n
}

// CountCommit records the outcome of a commit into the kernel: ok values
// written, failed ones refused (counted as "created failed", as
// conntrackd does).
func (r *remote[V, K, CK, R, O]) CountCommit(ok, failed int) {
	r.counters.Committed += uint64(ok)
	r.counters.CreatedFailed += uint64(failed)
}

// Len is the number of values held.
func (r *remote[V, K, CK, R, O]) Len() int { return r.t.n }

// Get returns the value of k.
func (r *remote[V, K, CK, R, O]) Get(k K) (V, bool) { return r.t.get(k) }

// Range calls fn for every value until it returns false. The *V is valid
// only during the call; fn must not modify the cache.
func (r *remote[V, K, CK, R, O]) Range(fn func(*V) bool) { r.t.rangeBuckets(allBuckets, fn) }

// RangeBuckets is Range restricted to the buckets in set (bit i = bucket
// i); it costs the entries of those buckets only.
func (r *remote[V, K, CK, R, O]) RangeBuckets(set uint64, fn func(*V) bool) {
	r.t.rangeBuckets(set, fn)
}

// Sums returns the bucket sums of the cache.
func (r *remote[V, K, CK, R, O]) Sums() ct.Sums { return r.t.sums }

// Flush empties the cache (reset conntrack-sync external-cache) and
// abandons the sweeps in progress; the counters other than Current stay.
func (r *remote[V, K, CK, R, O]) Flush() {
	r.t.flush()
	r.sweeps = nil
}

// Counters returns the statistics.
func (r *remote[V, K, CK, R, O]) Counters() Counters {
	c := r.counters
	c.Current = r.t.n
	return c
}
