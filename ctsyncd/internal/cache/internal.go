package cache

import "github.com/hasuite/hasuite/ctsyncd/internal/ct"

// EventKind is the kind of a kernel conntrack event.
type EventKind uint8

const (
	New     EventKind = iota + 1 // IPCTNL_MSG_CT_NEW with NLM_F_CREATE
	Update                       // IPCTNL_MSG_CT_NEW without: a change of a known connection
	Destroy                      // IPCTNL_MSG_CT_DELETE
)

// Op is what a Change asks the peer to do.
type Op uint8

const (
	OpUpsert Op = iota + 1 // create or replace the value on the peer
	OpDelete               // remove the value with this key from the peer
)

// Change is one change of an internal cache to replicate to the peer.
type Change[V any] struct {
	Op    Op
	Value V // the whole value; a delete needs only its key
}

// EntryChange and ExpectChange are the changes of the two tables.
type (
	EntryChange  = Change[ct.Entry]
	ExpectChange = Change[ct.Expect]
)

// Counters are a cache's statistics (CS-O03, Example 4-16). See doc.go for
// what each one counts.
type Counters struct {
	Current                    int
	Created, CreatedFailed     uint64
	Updated, UpdatedFailed     uint64
	Destroyed, DestroyedFailed uint64
	Expired                    uint64 // External: removed by Expire (also counted in Destroyed)
	Committed                  uint64 // External: written into the kernel (CountCommit)
}

// Internal is this node's conntrack entries (CS-B05): fed by kernel events
// and dumps, filtered (CS-B04), and the source of what is replicated.
// Not safe for concurrent use.
type Internal struct {
	local[ct.Entry, ct.Key, ekey, erec, entryKind]
}

// InternalExpect is the same for expectations (CS-B02); they are
// filtered by their master connection.
type InternalExpect struct {
	local[ct.Expect, ct.ExpectKey, xkey, xrec, expectKind]
}

// NewInternal returns an empty cache with filter f.
func NewInternal(f Filter) *Internal {
	return &Internal{local[ct.Entry, ct.Key, ekey, erec, entryKind]{
		t: newTable[ct.Entry, ct.Key, ekey, erec, entryKind](), filter: compile(f)}}
}

// NewInternalExpect returns an empty expectation cache with filter f.
func NewInternalExpect(f Filter) *InternalExpect {
	return &InternalExpect{local[ct.Expect, ct.ExpectKey, xkey, xrec, expectKind]{
		t: newTable[ct.Expect, ct.ExpectKey, xkey, xrec, expectKind](), filter: compile(f)}}
}

// local implements Internal and InternalExpect.
type local[V, K any, CK, R comparable, O kind[V, K, CK, R]] struct {
	t        table[V, K, CK, R, O]
	filter   *matcher
	counters Counters
	// gen numbers resyncs: every stored value carries the gen of its last
	// event or dump line, and EndResync removes the older ones.
	gen       uint32
	resyncing bool
}

// Apply applies a kernel event to the cache and returns the change to
// replicate, or false when there is none: the value is filtered out, the
// event changed nothing the peer needs (only the timeout, which conntrack
// refreshes with every packet), or it failed. An Update of an unknown value
// creates it (the event that created it may have been lost) and counts as
// "updated failed", like conntrackd; a Destroy of an unknown value counts
// as "destroyed failed".
func (l *local[V, K, CK, R, O]) Apply(kind EventKind, v *V) (Change[V], bool) {
	if !l.filter.accepts(l.t.kind.filterTuples(*v)) {
		return Change[V]{}, false
	}
	c := &l.counters
	if kind == Destroy {
		old, ok := l.t.del(l.t.kind.keyOf(*v))
		if !ok {
			c.DestroyedFailed++
			return Change[V]{}, false
		}
		c.Destroyed++
		return Change[V]{Op: OpDelete, Value: old}, true
	}
	switch l.t.put(*v, l.gen, 0) {
	case putCreated:
		c.Created++
		if kind == Update {
			c.UpdatedFailed++
		}
	case putChanged:
		c.Updated++
	case putSame:
		c.Updated++
		return Change[V]{}, false
	default:
		c.CreatedFailed++
		return Change[V]{}, false
	}
	return Change[V]{Op: OpUpsert, Value: *v}, true
}

// BeginResync starts rebuilding the cache from a kernel dump (at start,
// after an event overrun, CS-B08). Events may still be applied while the
// dump runs: they count as seen.
func (l *local[V, K, CK, R, O]) BeginResync() {
	l.gen++
	l.resyncing = true
}

// ResyncAdd adds one value of the dump, returning the change to replicate
// if it is new or differs from the cached one.
func (l *local[V, K, CK, R, O]) ResyncAdd(v *V) (Change[V], bool) {
	if !l.filter.accepts(l.t.kind.filterTuples(*v)) {
		return Change[V]{}, false
	}
	switch l.t.put(*v, l.gen, 0) {
	case putCreated:
		l.counters.Created++
	case putChanged:
		l.counters.Updated++
	case putSame:
		return Change[V]{}, false
	default:
		l.counters.CreatedFailed++
		return Change[V]{}, false
	}
	return Change[V]{Op: OpUpsert, Value: *v}, true
}

// Refresh applies a value read again from the kernel outside a dump (one
// whose changes the kernel announces by no event): like ResyncAdd, it
// counts and returns a change only if the value differs from the cached
// one, the timeout aside.
func (l *local[V, K, CK, R, O]) Refresh(v *V) (Change[V], bool) { return l.ResyncAdd(v) }

// EndResync ends the resync: the values neither dumped nor touched by an
// event since BeginResync are gone from the kernel; it removes them
// (counted as destroyed) and returns their deletes.
func (l *local[V, K, CK, R, O]) EndResync() []Change[V] {
	if !l.resyncing {
		return nil
	}
	l.resyncing = false
	var out []Change[V]
	gen := l.gen
	l.counters.Destroyed += uint64(l.t.removeIf(allBuckets,
		func(s *slot[CK, R]) bool { return s.gen != gen },
		func(v V) { out = append(out, Change[V]{Op: OpDelete, Value: v}) }))
	return out
}

// AbortResync ends a resync whose dump failed: nothing is removed, since
// what the dump did not reach may well still be in the kernel.
func (l *local[V, K, CK, R, O]) AbortResync() { l.resyncing = false }

// SetFilter replaces the filter and removes the values the new one
// rejects, returning their keys (the engine replicates their deletes).
// They are not counted as destroyed: the kernel still has them.
func (l *local[V, K, CK, R, O]) SetFilter(f Filter) []K {
	l.filter = compile(f)
	var out []K
	l.t.removeIf(allBuckets,
		func(s *slot[CK, R]) bool { return !l.filter.accepts(l.t.kind.filterTuples(l.t.value(s))) },
		func(v V) { out = append(out, l.t.kind.keyOf(v)) })
	return out
}

// Len is the number of values held.
func (l *local[V, K, CK, R, O]) Len() int { return l.t.n }

// Get returns the value of k.
func (l *local[V, K, CK, R, O]) Get(k K) (V, bool) { return l.t.get(k) }

// Range calls fn for every value until it returns false. The *V is valid
// only during the call; fn must not modify the cache.
func (l *local[V, K, CK, R, O]) Range(fn func(*V) bool) { l.t.rangeBuckets(allBuckets, fn) }

// RangeBuckets is Range restricted to the buckets in set (bit i = bucket
// i); it costs the entries of those buckets only.
func (l *local[V, K, CK, R, O]) RangeBuckets(set uint64, fn func(*V) bool) { l.t.rangeBuckets(set, fn) }

// Sums returns the bucket sums of the cache.
func (l *local[V, K, CK, R, O]) Sums() ct.Sums { return l.t.sums }

// Flush empties the cache (reset conntrack-sync internal-cache); the
// counters other than Current stay.
func (l *local[V, K, CK, R, O]) Flush() {
	l.t.flush()
	l.resyncing = false
}

// Counters returns the statistics.
func (l *local[V, K, CK, R, O]) Counters() Counters {
	c := l.counters
	c.Current = l.t.n
	return c
}
