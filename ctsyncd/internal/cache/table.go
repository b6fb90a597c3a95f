package cache

import (
	"math/bits"
	"math/rand/v2"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// kind is what a table needs to know about the values it holds: how to
// split a value V (ct.Entry, ct.Expect) with public key K into a compact
// key CK and record R and back, and the stable bucket and digest the nodes
// compare. Arguments are passed by value on purpose: a call through a type
// parameter is opaque to escape analysis, and a pointer would make the
// caller's entry escape to the heap on every event.
//
// A compact key or record may hold values kept in n (names: helper names,
// wide values): split takes a hold on them, which the table gives back
// with releaseKey and releaseRec when it lets the key or record go.
type kind[V, K any, CK, R comparable] interface {
	split(v V, n *names) (CK, R, bool) // false: cannot be stored (helper-name table full, fields the format refuses)
	join(k *CK, r *R, n *names) V
	releaseKey(k CK, n *names)
	releaseRec(r R, n *names)
	packKey(k K, n *names) (CK, bool) // takes no hold; false: no stored key can equal k
	key(k *CK, n *names) K
	keyOf(v V) K
	hash(k CK, seed uint64) uint64
	bucket(v V) int
	digest(v V) uint64
	timeout(r R) uint32
	timeoutOf(v V) uint32
	sameButTimeout(a, b R) bool
	filterTuples(v V) (orig, reply ct.Tuple, hasReply bool)
}

// slot is one stored value with what the caches keep beside it.
type slot[CK, R any] struct {
	digest uint64 // V's digest, so that a change or removal updates the sums without recomputing it
	key    CK
	rec    R
	seen   uint32 // External: cache time (seconds) of the last upsert
	gen    uint32 // generation of the last upsert: resync (Internal) or sweep (External)
}

// table stores values by bucket, so that walking one bucket costs only
// its entries (the sender walks bucket by bucket during a resync or a
// repair), with an open-addressing index from key to place and the bucket
// sums kept up to date.
//
// A bucket is a list of chunks of chunkSize slots, all full but the last:
// growing never copies a big array (a slice of 1.6k slots grown by append
// copies it again and again and keeps up to a third unused), the slack is
// at most one partly filled chunk per bucket, and a shrinking table frees
// its chunks.
//
// The index is linear probing over refs (bucket<<26 | position, plus one
// so that 0 is an empty slot) with a copy of the hash's low 32 bits, so
// that it costs 8 octets a slot, at most 13/16 full, and deletion shifts
// entries back instead of leaving tombstones. A removal inside a bucket
// moves the bucket's last slot into the hole, so iteration that removes
// walks each bucket backwards.
type table[V, K any, CK, R comparable, O kind[V, K, CK, R]] struct {
	kind    O
	seed    uint64
	buckets [ct.Buckets]chunks[CK, R]
	index   []islot
	n       int
	sums    ct.Sums
	names   names
	scratch V // Range's value, so that a walk allocates nothing
}

type islot struct{ h, ref uint32 }

// chunks are the n slots of one bucket; position p is in chunk
// p/chunkSize. All chunks before the last in use are full; one empty
// chunk may follow, so that a bucket going back and forth over a chunk
// boundary does not allocate each time.
type chunks[CK, R any] struct {
	c [][]slot[CK, R]
	n int
}

// chunkSize fills a 16 KiB size class with the 72-octet slots of
// ct.Entry (227*72 = 16344, TestSlotSize); division by a constant is a
// multiplication.
const chunkSize = 227

func (c *chunks[CK, R]) at(p int) *slot[CK, R] { return &c.c[p/chunkSize][p%chunkSize] }

// push appends s and returns its position; the last chunk grows like a
// slice up to chunkSize, so that a small table (expectations) stays small.
func (c *chunks[CK, R]) push(s slot[CK, R]) int {
	ci := c.n / chunkSize
	if ci == len(c.c) {
		c.c = append(c.c, make([]slot[CK, R], 0, 4))
	}
	last := &c.c[ci]
	if len(*last) == cap(*last) {
		// Not append: it would round the capacity up past chunkSize.
		nl := make([]slot[CK, R], len(*last), min(2*cap(*last), chunkSize))
		copy(nl, *last)
		*last = nl
	}
	*last = append(*last, s)
	c.n++
	return c.n - 1
}

// pop removes the last slot, and frees an empty chunk beyond it.
func (c *chunks[CK, R]) pop() {
	c.n--
	ci := c.n / chunkSize
	c.c[ci] = c.c[ci][:len(c.c[ci])-1]
	if len(c.c) > ci+1 {
		c.c[ci+1] = nil
		c.c = c.c[:ci+1]
	}
}

// Bucket sets are uint64 and a ref keeps the bucket in 6 bits: this does
// not compile if ct.Buckets stops being 64.
var _ = [1]struct{}{}[ct.Buckets-64]

const (
	posBits = 26
	posMask = 1<<posBits - 1
)

func newTable[V, K any, CK, R comparable, O kind[V, K, CK, R]]() table[V, K, CK, R, O] {
	return table[V, K, CK, R, O]{seed: rand.Uint64()}
}

func (t *table[V, K, CK, R, O]) at(ref uint32) *slot[CK, R] {
	ref--
	return t.buckets[ref>>posBits].at(int(ref & posMask))
}

// find returns the index slot of ck (ref != 0) or of the empty slot where
// it would go (ref == 0). The index must not be empty.
func (t *table[V, K, CK, R, O]) find(ck CK, h uint64) (i int, ref uint32) {
	mask := len(t.index) - 1
	i = int(uint32(h)) & mask
	for range len(t.index) {
		s := t.index[i]
		if s.ref == 0 || s.h == uint32(h) && t.at(s.ref).key == ck {
			return i, s.ref
		}
		i = (i + 1) & mask
	}
	panic("cache: index full") // cannot happen: grow keeps it at most 13/16 full
}

// The index is at most maxLoadNum/maxLoadDen full. Linear probing over
// 8-octet slots that carry a 32-bit hash stays cheap that full (a miss
// reads ~15 slots, two or three cache lines, at the bound), and 13/16 rather than
// 3/4 keeps the index of a 100k table at 1 MiB instead of 2
// (BenchmarkInternalNewDestroy measures the misses).
const (
	maxLoadNum = 13
	maxLoadDen = 16
)

// grow makes room for one more entry.
func (t *table[V, K, CK, R, O]) grow() {
	if (t.n+1)*maxLoadDen <= len(t.index)*maxLoadNum {
		return
	}
	old := t.index
	t.index = make([]islot, max(64, 2*len(old)))
	mask := len(t.index) - 1
	for _, s := range old {
		if s.ref == 0 {
			continue
		}
		i := int(s.h) & mask
		for t.index[i].ref != 0 {
			i = (i + 1) & mask
		}
		t.index[i] = s
	}
}

// lookup returns the index slot and ref of k, ref 0 if absent.
func (t *table[V, K, CK, R, O]) lookup(k K) (int, uint32) {
	if t.n == 0 {
		return -1, 0
	}
	ck, ok := t.kind.packKey(k, &t.names)
	if !ok {
		return -1, 0
	}
	return t.find(ck, t.kind.hash(ck, t.seed))
}

type putResult uint8

const (
	putFailed  putResult = iota // not stored: helper-name table or bucket full
	putCreated                  // new key
	putChanged                  // existing key, something the peer needs changed
	putSame                     // existing key, at most the timeout changed
)

// put stores v, stamping it with gen and seen.
func (t *table[V, K, CK, R, O]) put(v V, gen, seen uint32) putResult {
	ck, r, ok := t.kind.split(v, &t.names)
	if !ok {
		return putFailed
	}
	h := t.kind.hash(ck, t.seed)
	t.grow()
	i, ref := t.find(ck, h)
	if ref != 0 {
		// The stored key is ck's equal: one hold on its values is enough.
		t.kind.releaseKey(ck, &t.names)
		s := t.at(ref)
		s.gen, s.seen = gen, seen
		old := s.rec
		s.rec = r
		t.kind.releaseRec(old, &t.names)
		if t.kind.sameButTimeout(old, r) {
			return putSame
		}
		b := int((ref - 1) >> posBits)
		d := t.kind.digest(v)
		t.sums.Remove(b, s.digest)
		t.sums.Add(b, d)
		s.digest = d
		return putChanged
	}
	b := t.kind.bucket(v)
	if t.buckets[b].n >= posMask {
		t.kind.releaseKey(ck, &t.names)
		t.kind.releaseRec(r, &t.names)
		return putFailed
	}
	d := t.kind.digest(v)
	pos := t.buckets[b].push(slot[CK, R]{digest: d, key: ck, rec: r, seen: seen, gen: gen})
	t.index[i] = islot{h: uint32(h), ref: uint32(b)<<posBits | uint32(pos) + 1}
	t.n++
	t.sums.Add(b, d)
	return putCreated
}

// remove deletes the value at index slot i with ref.
func (t *table[V, K, CK, R, O]) remove(i int, ref uint32) {
	// Shift the following entries of the probe run back into the hole
	// unless their home is cyclically in (hole, j].
	mask := len(t.index) - 1
	for j := (i + 1) & mask; t.index[j].ref != 0; j = (j + 1) & mask {
		home := int(t.index[j].h) & mask
		if (i < j && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			t.index[i] = t.index[j]
			i = j
		}
	}
	t.index[i] = islot{}

	b, pos := int((ref-1)>>posBits), int((ref-1)&posMask)
	bk := &t.buckets[b]
	s := bk.at(pos)
	t.sums.Remove(b, s.digest)
	t.kind.releaseKey(s.key, &t.names)
	t.kind.releaseRec(s.rec, &t.names)
	last := bk.n - 1
	if pos != last {
		*s = *bk.at(last)
		moved := uint32(b)<<posBits | uint32(last) + 1
		j := int(uint32(t.kind.hash(s.key, t.seed))) & mask
		for t.index[j].ref != moved {
			j = (j + 1) & mask
		}
		t.index[j].ref = ref
	}
	bk.pop()
	t.n--
}

func (t *table[V, K, CK, R, O]) value(s *slot[CK, R]) V { return t.kind.join(&s.key, &s.rec, &t.names) }

func (t *table[V, K, CK, R, O]) get(k K) (V, bool) {
	if _, ref := t.lookup(k); ref != 0 {
		return t.value(t.at(ref)), true
	}
	var zero V
	return zero, false
}

// del removes k and returns its value.
func (t *table[V, K, CK, R, O]) del(k K) (V, bool) {
	i, ref := t.lookup(k)
	if ref == 0 {
		var zero V
		return zero, false
	}
	v := t.value(t.at(ref))
	t.remove(i, ref)
	return v, true
}

// rangeBuckets calls fn for the values of the buckets in set (bit i =
// bucket i) until fn returns false. The *V is valid only during the call
// and fn must not modify the table.
func (t *table[V, K, CK, R, O]) rangeBuckets(set uint64, fn func(*V) bool) {
	for set != 0 {
		b := bits.TrailingZeros64(set)
		set &^= 1 << b
		for _, c := range t.buckets[b].c {
			for p := range c {
				t.scratch = t.value(&c[p])
				if !fn(&t.scratch) {
					return
				}
			}
		}
	}
}

// removeIf removes the values of the buckets in set for whose slot drop
// returns true, calling gone (if not nil) with each value removed, and
// returns how many it removed.
func (t *table[V, K, CK, R, O]) removeIf(set uint64, drop func(*slot[CK, R]) bool, gone func(V)) int {
	n := 0
	for set != 0 {
		b := bits.TrailingZeros64(set)
		set &^= 1 << b
		// Backwards: a removal moves the bucket's last slot, already
		// visited, into the hole.
		for p := t.buckets[b].n - 1; p >= 0; p-- {
			s := t.buckets[b].at(p)
			if !drop(s) {
				continue
			}
			if gone != nil {
				gone(t.value(s))
			}
			i, ref := t.find(s.key, t.kind.hash(s.key, t.seed))
			t.remove(i, ref)
			n++
		}
	}
	return n
}

// flush forgets everything, memory included.
func (t *table[V, K, CK, R, O]) flush() {
	*t = table[V, K, CK, R, O]{seed: t.seed}
}

// allBuckets is the set of every bucket.
const allBuckets = ^uint64(0) >> (64 - ct.Buckets)
