package wire

import (
	"bytes"
	"testing"
)

// FuzzUnmarshal feeds arbitrary datagrams to Unmarshal and to a Verifier.
// Neither may panic; every refusal carries a drop reason; and whatever
// Unmarshal accepts must be exactly what Marshal makes of the decoded
// message under the same key, so the MAC covers every octet accepted, and
// must fail under any other key. With resign set the fuzzer's datagram gets
// a correct MAC first, so that the checks behind the MAC are explored too.
func FuzzUnmarshal(f *testing.F) {
	key := sampleKey(f)
	other := mustKey(f, "!secret!", "cluster2")
	for _, edit := range []func(*Message){
		func(*Message) {},
		func(m *Message) { m.Type, m.Flags, m.HeldFor = TypeLeaving, FlagResourcesFailed, 0 },
		func(m *Message) { m.Node, m.Role = "R1", RoleSecondary },
	} {
		m := sample()
		edit(&m)
		b, err := Marshal(m, key)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b[:len(b)-MACLen], true)
	}
	f.Add([]byte("hacl\x01"), true)
	f.Fuzz(func(t *testing.T, b []byte, resign bool) {
		if resign {
			b = append(bytes.Clone(b), key.mac(b)...)
		}
		m, err := Unmarshal(b, key)
		if err != nil {
			if ReasonOf(err) == DropNone {
				t.Fatalf("Unmarshal(%x): %v, with no drop reason", b, err)
			}
		} else {
			again, err := Marshal(m, key)
			if err != nil {
				t.Fatalf("Unmarshal(%x) = %+v, which Marshal rejects: %v", b, m, err)
			}
			if !bytes.Equal(again, b) {
				t.Fatalf("Unmarshal(%x) accepted octets Marshal would not write: %x", b, again)
			}
			if _, err := Unmarshal(b, other); ReasonOf(err) != DropBadMAC {
				t.Fatalf("Unmarshal(%x) under another key: %v, want bad_mac", b, err)
			}
		}
		v, verr := NewVerifier(VerifierConfig{Key: key, Group: "cluster1", Self: "R2", SelfUID: UID{9}, Peer: "R1"})
		if verr != nil {
			t.Fatal(verr)
		}
		a, err := v.Check(b)
		if err != nil {
			if ReasonOf(err) == DropNone {
				t.Fatalf("Check(%x): %v, with no drop reason", b, err)
			}
			if v.Drops().Total() != 1 {
				t.Fatalf("Check(%x) dropped, counters %v", b, v.Drops())
			}
			return
		}
		if m2, err := Unmarshal(b, key); err != nil || m2 != a.Message {
			t.Fatalf("Check(%x) accepted %+v, Unmarshal says %+v, %v", b, a.Message, m2, err)
		}
	})
}
