package cache

import (
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// CS-B06, CS-O03: the peer's changes and their counters.
func TestExternalUpsertDelete(t *testing.T) {
	a, b := tcp("10.0.0.1", 1, "10.0.1.1", 80), tcp("10.0.0.2", 1, "10.0.1.1", 80)
	a2 := a
	a2.TCP.State = ct.TCPTimeWait
	tests := []struct {
		name string
		ops  func(c *External)
		want Counters
		len  int
	}{
		{"upsert twice", func(c *External) { c.Upsert(&a); c.Upsert(&a2) }, Counters{Created: 1, Updated: 1}, 1},
		{"upsert, delete", func(c *External) { c.Upsert(&a); c.Delete(a.Key()) }, Counters{Created: 1, Destroyed: 1}, 0},
		{"delete unknown", func(c *External) { c.Upsert(&a); c.Delete(b.Key()) }, Counters{Created: 1, DestroyedFailed: 1}, 1},
		{"commit counts", func(c *External) { c.Upsert(&a); c.CountCommit(1, 2) }, Counters{Created: 1, Committed: 1, CreatedFailed: 2}, 1},
		{"flush keeps counters", func(c *External) { c.Upsert(&a); c.Upsert(&b); c.Flush() }, Counters{Created: 2}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewExternal()
			tt.ops(c)
			want := tt.want
			want.Current = tt.len
			if got := c.Counters(); got != want {
				t.Errorf("counters %+v, want %+v", got, want)
			}
			if c.Len() != tt.len {
				t.Errorf("Len %d, want %d", c.Len(), tt.len)
			}
			checkSums(t, tt.name, c.Sums(), c.Range)
		})
	}
	c := NewExternal()
	c.Upsert(&a2)
	if got, ok := c.Get(a.Key()); !ok || got != a2 {
		t.Fatalf("Get = %+v, %v", got, ok)
	}
}

// entriesIn returns n entries of bucket b.
func entriesIn(b, n int) []ct.Entry {
	var out []ct.Entry
	for port := 1; len(out) < n && port < 65536; port++ {
		e := tcp("10.0.0.1", uint16(port), "10.0.1.1", 80)
		if e.Key().Bucket(ct.Buckets) == b {
			out = append(out, e)
		}
	}
	return out
}

// Sweeps (the peer resending whole buckets, issue 5's repair): what was
// not resent is removed, sweeps of different buckets overlap, a new sweep
// of the same buckets takes them over.
func TestExternalSweeps(t *testing.T) {
	b1, b2 := entriesIn(1, 3), entriesIn(2, 3)
	const s1, s2 = uint64(1 << 1), uint64(1 << 2)
	tests := []struct {
		name    string
		ops     func(c *External) []int // returns EndSweep results
		want    []int
		present []ct.Entry
		absent  []ct.Entry
	}{
		{"plain sweep", func(c *External) []int {
			c.BeginSweep(1, s1)
			c.Upsert(&b1[0])
			return []int{c.EndSweep(1)}
		}, []int{2}, []ct.Entry{b1[0], b2[0], b2[1], b2[2]}, []ct.Entry{b1[1], b1[2]}},
		{"other buckets untouched", func(c *External) []int {
			c.BeginSweep(1, s1)
			return []int{c.EndSweep(1)}
		}, []int{3}, b2, b1},
		{"overlapping sweeps of different buckets", func(c *External) []int {
			c.BeginSweep(1, s1)
			c.Upsert(&b1[0])
			c.BeginSweep(2, s2)
			c.Upsert(&b1[1])
			c.Upsert(&b2[2])
			r2 := c.EndSweep(2)
			return []int{r2, c.EndSweep(1)}
		}, []int{2, 1}, []ct.Entry{b1[0], b1[1], b2[2]}, []ct.Entry{b1[2], b2[0], b2[1]}},
		{"new sweep of the same buckets takes over", func(c *External) []int {
			c.BeginSweep(1, s1|s2)
			c.Upsert(&b1[0])
			c.BeginSweep(2, s1) // restarts bucket 1 under sweep 2
			c.Upsert(&b1[1])
			c.Upsert(&b2[0])
			r1 := c.EndSweep(1) // only bucket 2 left to sweep 1
			return []int{r1, c.EndSweep(2)}
		}, []int{2, 2}, []ct.Entry{b1[1], b2[0]}, []ct.Entry{b1[0], b1[2], b2[1], b2[2]}},
		{"same id restarts", func(c *External) []int {
			c.BeginSweep(7, s1)
			c.Upsert(&b1[0])
			c.BeginSweep(7, s1)
			c.Upsert(&b1[1])
			return []int{c.EndSweep(7), c.EndSweep(7)}
		}, []int{2, 0}, []ct.Entry{b1[1]}, []ct.Entry{b1[0], b1[2]}},
		{"unknown id", func(c *External) []int { return []int{c.EndSweep(9)} }, []int{0}, append(b1, b2...), nil},
		{"empty set", func(c *External) []int {
			c.BeginSweep(1, 0)
			return []int{c.EndSweep(1)}
		}, []int{0}, append(b1, b2...), nil},
		{"flush abandons sweeps", func(c *External) []int {
			c.BeginSweep(1, s1)
			c.Flush()
			c.Upsert(&b1[2])
			return []int{c.EndSweep(1)}
		}, []int{0}, []ct.Entry{b1[2]}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewExternal()
			for _, e := range append(append([]ct.Entry{}, b1...), b2...) {
				c.Upsert(&e)
			}
			got := tt.ops(c)
			for i := range tt.want {
				if got[i] != tt.want[i] {
					t.Fatalf("EndSweep results %v, want %v", got, tt.want)
				}
			}
			for _, e := range tt.present {
				if _, ok := c.Get(e.Key()); !ok {
					t.Errorf("%v missing", e.Orig)
				}
			}
			for _, e := range tt.absent {
				if _, ok := c.Get(e.Key()); ok {
					t.Errorf("%v not swept", e.Orig)
				}
			}
			checkSums(t, tt.name, c.Sums(), c.Range)
		})
	}
}

// Entries age only while the peer is silent: each expires Timeout after
// the later of the silence's start and its last upsert.
func TestExternalExpiry(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	short, long := tcp("10.0.0.1", 1, "10.0.1.1", 80), tcp("10.0.0.2", 1, "10.0.1.1", 80)
	short.Timeout, long.Timeout = 10, 100
	late := tcp("10.0.0.3", 1, "10.0.1.1", 80)
	late.Timeout = 10

	c := NewExternal()
	c.Upsert(&short)
	c.Upsert(&long)
	if n := c.Expire(at(1000)); n != 0 {
		t.Fatalf("expired %d while the peer is alive", n)
	}
	c.SetPeerAlive(at(1000), false)
	if n := c.Expire(at(1009)); n != 0 {
		t.Fatalf("expired %d before any deadline", n)
	}
	if n := c.Expire(at(1050)); n != 1 {
		t.Fatalf("at 1050: expired %d, want 1 (short)", n)
	}
	c.Upsert(&late) // stamped 1050: deadline 1060
	if n := c.Expire(at(1059)); n != 0 {
		t.Fatalf("at 1059: expired %d, want 0", n)
	}
	if n := c.Expire(at(1060)); n != 1 {
		t.Fatalf("at 1060: expired %d, want 1 (late)", n)
	}
	c.SetPeerAlive(at(1070), true)
	if n := c.Expire(at(5000)); n != 0 {
		t.Fatalf("expired %d after the peer came back", n)
	}
	c.SetPeerAlive(at(5000), false) // a new silence: long's deadline is 5100
	if n := c.Expire(at(5099)); n != 0 {
		t.Fatalf("at 5099: expired %d", n)
	}
	if n := c.Expire(at(5100)); n != 1 || c.Len() != 0 {
		t.Fatalf("at 5100: expired %d, len %d", n, c.Len())
	}
	if got := c.Counters(); got.Expired != 3 || got.Destroyed != 3 {
		t.Errorf("counters %+v", got)
	}
	// Time going backwards does not expire or panic.
	c.Upsert(&short)
	c.Expire(at(0))
	if c.Len() != 1 {
		t.Fatal("entry lost when time went backwards")
	}
}

// The expectation cache is the same type of cache.
func TestExternalExpect(t *testing.T) {
	c := NewExternalExpect()
	x := ct.Expect{Master: tcp("10.0.0.1", 40000, "192.0.2.7", 21).Orig,
		Tuple: ct.Tuple{Src: addr("192.0.2.7"), Dst: addr("10.0.0.1"), Proto: ct.ProtoTCP, DstPort: 50000}, Timeout: 5}
	c.Upsert(&x)
	c.BeginSweep(1, allBuckets)
	if n := c.EndSweep(1); n != 1 || c.Len() != 0 {
		t.Fatalf("sweep removed %d", n)
	}
	c.Upsert(&x)
	c.SetPeerAlive(time.Unix(100, 0), false)
	if n := c.Expire(time.Unix(105, 0)); n != 1 {
		t.Fatalf("expired %d", n)
	}
}
