package wire

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
)

// FuzzUnmarshal (CS-B21) feeds arbitrary datagrams to both codecs. Neither
// may panic; every refusal carries a drop reason and leaves no record
// behind; whatever is accepted must be exactly what Marshal makes of the
// decoded message (one encoding per message: no octet goes unchecked, and
// the MAC covers everything that means something), must decode again to
// the same message, and RecordSize must account for every octet. With
// resign set, the fuzzer's datagram is first given the authenticated flag
// and a correct MAC, so that the checks behind the MAC are explored too.
func FuzzUnmarshal(f *testing.F) {
	plain, secret := NewCodec(nil), NewCodec(testSecret)
	rng := rand.New(rand.NewPCG(3, 4))
	seeds := []Message{}
	for _, g := range goldenMessages {
		seeds = append(seeds, g.m)
	}
	seeds = append(seeds,
		Message{Type: TypeUpdate, Seq: 1, Records: []Record{upsert(icmp6()), upsert(sctp4()), upsert(gre4()), upsert(ftpControl())}},
		Message{Type: TypeUpdate, Seq: 2, Records: []Record{expectUpsert(ftpData()), expectUpsert(natExpect()), expectDeleteOf(natExpect())}},
		Message{Type: TypeUpdate, Seq: 3, Records: []Record{{Kind: RecordSweepBegin, Sweep: Sweep{ID: 9, Buckets: 5}}, {Kind: RecordDigest, Digest: digest(TableExpect)}}},
	)
	for range 8 {
		m := Message{Type: TypeUpdate, Seq: rng.Uint32() | 1}
		for range 1 + rng.IntN(6) {
			m.Records = append(m.Records, randRecord(rng))
		}
		if plain.Size(&m) <= MaxDatagram {
			seeds = append(seeds, m)
		}
	}
	for _, m := range seeds {
		b, err := plain.Marshal(&m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add([]byte("hact\x01\x01\x01\x00"), false)
	f.Fuzz(func(t *testing.T, b []byte, resign bool) {
		codec := plain
		if resign {
			codec = secret
			b = bytes.Clone(b)
			if len(b) > 6 {
				b[6] |= FlagAuthenticated
			}
			b = secret.appendMAC(b, b)
		}
		m := &Message{Records: make([]Record, 0, 2)}
		err := codec.UnmarshalInto(b, m)
		if err != nil {
			if ReasonOf(err) == DropNone {
				t.Fatalf("UnmarshalInto(%x): %v, with no drop reason", b, err)
			}
			if m.Type != 0 || len(m.Records) != 0 {
				t.Fatalf("UnmarshalInto(%x) dropped (%v) but left %+v", b, err, m)
			}
			return
		}
		again, err := codec.Marshal(m)
		if err != nil {
			t.Fatalf("UnmarshalInto(%x) = %+v, which Marshal refuses: %v", b, m, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("UnmarshalInto(%x) accepted octets Marshal would not write: %x", b, again)
		}
		if codec.Size(m) != len(b) {
			t.Fatalf("Size %d, datagram %d", codec.Size(m), len(b))
		}
		if m.Type == TypeUpdate {
			// The records kept encoded, as a sender's queue holds them,
			// make the same datagram.
			raw := &Message{Type: m.Type, Boot: m.Boot, Counter: m.Counter, Seq: m.Seq, Raw: rawOf(t, m.Records), RawCount: len(m.Records)}
			if again, err := codec.Marshal(raw); err != nil || !bytes.Equal(again, b) {
				t.Fatalf("the same update from Raw: %x, %v; want %x", again, err, b)
			}
		}
		if len(m.Records) == 0 {
			m.Records = nil // as Unmarshal leaves it
		}
		m2, err := codec.Unmarshal(again)
		if err != nil || !reflect.DeepEqual(m2, m) {
			t.Fatalf("round trip of %+v: %+v, %v", m, m2, err)
		}
		other := plain
		if !resign {
			other = secret
		}
		if _, err := other.Unmarshal(b); ReasonOf(err) == DropNone {
			t.Fatalf("%x accepted by both the plain and the authenticated codec", b)
		}
	})
}
