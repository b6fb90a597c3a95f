package sync

import (
	"errors"
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
)

// TestCS_O03_DatagramTables: which table's traffic each kind of datagram
// is, sent and received (tables.go).
func TestCS_O03_DatagramTables(t *testing.T) {
	e, x := entry(1, 3), expectation(1)
	rec := func(kind wire.RecordKind) wire.Record {
		switch kind {
		case wire.RecordExpectUpsert, wire.RecordExpectDelete:
			return wire.Record{Kind: kind, Expect: &x}
		}
		return wire.Record{Kind: kind, Entry: e}
	}
	sweep := func(kind wire.RecordKind, tb wire.Table) wire.Record {
		return wire.Record{Kind: kind, Sweep: wire.Sweep{ID: 1, Table: tb, Buckets: allBuckets}}
	}
	digest := func(tb wire.Table) wire.Record {
		return wire.Record{Kind: wire.RecordDigest, Digest: &wire.Digest{Table: tb}}
	}
	upd := func(recs ...wire.Record) wire.Message {
		return wire.Message{Type: wire.TypeUpdate, Seq: 1, Records: recs}
	}
	for _, tt := range []struct {
		name string
		m    wire.Message
		want tables
	}{
		{"upsert", upd(rec(wire.RecordUpsert)), inMain},
		{"delete", upd(rec(wire.RecordDelete)), inMain},
		{"expect upsert", upd(rec(wire.RecordExpectUpsert)), inExpect},
		{"expect delete", upd(rec(wire.RecordExpectDelete)), inExpect},
		{"main sweep and digest", upd(sweep(wire.RecordSweepBegin, wire.TableMain), sweep(wire.RecordSweepEnd, wire.TableMain), digest(wire.TableMain)), inMain},
		{"expect sweep and digest", upd(sweep(wire.RecordSweepBegin, wire.TableExpect), rec(wire.RecordExpectUpsert), sweep(wire.RecordSweepEnd, wire.TableExpect), digest(wire.TableExpect)), inExpect},
		{"mixed", upd(rec(wire.RecordUpsert), rec(wire.RecordExpectUpsert)), inMain | inExpect},
		{"main sweep ends, expect sweep begins", upd(sweep(wire.RecordSweepEnd, wire.TableMain), sweep(wire.RecordSweepBegin, wire.TableExpect)), inMain | inExpect},
		{"ack", wire.Message{Type: wire.TypeAck, Ack: 1}, inMain},
		{"nack", wire.Message{Type: wire.TypeNack, From: 1, To: 2}, inMain},
		{"alive", wire.Message{Type: wire.TypeAlive}, inMain},
		{"resync request", wire.Message{Type: wire.TypeResyncRequest}, inMain},
		{"repair request main", wire.Message{Type: wire.TypeRepairRequest, Table: wire.TableMain, Buckets: 1}, inMain},
		{"repair request expect", wire.Message{Type: wire.TypeRepairRequest, Table: wire.TableExpect, Buckets: 1}, inExpect},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// want: the expectation records' octets.
			var raw []byte
			want := share{tables: tt.want}
			for i := range tt.m.Records {
				r := &tt.m.Records[i]
				k := len(raw)
				var err error
				if raw, err = wire.AppendRecord(raw, r); err != nil {
					t.Fatal(err)
				}
				if recordTable(r) == wire.TableExpect {
					want.xbytes += len(raw) - k
				}
			}
			s := New(Config{Expect: true}, nil, nil, nil, nil)
			if got := s.sentShare(&tt.m); got != want {
				t.Errorf("sent: %+v, want %+v", got, want)
			}
			b, err := plainCodec.Marshal(&tt.m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := plainCodec.Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if sh := receivedShare(got); sh != want {
				t.Errorf("received: %+v, want %+v", sh, want)
			}
			if tt.m.Type != wire.TypeUpdate {
				return
			}
			// In wire form, as the session sends: from its resend queue,
			// and parsed when the queue no longer holds it.
			m := &wire.Message{Type: wire.TypeUpdate, Seq: 7, Raw: raw, RawCount: len(tt.m.Records)}
			if sh := s.sentShare(m); sh != want {
				t.Errorf("sent, not queued: %+v, want %+v", sh, want)
			}
			for i := range tt.m.Records {
				s.push(t0, &tt.m.Records[i])
			}
			s.sendUpdate(t0, len(tt.m.Records), s.cfg.Overhead+len(raw))
			if sh := s.sentShare(s.Outbox()[0]); sh != want {
				t.Errorf("sent from the queue: %+v, want %+v", sh, want)
			}
		})
	}
}

// TestCS_O03_ErrorsAndRefusedUnderMain: a refused datagram and a failed
// send are the channel's: main's traffic, no table's otherwise.
func TestCS_O03_ErrorsAndRefusedUnderMain(t *testing.T) {
	s := New(Config{Expect: true}, nil, nil, nil, nil)
	x := expectation(1)
	m := &wire.Message{Type: wire.TypeUpdate, Seq: 1, Records: []wire.Record{{Kind: wire.RecordExpectUpsert, Expect: &x}}}
	s.NoteReceived(nil, 33, wire.DropBadMAC)
	s.NoteReceived(m, 44, wire.DropTruncated) // a reason wins over a message
	s.NoteSent(m, 55, errors.New("no buffer space"))
	c := s.Status(t0).Counters
	want := Traffic{BytesRecv: 77, PacketsRecv: 2}
	if c.Traffic != want || c.Tables[wire.TableMain].Traffic != want || c.Tables[wire.TableExpect] != (TableCounters{}) ||
		c.SendErrors != 1 || c.Malformed.Total() != 2 {
		t.Errorf("counters %+v; want %+v under main only, 1 send error, 2 malformed", c, want)
	}
}

// checkTablesAddUp: each table's share of the channel adds up to the
// channel's totals: the bytes exactly, the packets less those of both
// tables.
func checkTablesAddUp(t *testing.T, who string, c Counters) {
	t.Helper()
	m, x := c.Tables[wire.TableMain], c.Tables[wire.TableExpect]
	sum := Traffic{
		BytesSent: m.BytesSent + x.BytesSent, BytesRecv: m.BytesRecv + x.BytesRecv,
		PacketsSent: m.PacketsSent + x.PacketsSent - c.Mixed.PacketsSent, PacketsRecv: m.PacketsRecv + x.PacketsRecv - c.Mixed.PacketsRecv,
	}
	if sum != c.Traffic {
		t.Errorf("%s: main %+v + expect %+v (mixed %+v) = %+v, want the totals %+v", who, m.Traffic, x.Traffic, c.Mixed, sum, c.Traffic)
	}
	for _, f := range []struct {
		name          string
		main, x, want uint64
	}{
		{"retransmits", m.Retransmits, x.Retransmits, c.Retransmits},
		{"repairs sent", m.RepairsSent, x.RepairsSent, c.RepairsSent},
		{"repairs answered", m.RepairsAnswered, x.RepairsAnswered, c.RepairsAnswered},
		{"digests ok", m.DigestsOK, x.DigestsOK, c.DigestsOK},
		{"digests mismatched", m.DigestsMismatch, x.DigestsMismatch, c.DigestsMismatch},
	} {
		if f.main+f.x != f.want {
			t.Errorf("%s: %s main %d + expect %d, want the total %d", who, f.name, f.main, f.x, f.want)
		}
	}
}

// TestCS_O03_TablesAddUp: a workload of entries and expectations, with
// loss, an expectation repaired by its digest and a resync: every
// per-table counter adds up to the channel's total, both tables have
// traffic, and on a clean link each table's datagrams sent by one node
// are those the other received.
func TestCS_O03_TablesAddUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		loss float64
	}{{"clean", 0}, {"loss 10%", 0.1}} {
		t.Run(tc.name, func(t *testing.T) {
			n := newSimNet(7, simConfig(1000), simConfig(2000))
			n.loss = tc.loss
			n.run(10 * time.Millisecond)
			for i := range 1500 {
				n.a.upsert(n.now, entry(i, 1))
				if i%5 == 0 {
					n.a.upsertX(n.now, expectation(i))
				}
				if i%100 == 99 {
					n.step(time.Millisecond)
				}
			}
			n.loss = 0
			n.runUntil(t, 30*time.Second)
			x := expectation(5)
			n.b.remoteX.Delete(x.Key())
			n.runUntil(t, 2*DefaultDigestInterval)
			n.b.s.RequestResync(n.now)
			n.run(time.Second)
			n.runUntil(t, 10*time.Second)

			a, b := n.a.s.Status(n.now).Counters, n.b.s.Status(n.now).Counters
			checkTablesAddUp(t, "a", a)
			checkTablesAddUp(t, "b", b)
			ax, bx := a.Tables[wire.TableExpect], b.Tables[wire.TableExpect]
			if ax.PacketsSent == 0 || bx.PacketsRecv == 0 || a.Tables[wire.TableMain].PacketsSent == 0 {
				t.Errorf("no traffic counted under a table: a main %+v, a expect %+v, b expect %+v", a.Tables[wire.TableMain].Traffic, ax.Traffic, bx.Traffic)
			}
			if bx.RepairsSent == 0 || ax.RepairsAnswered == 0 || bx.DigestsMismatch == 0 || bx.DigestsOK == 0 {
				t.Errorf("the expectation's repair is not under expect: a %+v, b %+v", ax, bx)
			}
			if tc.loss == 0 {
				for tb := range a.Tables {
					if a.Tables[tb].PacketsSent != b.Tables[tb].PacketsRecv || a.Tables[tb].BytesSent != b.Tables[tb].BytesRecv {
						t.Errorf("table %d: a sent %+v, b received %+v: the same datagrams, counted alike", tb, a.Tables[tb].Traffic, b.Tables[tb].Traffic)
					}
				}
			} else if a.Retransmits == 0 {
				t.Error("no retransmits with loss")
			}
			t.Logf("a: main %+v, expect %+v, mixed %+v; retransmits main %d expect %d",
				a.Tables[wire.TableMain].Traffic, ax.Traffic, a.Mixed, a.Tables[wire.TableMain].Retransmits, ax.Retransmits)
		})
	}
}

// TestCS_O03_MainOnlyWorkload: without expect-sync the main table's
// figures are the channel's, as before the split.
func TestCS_O03_MainOnlyWorkload(t *testing.T) {
	cfgA, cfgB := simConfig(1000), simConfig(2000)
	cfgA.Expect, cfgB.Expect = false, false
	n := newSimNet(3, cfgA, cfgB)
	n.loss = 0.1
	n.run(10 * time.Millisecond)
	for i := range 2000 {
		n.a.upsert(n.now, entry(i, 1))
		if i%100 == 99 {
			n.step(time.Millisecond)
		}
	}
	n.loss = 0
	n.runUntil(t, 30*time.Second)
	gone := entry(10, 1)
	n.b.remote.Delete(gone.Key())
	n.runUntil(t, 2*DefaultDigestInterval)
	if b := n.b.s.Status(n.now); b.RepairsSent == 0 || b.DigestsMismatch == 0 {
		t.Errorf("the entry was not repaired by a digest: %d repairs, %d mismatches", b.RepairsSent, b.DigestsMismatch)
	}
	for who, nd := range map[string]*node{"a": n.a, "b": n.b} {
		c := nd.s.Status(n.now).Counters
		m := c.Tables[wire.TableMain]
		want := TableCounters{Traffic: c.Traffic, Retransmits: c.Retransmits, RepairsSent: c.RepairsSent,
			RepairsAnswered: c.RepairsAnswered, DigestsOK: c.DigestsOK, DigestsMismatch: c.DigestsMismatch}
		if m != want || c.Tables[wire.TableExpect] != (TableCounters{}) || c.Mixed != (Mixed{}) {
			t.Errorf("%s: main %+v, expect %+v, mixed %+v; want main = the totals %+v", who, m, c.Tables[wire.TableExpect], c.Mixed, want)
		}
	}
}

// TestCS_O03_RetransmitsByTable: an update of expectations only is
// retransmitted under expect; one of both tables under main.
func TestCS_O03_RetransmitsByTable(t *testing.T) {
	h := newHarness(t, Config{Expect: true})
	h.meet()
	h.n.upsertX(h.now, expectation(1)) // Seq 1: expect only
	h.n.s.Flush(h.now)
	h.n.upsert(h.now, entry(2, 3)) // Seq 2: both
	h.n.upsertX(h.now, expectation(2))
	h.n.s.Flush(h.now)
	if ups := h.out(wire.TypeUpdate); len(ups) != 2 {
		t.Fatalf("%d updates sent, want 2", len(ups))
	}
	h.from(wire.Message{Type: wire.TypeNack, From: 1, To: 2})
	h.from(wire.Message{Type: wire.TypeNack, From: 1, To: 1})
	if re := h.out(wire.TypeUpdate); len(re) != 3 {
		t.Fatalf("%d updates resent, want 3", len(re))
	}
	c := h.n.s.Status(h.now).Counters
	if m, x := c.Tables[wire.TableMain].Retransmits, c.Tables[wire.TableExpect].Retransmits; m != 1 || x != 2 || c.Retransmits != 3 {
		t.Errorf("retransmits main %d expect %d total %d, want 1, 2, 3", m, x, c.Retransmits)
	}
}
