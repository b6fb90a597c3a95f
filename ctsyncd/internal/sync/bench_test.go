package sync

import (
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
)

// BenchmarkReplicate measures the protocol's own cost per replicated
// record, both ends, through the real codec with a secret, over a lossless
// in-memory link: the core must never be what limits replication (issue 5
// "replication keeps pace with the kernel").
func BenchmarkReplicate(b *testing.B) {
	cfgA, cfgB := Config{Boot: 1, Overhead: simCodec.Overhead()}, Config{Boot: 2, Overhead: simCodec.Overhead()}
	a, c := newNode(cfgA), newNode(cfgB)
	now := t0
	var buf []byte
	move := func(from, to *node) {
		for _, m := range from.s.Outbox() {
			var err error
			if buf, err = simCodec.Append(buf[:0], m); err != nil {
				b.Fatal(err)
			}
			got, err := simCodec.Unmarshal(buf)
			if err != nil {
				b.Fatal(err)
			}
			to.s.Handle(now, got)
		}
	}
	a.s.Tick(now)
	c.s.Tick(now)
	move(a, c)
	move(c, a)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		e := entry(i%1000000, 3)
		a.s.Submit(now, wire.Record{Kind: wire.RecordUpsert, Entry: e})
		if i%256 == 255 {
			now = now.Add(time.Millisecond)
			a.s.Flush(now)
			move(a, c)
			c.s.Tick(now)
			move(c, a)
		}
	}
	a.s.Flush(now)
	move(a, c)
	if c.remote.Len() == 0 {
		b.Fatal("nothing replicated")
	}
}
