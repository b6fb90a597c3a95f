package sync

import (
	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
)

// Local is this node's internal cache of one table as the sender reads it:
// the bucket sums for digests and a walk of some buckets for sweeps.
// *cache.Internal satisfies Local; *cache.InternalExpect satisfies
// LocalExpect.
type Local interface {
	Sums() ct.Sums
	RangeBuckets(buckets uint64, fn func(*ct.Entry) bool)
	Len() int
}

// LocalExpect is Local for the expectation table.
type LocalExpect interface {
	Sums() ct.Sums
	RangeBuckets(buckets uint64, fn func(*ct.Expect) bool)
	Len() int
}

// Remote is the external cache (the peer's entries) of one table as the
// receiver writes it. A sweep marks the entries of its buckets unseen at
// BeginSweep; every Upsert marks one seen; EndSweep removes those still
// unseen and says how many. A BeginSweep of buckets already in an open
// sweep supersedes it (the sender abandoned the old one); an EndSweep of an
// id that is not open does nothing.
type Remote interface {
	Upsert(e *ct.Entry)
	Delete(k ct.Key)
	BeginSweep(id uint32, buckets uint64)
	EndSweep(id uint32) (removed int)
	Sums() ct.Sums
}

// RemoteExpect is Remote for the expectation table.
type RemoteExpect interface {
	Upsert(x *ct.Expect)
	Delete(k ct.ExpectKey)
	BeginSweep(id uint32, buckets uint64)
	EndSweep(id uint32) (removed int)
	Sums() ct.Sums
}

// Codec turns messages into datagrams and back; *wire.Codec satisfies it.
// Unmarshal's errors carry a wire.DropReason (wire.ReasonOf).
type Codec interface {
	Marshal(m *wire.Message) ([]byte, error)
	Unmarshal(b []byte) (*wire.Message, error)
	Overhead() int
}
