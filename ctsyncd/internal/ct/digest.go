package ct

import "encoding/binary"

// Buckets is the number of buckets the two nodes compare their tables in
// (issue 5: "a periodic digest exchange ... that detects divergence and
// repairs it"). A bucket that differs is resent whole, so the number
// trades the size of the digest (Buckets sums in one datagram) against the
// size of a repair (1/Buckets of the table).
const Buckets = 64

// BucketSum summarises the entries of one bucket: how many, and the XOR of
// their digests, which an entry's insertion, change or removal updates in
// constant time.
type BucketSum struct {
	Count uint32
	Hash  uint64
}

// Sums are the bucket sums of a whole table.
type Sums [Buckets]BucketSum

// Add accounts for an entry with digest d in bucket b.
func (s *Sums) Add(b int, d uint64) {
	s[b].Count++
	s[b].Hash ^= d
}

// Remove undoes Add.
func (s *Sums) Remove(b int, d uint64) {
	s[b].Count--
	s[b].Hash ^= d
}

// Diff returns the set of buckets (bit i = bucket i) where s and o differ.
func (s *Sums) Diff(o *Sums) uint64 {
	var set uint64
	for i := range s {
		if s[i] != o[i] {
			set |= 1 << i
		}
	}
	return set
}

// Digest of an expectation; see Entry.Digest.
func (x *Expect) Digest() uint64 {
	var b [200]byte
	n := putTuple(b[:], x.Master)
	n += putTuple(b[n:], x.Tuple)
	n += putTuple(b[n:], x.Mask)
	n += putTuple(b[n:], x.NATTuple)
	binary.BigEndian.PutUint16(b[n:], x.Zone)
	binary.BigEndian.PutUint32(b[n+2:], x.Flags)
	binary.BigEndian.PutUint32(b[n+6:], x.Class)
	binary.BigEndian.PutUint32(b[n+10:], x.NATDir)
	n += 16
	h := hashString(hashWords(b[:n]), x.Helper)
	if x.Fn != "" {
		// Only when set: the digests of expectations without one stay
		// what older versions computed.
		h = hashString(h, x.Fn)
	}
	return h
}

// Bucket of an expectation among n.
func (k ExpectKey) Bucket(n int) int {
	var b [96]byte
	m := putTuple(b[:], k.Master)
	m += putTuple(b[m:], k.Tuple)
	binary.BigEndian.PutUint16(b[m:], k.Zone)
	return int(hashWords(b[:m+8]) % uint64(n))
}
