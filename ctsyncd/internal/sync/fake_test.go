package sync

import (
	"fmt"
	"net/netip"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
)

// table is a small in-memory cache standing in for both cache.Internal and
// cache.External (the cache package is built in parallel): entries by key,
// bucket sums kept as the real one keeps them, and sweeps.
type table[K comparable, V any] struct {
	m      map[K]V
	sums   ct.Sums
	key    func(*V) K
	digest func(*V) uint64
	bucket func(K) int
	marks  map[K]uint32 // unseen since BeginSweep(id)
	by     [ct.Buckets]map[K]struct{}
}

func newTable[K comparable, V any](key func(*V) K, digest func(*V) uint64, bucket func(K) int) *table[K, V] {
	t := &table[K, V]{m: map[K]V{}, key: key, digest: digest, bucket: bucket, marks: map[K]uint32{}}
	for i := range t.by {
		t.by[i] = map[K]struct{}{}
	}
	return t
}

func newEntries() *table[ct.Key, ct.Entry] {
	return newTable((*ct.Entry).Key, (*ct.Entry).Digest, func(k ct.Key) int { return k.Bucket(ct.Buckets) })
}

func newExpects() *table[ct.ExpectKey, ct.Expect] {
	return newTable((*ct.Expect).Key, (*ct.Expect).Digest, func(k ct.ExpectKey) int { return k.Bucket(ct.Buckets) })
}

func (t *table[K, V]) Upsert(v *V) {
	k := t.key(v)
	b := t.bucket(k)
	if old, ok := t.m[k]; ok {
		t.sums.Remove(b, t.digest(&old))
	}
	t.m[k] = *v
	t.by[b][k] = struct{}{}
	t.sums.Add(b, t.digest(v))
	delete(t.marks, k)
}

func (t *table[K, V]) Delete(k K) {
	if old, ok := t.m[k]; ok {
		b := t.bucket(k)
		t.sums.Remove(b, t.digest(&old))
		delete(t.m, k)
		delete(t.by[b], k)
		delete(t.marks, k)
	}
}

func (t *table[K, V]) BeginSweep(id uint32, buckets uint64) {
	for b := range t.by {
		if buckets&(1<<b) != 0 {
			for k := range t.by[b] {
				t.marks[k] = id
			}
		}
	}
}

func (t *table[K, V]) EndSweep(id uint32) int {
	n := 0
	for k, mid := range t.marks {
		if mid == id {
			t.Delete(k)
			n++
		}
	}
	return n
}

func (t *table[K, V]) Sums() ct.Sums { return t.sums }
func (t *table[K, V]) Len() int      { return len(t.m) }

func (t *table[K, V]) RangeBuckets(buckets uint64, fn func(*V) bool) {
	for b := range t.by {
		if buckets&(1<<b) == 0 {
			continue
		}
		for k := range t.by[b] {
			v := t.m[k]
			if !fn(&v) {
				return
			}
		}
	}
}

// equal reports whether t and o hold the same values, and the first
// difference if not.
func (t *table[K, V]) diff(o *table[K, V]) string {
	if len(t.m) != len(o.m) {
		return fmt.Sprintf("%d entries, want %d", len(o.m), len(t.m))
	}
	for k, v := range t.m {
		w, ok := o.m[k]
		if !ok {
			return fmt.Sprintf("missing %v", k)
		}
		if t.digest(&v) != o.digest(&w) {
			return fmt.Sprintf("differs: %v", k)
		}
	}
	return ""
}

// entry i of a synthetic table: a TCP connection 10.x.y.z:port -> server.
func entry(i int, state uint8) ct.Entry {
	src := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	dst := netip.MustParseAddr("172.16.0.33")
	port := uint16(1024 + i%60000)
	return ct.Entry{
		Orig:    ct.Tuple{Src: src, Dst: dst, Proto: ct.ProtoTCP, SrcPort: port, DstPort: 80},
		Reply:   ct.Tuple{Src: dst, Dst: src, Proto: ct.ProtoTCP, SrcPort: 80, DstPort: port},
		Status:  ct.StatusConfirmed | ct.StatusAssured,
		Timeout: 300,
		TCP:     ct.TCPInfo{State: state},
	}
}

func expectation(i int) ct.Expect {
	e := entry(i, ct.TCPEstablished)
	return ct.Expect{Master: e.Orig, Tuple: ct.Tuple{Src: e.Orig.Dst, Dst: e.Orig.Src, Proto: ct.ProtoTCP,
		DstPort: uint16(20000 + i)}, Timeout: 300, Helper: "ftp"}
}

// node is one side of a test: its internal cache (local), its external
// cache (remote) and its session.
type node struct {
	local, remote   *table[ct.Key, ct.Entry]
	localX, remoteX *table[ct.ExpectKey, ct.Expect]
	s               *Session
}

func newNode(cfg Config) *node {
	n := &node{local: newEntries(), remote: newEntries(), localX: newExpects(), remoteX: newExpects()}
	n.s = New(cfg, n.local, n.localX, n.remote, n.remoteX)
	return n
}

// restart replaces n's session by a new run with boot, keeping (internal)
// or losing (external, as the process's memory) its caches.
func (n *node) restart(cfg Config) {
	n.remote, n.remoteX = newEntries(), newExpects()
	n.s = New(cfg, n.local, n.localX, n.remote, n.remoteX)
}

// change applies a change to n's internal cache and submits it, as the
// engine does with what cache.Internal.Apply returns.
func (n *node) upsert(now timeT, e ct.Entry) {
	n.local.Upsert(&e)
	n.s.Submit(now, wire.Record{Kind: wire.RecordUpsert, Entry: e})
}

func (n *node) del(now timeT, e ct.Entry) {
	n.local.Delete(e.Key())
	n.s.Submit(now, wire.Record{Kind: wire.RecordDelete, Entry: ct.Entry{Orig: e.Orig, Zone: e.Zone}})
}

func (n *node) upsertX(now timeT, x ct.Expect) {
	n.localX.Upsert(&x)
	n.s.Submit(now, wire.Record{Kind: wire.RecordExpectUpsert, Expect: &x})
}
