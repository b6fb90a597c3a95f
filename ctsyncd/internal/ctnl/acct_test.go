package ctnl

import (
	"encoding/binary"
	"testing"
)

// attr encodes one netlink attribute, padded to 4 octets.
func attr(typ uint16, v []byte) []byte {
	b := make([]byte, 4, 4+len(v)+3)
	binary.LittleEndian.PutUint16(b, uint16(4+len(v)))
	binary.LittleEndian.PutUint16(b[2:], typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// CS-O03 "traffic processed": both directions' counters of a destroy
// event add up, 64-bit and 32-bit alike; garbage counts nothing.
func TestDecodeAcct(t *testing.T) {
	nfgen := make([]byte, nfgenLen)
	orig := attr(ctaCountersOrig|attrNested, append(attr(ctaCountersPackets, u64(3)), attr(ctaCountersBytes, u64(300))...))
	reply := attr(ctaCountersReply|attrNested, append(attr(ctaCountersPackets32, binary.BigEndian.AppendUint32(nil, 2)),
		attr(ctaCountersBytes32, binary.BigEndian.AppendUint32(nil, 1200))...))
	tests := []struct {
		name    string
		payload []byte
		want    Acct
	}{
		{"both directions", append(append(append([]byte{}, nfgen...), orig...), reply...), Acct{Bytes: 1500, Packets: 5}},
		{"no accounting", nfgen, Acct{}},
		{"truncated header", []byte{1}, Acct{}},
		{"short counter ignored", append(append([]byte{}, nfgen...), attr(ctaCountersOrig|attrNested, attr(ctaCountersBytes, []byte{1, 2}))...), Acct{}},
		{"partial attribute stops", append(append(append([]byte{}, nfgen...), orig...), 0xff, 0xff), Acct{Bytes: 300, Packets: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DecodeAcct(tt.payload); got != tt.want {
				t.Errorf("DecodeAcct = %+v, want %+v", got, tt.want)
			}
		})
	}
}
