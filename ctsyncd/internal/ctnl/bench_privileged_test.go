package ctnl

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ti-mo/conntrack"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// BenchmarkCommit (CS-B14) commits 100k mixed entries into an empty table
// per iteration, with several batch sizes, and once with an event
// listener in the namespace (FIELD-NOTES: it halves the kernel's rate).
func BenchmarkCommit(b *testing.B) {
	entries := mixedEntries(100000)
	for _, tc := range []struct {
		name     string
		msgs     int
		listener bool
	}{
		{"batch=1", 1, false},
		{"batch=16", 16, false},
		{"batch=64", 64, false},
		{"batch=256", 256, false},
		{"batch=1024", 1024, false},
		{"batch=256/listener", 256, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			n := newNode(b)
			c := dialIn(b, n, Options{BatchMessages: tc.msgs, BatchBytes: 256 << 10})
			tm := timoIn(b, n)
			if tc.listener {
				listenIn(b, n, ListenerOptions{RcvBuf: 64 << 20, OnEntry: func(EventKind, *ct.Entry, Acct) {}})
			}
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				if err := tm.Flush(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				r, err := c.Commit(context.Background(), seqOf(entries))
				total += time.Since(start)
				if err != nil || r.Created != len(entries) {
					b.Fatalf("commit: %+v, %v", r, err)
				}
			}
			b.ReportMetric(float64(len(entries)*b.N)/total.Seconds(), "entries/s")
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/100k")
		})
	}
}

// BenchmarkDump streams a table of 100k entries.
func BenchmarkDump(b *testing.B) {
	entries := mixedEntries(100000)
	n := newNode(b)
	c := dialIn(b, n, Options{})
	if r, err := c.Commit(context.Background(), seqOf(entries)); err != nil || r.Created != len(entries) {
		b.Fatalf("commit: %+v, %v", r, err)
	}
	b.ReportAllocs()
	count := 0
	start := time.Now()
	for b.Loop() {
		if err := c.Dump(context.Background(), func(*ct.Entry) error { count++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(count)/time.Since(start).Seconds(), "entries/s")
}

// TestInsertRateComparison measures the kernel's insert rate through
// ti-mo (one request and ACK at a time) and through our batched commit,
// on the same entries. It asserts nothing: run it with
// HASUITE_CTNL_COMPARE=1 and read the log.
func TestInsertRateComparison(t *testing.T) {
	if os.Getenv("HASUITE_CTNL_COMPARE") == "" {
		t.Skip("set HASUITE_CTNL_COMPARE=1 to measure insert rates")
	}
	const count = 50000
	entries := make([]ct.Entry, count)
	for i := range entries {
		e := tcpEntry(i)
		e.Orig.Src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		e.Reply.Dst = e.Orig.Src
		entries[i] = e
	}
	n := newNode(t)
	tm := timoIn(t, n)
	c := dialIn(t, n, Options{})
	rate := func(name string, setup, f func() error) {
		if err := tm.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := setup(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		t.Logf("%-28s %6d entries in %7.1f ms: %8.0f entries/s", name, count, float64(d.Microseconds())/1000, count/d.Seconds())
	}
	none := func() error { return nil }
	rate("ti-mo Create, one at a time", none, func() error {
		for i := range entries {
			e := &entries[i]
			f := conntrack.NewFlow(ct.ProtoTCP, conntrack.Status(CommitStatus(e.Status)), e.Orig.Src, e.Orig.Dst,
				e.Orig.SrcPort, e.Orig.DstPort, e.Timeout, e.Mark)
			f.ProtoInfo.TCP = &conntrack.ProtoInfoTCP{State: e.TCP.State}
			if err := tm.Create(f); err != nil {
				return err
			}
		}
		return nil
	})
	for _, msgs := range []int{1, 256} {
		c.opts.BatchMessages = msgs
		rate(fmt.Sprintf("ctnl Commit, %d per sendmsg", msgs), none, func() error {
			r, err := c.Commit(context.Background(), seqOf(entries))
			if err == nil && r.Created != count {
				err = fmt.Errorf("commit: %+v", r)
			}
			return err
		})
	}
	rate("ctnl Commit, all exist", func() error {
		if r, err := c.Commit(context.Background(), seqOf(entries)); err != nil || r.Created != count {
			return fmt.Errorf("commit: %+v, %v", r, err)
		}
		return nil
	}, func() error {
		r, err := c.Commit(context.Background(), seqOf(entries))
		if err == nil && r.Updated != count {
			err = fmt.Errorf("commit: %+v", r)
		}
		return err
	})
}

// BenchmarkListener commits 20k entries per iteration with a listener
// (64 MiB buffer) in the namespace and reports the events decoded per
// second and the heap allocations per event of the whole process
// (commit included).
func BenchmarkListener(b *testing.B) {
	entries := mixedEntries(20000)
	n := newNode(b)
	c := dialIn(b, n, Options{})
	tm := timoIn(b, n)
	var events atomic.Int64
	listenIn(b, n, ListenerOptions{RcvBuf: 64 << 20, OnEntry: func(k EventKind, _ *ct.Entry, _ Acct) {
		if k == EventNew {
			events.Add(1)
		}
	}})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for b.Loop() {
		b.StopTimer()
		if err := tm.Flush(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		want := events.Load() + int64(len(entries))
		if r, err := c.Commit(context.Background(), seqOf(entries)); err != nil || r.Created != len(entries) {
			b.Fatalf("commit: %+v, %v", r, err)
		}
		for deadline := time.Now().Add(patience); events.Load() < want && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	runtime.ReadMemStats(&after)
	got := events.Load()
	b.ReportMetric(float64(got)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(max(got, 1)), "allocs/event")
}
