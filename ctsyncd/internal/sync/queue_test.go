package sync

import (
	"bytes"
	"net/netip"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
)

// mixedRecords are one of each record a node submits: IPv4 and IPv6,
// NAT, helper, mark and zone, deletes, expectations.
func mixedRecords() []wire.Record {
	nat := entry(7, ct.TCPEstablished)
	nat.Reply.Dst = netip.MustParseAddr("203.0.113.1")
	nat.Reply.DstPort = 61000
	nat.Status |= ct.StatusSrcNAT | ct.StatusSrcNATDone
	a, b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::53")
	v6 := ct.Entry{Orig: ct.Tuple{Src: a, Dst: b, Proto: ct.ProtoUDP, SrcPort: 5353, DstPort: 53},
		Reply:  ct.Tuple{Src: b, Dst: a, Proto: ct.ProtoUDP, SrcPort: 53, DstPort: 5353},
		Status: ct.StatusConfirmed, Timeout: 30, Mark: 9, Zone: 2}
	ftp := entry(8, ct.TCPEstablished)
	ftp.Helper = "ftp"
	x := expectation(8)
	xnat := expectation(9)
	xnat.NATDir, xnat.NATTuple = 1, ct.Tuple{Src: netip.MustParseAddr("203.0.113.1"), Proto: ct.ProtoTCP, SrcPort: 2121}
	return []wire.Record{
		{Kind: wire.RecordUpsert, Entry: entry(1, ct.TCPEstablished)},
		{Kind: wire.RecordUpsert, Entry: nat},
		{Kind: wire.RecordUpsert, Entry: v6},
		{Kind: wire.RecordUpsert, Entry: ftp},
		{Kind: wire.RecordExpectUpsert, Expect: &x},
		{Kind: wire.RecordExpectUpsert, Expect: &xnat},
		{Kind: wire.RecordDelete, Entry: ct.Entry{Orig: v6.Orig, Zone: v6.Zone}},
		{Kind: wire.RecordExpectDelete, Expect: &ct.Expect{Master: x.Master, Tuple: x.Tuple}},
		{Kind: wire.RecordDelete, Entry: ct.Entry{Orig: nat.Orig}},
	}
}

// CS-B06: records queued in wire form come out exactly as submitted, in
// order, across datagrams and a window that opens bit by bit.
func TestSenderEncodedQueueRoundTrip(t *testing.T) {
	h := newHarness(t, Config{Expect: true, QueueBytes: 2 * wire.MaxDatagram, PendingBytes: 1 << 20})
	h.meet()
	var want []wire.Record
	for i := range 60 {
		for _, r := range mixedRecords() {
			if r.Kind == wire.RecordUpsert || r.Kind == wire.RecordDelete {
				r.Entry.Orig.SrcPort += uint16(i) // keep every record distinct
				if r.Kind == wire.RecordUpsert {
					r.Entry.Reply.DstPort += uint16(i)
				}
			}
			want = append(want, r)
			h.n.s.Submit(h.now, r)
		}
	}
	h.n.s.Flush(h.now)
	var got []wire.Record
	for range 1000 {
		ups := h.out(wire.TypeUpdate)
		if len(ups) == 0 {
			break
		}
		for _, m := range ups {
			got = append(got, m.Records...)
			h.from(wire.Message{Type: wire.TypeAck, Ack: m.Seq})
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d records out, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if st := h.n.s.Status(h.now); st.EntriesAtRisk != 0 || st.PendingBytes != 0 || st.QueueBytes != 0 || !h.n.s.Idle() {
		t.Errorf("after every ack: %+v", st)
	}
}

// CS-B07: a resent update carries the very octets of the first send,
// under a new Counter (and so a new MAC).
func TestSenderResendIdentical(t *testing.T) {
	codec := wire.NewCodec([]byte("resend secret 0123"))
	h := newHarness(t, Config{Expect: true, Overhead: codec.Overhead()})
	h.meet()
	for i := range 40 {
		h.n.s.Submit(h.now, mixedRecords()[i%len(mixedRecords())])
	}
	h.n.s.Flush(h.now)
	marshal := func(ms []*wire.Message) [][]byte {
		var out [][]byte
		for _, m := range ms {
			if m.Type != wire.TypeUpdate {
				continue
			}
			b, err := codec.Marshal(m)
			if err != nil {
				t.Fatalf("marshal update %d: %v", m.Seq, err)
			}
			out = append(out, b)
		}
		return out
	}
	first := marshal(h.n.s.Outbox())
	if len(first) < 2 {
		t.Fatalf("%d updates, want at least 2", len(first))
	}
	h.from(wire.Message{Type: wire.TypeNack, From: 1, To: uint32(len(first))})
	again := marshal(h.n.s.Outbox())
	if len(again) != len(first) {
		t.Fatalf("%d resent, want %d", len(again), len(first))
	}
	// The records, Seq and count follow the 16-octet header; the MAC ends it.
	body := func(b []byte) []byte { return b[wire.HeaderLen : len(b)-wire.MACLen] }
	for i := range first {
		if !bytes.Equal(body(again[i]), body(first[i])) {
			t.Errorf("update %d resent differently:\n%x\nwant\n%x", i+1, body(again[i]), body(first[i]))
		}
		m1, err1 := codec.Unmarshal(first[i])
		m2, err2 := codec.Unmarshal(again[i])
		if err1 != nil || err2 != nil || m2.Counter <= m1.Counter || m2.Seq != m1.Seq {
			t.Errorf("update %d: first %+v (%v), resent %+v (%v)", i+1, m1, err1, m2, err2)
		}
	}
}

// The lag (CS-O03 "oldest unacknowledged") follows the records as they
// move from pending into datagrams and out with the Acks.
func TestSenderLagAcrossQueues(t *testing.T) {
	h := newHarness(t, Config{QueueBytes: wire.MaxDatagram, PendingBytes: 1 << 20})
	h.meet()
	t1 := h.now
	for i := range 60 { // about two datagrams
		h.n.upsert(h.now, entry(i, 3))
	}
	h.now = h.now.Add(10 * time.Millisecond)
	t2 := h.now
	for i := range 60 {
		h.n.upsert(h.now, entry(100+i, 3))
	}
	h.n.s.Flush(h.now)
	ups := h.out(wire.TypeUpdate)
	if len(ups) != 1 {
		t.Fatalf("%d updates through a one-datagram window", len(ups))
	}
	h.now = h.now.Add(5 * time.Millisecond)
	if st := h.n.s.Status(h.now); st.OldestUnacked != h.now.Sub(t1) || st.EntriesAtRisk != 120 {
		t.Fatalf("oldest %v at risk %d, want %v and 120", st.OldestUnacked, st.EntriesAtRisk, h.now.Sub(t1))
	}
	// Ack datagram by datagram until the first batch is gone: the oldest
	// is then the second batch's.
	acked := 0
	for range 10 {
		for _, m := range ups {
			acked += len(m.Records)
			h.from(wire.Message{Type: wire.TypeAck, Ack: m.Seq})
		}
		if acked >= 60 {
			break
		}
		ups = h.out(wire.TypeUpdate)
	}
	st := h.n.s.Status(h.now)
	if st.EntriesAtRisk != 120-acked {
		t.Errorf("at risk %d, want %d", st.EntriesAtRisk, 120-acked)
	}
	if st.EntriesAtRisk > 0 && st.OldestUnacked != h.now.Sub(t2) {
		t.Errorf("oldest %v, want %v (the second batch)", st.OldestUnacked, h.now.Sub(t2))
	}
}

// The RSS aim: a full sync-queue-size of records waiting for the
// window costs about their wire size, not a decoded wire.Record (216
// octets) each. Measured from runtime.MemStats; the figure is logged.
func TestSenderQueueMemory(t *testing.T) {
	// Half of them sent and unacknowledged, half pending.
	h := newHarness(t, Config{QueueBytes: 440 << 10, PendingBytes: 1 << 20})
	h.meet()
	const n = 20 * 1024 // ~860 kB of wire records: under the default pending bound
	recs := make([]wire.Record, 1024)
	before := heapAfterGC()
	for i := 0; i < n; i += len(recs) {
		for j := range recs {
			recs[j] = wire.Record{Kind: wire.RecordUpsert, Entry: entry(i+j, 3)}
		}
		h.n.s.Submit(h.now, recs...)
	}
	h.n.s.Flush(h.now)
	h.n.s.Outbox() // sent, none acknowledged: the window is full
	after := heapAfterGC()
	st := h.n.s.Status(h.now)
	if st.Overflows != 0 || st.EntriesAtRisk != n {
		t.Fatalf("overflows %d, at risk %d, want 0 and %d", st.Overflows, st.EntriesAtRisk, n)
	}
	per := float64(after-before) / n
	wireBytes := float64(st.QueueBytes+st.PendingBytes) / n
	t.Logf("%d records queued: %.0f heap octets each for %.0f on the wire (%d queued, %d pending)",
		n, per, wireBytes, st.QueueBytes, st.PendingBytes)
	if per > 2.5*wireBytes {
		t.Errorf("%.0f heap octets per queued record, want under %.0f (2.5 times the wire size)", per, 2.5*wireBytes)
	}
	runtime.KeepAlive(recs)
}

func heapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A record the codec refuses never enters the stream (it would fail every
// datagram carrying it): it is dropped at Submit and counted.
func TestSenderDropsUnencodable(t *testing.T) {
	h := newHarness(t, Config{})
	h.meet()
	bad := entry(1, ct.TCPEstablished)
	bad.Reply.Proto = ct.ProtoUDP
	h.n.s.Submit(h.now, wire.Record{Kind: wire.RecordUpsert, Entry: bad},
		wire.Record{Kind: wire.RecordUpsert, Entry: entry(2, ct.TCPEstablished)})
	h.n.s.Flush(h.now)
	ups := h.out(wire.TypeUpdate)
	if len(ups) != 1 || len(ups[0].Records) != 1 || ups[0].Records[0].Entry != entry(2, ct.TCPEstablished) {
		t.Fatalf("sent %+v, want the good record alone", ups)
	}
	if st := h.n.s.Status(h.now); st.Unencodable != 1 || st.EntriesAtRisk != 1 {
		t.Errorf("unencodable %d, at risk %d; want 1 and 1", st.Unencodable, st.EntriesAtRisk)
	}
}
