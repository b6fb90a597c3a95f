package wire

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// rawOf encodes recs back to back with AppendRecord.
func rawOf(t testing.TB, recs []Record) []byte {
	t.Helper()
	var b []byte
	for i := range recs {
		var err error
		if b, err = AppendRecord(b, &recs[i]); err != nil {
			t.Fatalf("AppendRecord(%v): %v", recs[i].Kind, err)
		}
	}
	return b
}

// An update built from records a sender kept encoded (Message.Raw, the
// sync session's queues) is the very datagram Marshal makes of the
// records themselves, with and without a secret (CS-B06: one encoding).
func TestCS_B06RawUpdateIsIdentical(t *testing.T) {
	recs := []Record{upsert(tcp4()), upsert(udp6()), upsert(icmp4()), upsert(icmp6()), upsert(sctp4()),
		upsert(gre4()), upsert(ftpControl()), deleteOf(tcp4()), deleteOf(udp6()),
		expectUpsert(ftpData()), expectUpsert(natExpect()), expectDeleteOf(natExpect()),
		{Kind: RecordSweepBegin, Sweep: Sweep{ID: 3, Table: TableExpect, Buckets: 9}}}
	recs2 := []Record{{Kind: RecordSweepEnd, Sweep: Sweep{ID: 3, Table: TableExpect, Buckets: 9}},
		{Kind: RecordDigest, Digest: digest(TableExpect)}}
	for _, recs := range [][]Record{recs, recs2} {
		checkRaw(t, recs)
	}
}

func checkRaw(t *testing.T, recs []Record) {
	raw := rawOf(t, recs)
	size := 0
	for i := range recs {
		size += RecordSize(&recs[i])
	}
	if len(raw) != size {
		t.Fatalf("AppendRecord wrote %d octets, RecordSize says %d", len(raw), size)
	}
	for name, c := range codecs() {
		want, err := c.Marshal(&Message{Type: TypeUpdate, Boot: 7, Counter: 8, Seq: 9, Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		m := &Message{Type: TypeUpdate, Boot: 7, Counter: 8, Seq: 9, Raw: raw, RawCount: len(recs)}
		got, err := c.Marshal(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: raw update\n%x\nwant\n%x", name, got, want)
		}
		if c.Size(m) != len(want) {
			t.Errorf("%s: Size %d, want %d", name, c.Size(m), len(want))
		}
		dec, err := c.Unmarshal(got)
		if err != nil || !reflect.DeepEqual(dec.Records, recs) || dec.Raw != nil || dec.RawCount != 0 {
			t.Errorf("%s: decoded %+v, %v", name, dec, err)
		}
	}
	// ParseRecord walks the same octets back.
	rest := raw
	for i := range recs {
		var r Record
		n, err := ParseRecord(rest, &r)
		if err != nil || !reflect.DeepEqual(r, recs[i]) {
			t.Fatalf("ParseRecord %d: %+v, %v", i, r, err)
		}
		rest = rest[n:]
	}
	if len(rest) != 0 {
		t.Errorf("%d octets left after the last record", len(rest))
	}
}

func TestAppendRecordRefuses(t *testing.T) {
	e := tcp4()
	e.Reply.Proto = 17
	dst := []byte{1, 2, 3}
	got, err := AppendRecord(dst, &Record{Kind: RecordUpsert, Entry: e})
	if err == nil || !bytes.Equal(got, dst) || !strings.Contains(err.Error(), "protocol") {
		t.Errorf("AppendRecord of a bad entry: %x, %v; want dst unchanged and an error naming the protocol", got, err)
	}
	var r Record
	if n, err := ParseRecord([]byte{byte(RecordUpsert), 4}, &r); err == nil || n != 0 || ReasonOf(err) != DropTruncated {
		t.Errorf("ParseRecord of a truncated record: %d, %v", n, err)
	}
	if r != (Record{}) {
		t.Errorf("ParseRecord left %+v after an error", r)
	}
}

func TestMarshalRefusesBadRaw(t *testing.T) {
	raw := rawOf(t, []Record{upsert(tcp4())})
	c := NewCodec(nil)
	for name, m := range map[string]Message{
		"both":        {Type: TypeUpdate, Seq: 1, Records: []Record{upsert(tcp4())}, Raw: raw, RawCount: 1},
		"count short": {Type: TypeUpdate, Seq: 1, Raw: raw[:10], RawCount: 1},
		"no count":    {Type: TypeUpdate, Seq: 1, Raw: raw},
		"negative":    {Type: TypeUpdate, Seq: 1, Raw: raw, RawCount: -1},
		"not update":  {Type: TypeAck, Raw: raw, RawCount: 1},
		"too many":    {Type: TypeUpdate, Seq: 1, Raw: raw, RawCount: 1 << 16},
	} {
		if b, err := c.Marshal(&m); err == nil {
			t.Errorf("%s: marshalled %x", name, b)
		}
	}
}
