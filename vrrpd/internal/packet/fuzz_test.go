package packet

import (
	"net/netip"
	"reflect"
	"testing"
)

// FuzzUnmarshal feeds arbitrary payloads to Unmarshal, over either family
// and with either checksum option. It must never panic, and whatever it
// accepts must encode and decode again to an equal advert, so a decoded
// advert loses nothing a re-sent one would need.
func FuzzUnmarshal(f *testing.F) {
	for _, tc := range goldenCases {
		f.Add(readGolden(f, tc.name), tc.src.Is6(), tc.opts.V3ChecksumAsV2, tc.dst == peer4)
	}
	f.Fuzz(func(t *testing.T, payload []byte, overIPv6, asV2, unicast bool) {
		src, dst := src4, group4
		if unicast {
			dst = peer4
		}
		if overIPv6 {
			src, dst = src6, group6
			if unicast {
				dst = netip.MustParseAddr("fe80::2")
			}
		}
		opts := Options{V3ChecksumAsV2: asV2}
		adv, err := Unmarshal(payload, src, dst, opts)
		if err != nil {
			if ReasonOf(err) == DropNone {
				t.Fatalf("Unmarshal(%x) failed with no drop reason: %v", payload, err)
			}
			return
		}
		again, err := Marshal(adv, src, dst, opts)
		if err != nil {
			t.Fatalf("Unmarshal(%x) = %+v, which Marshal rejects: %v", payload, adv, err)
		}
		decoded, err := Unmarshal(again, src, dst, opts)
		if err != nil {
			t.Fatalf("Marshal(%+v) = %x, which Unmarshal rejects: %v", adv, again, err)
		}
		// Reserved bits, ignored on reception, are the only octets that
		// may differ, and with them the checksum.
		adv.Checksum, decoded.Checksum = 0, 0
		if !reflect.DeepEqual(adv, decoded) {
			t.Fatalf("decoded %+v, re-encoded and decoded %+v", adv, decoded)
		}
	})
}
