package packet

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current encoding")

var (
	src4   = netip.MustParseAddr("192.0.2.1")
	group4 = netip.MustParseAddr("224.0.0.18")
	peer4  = netip.MustParseAddr("192.0.2.2")
	src6   = netip.MustParseAddr("fe80::1")
	group6 = netip.MustParseAddr("ff02::12")
	vip4   = netip.MustParseAddr("10.9.9.9")
	vip4b  = netip.MustParseAddr("10.9.9.10")
	vip6   = netip.MustParseAddr("fe80::100")
	vip6b  = netip.MustParseAddr("2001:db8::100")
	secret = mustPassword("secret")
	addrs4 = []netip.Addr{vip4}
	addrs6 = []netip.Addr{vip6, vip6b}
	noopts = Options{}
	asV2   = Options{V3ChecksumAsV2: true}
)

func mustPassword(pw string) [AuthDataLen]byte {
	data, err := PasswordAuthData(pw)
	if err != nil {
		panic(err)
	}
	return data
}

// goldenCase is a representative advert and the IP endpoints it travels
// between; its encoding is kept in testdata/<name>.golden.
type goldenCase struct {
	name     string
	adv      Advertisement
	src, dst netip.Addr
	opts     Options
}

var goldenCases = []goldenCase{
	{"v2-none", Advertisement{Version: Version2, Type: TypeAdvertisement, VRID: 1, Priority: 100, AdvertInterval: 1, Addresses: []netip.Addr{vip4, vip4b}}, src4, group4, noopts},
	{"v2-password", Advertisement{Version: Version2, Type: TypeAdvertisement, VRID: 51, Priority: 150, AdvertInterval: 1, AuthType: AuthSimple, AuthData: secret, Addresses: addrs4}, src4, group4, noopts},
	{"v2-ah", Advertisement{Version: Version2, Type: TypeAdvertisement, VRID: 51, Priority: 150, AdvertInterval: 1, AuthType: AuthAH, Addresses: addrs4}, src4, group4, noopts},
	{"v2-resign", Advertisement{Version: Version2, Type: TypeAdvertisement, VRID: 99, Priority: 0, AdvertInterval: 3, Addresses: addrs4}, src4, group4, noopts},
	{"v3-ipv4", Advertisement{Version: Version3, Type: TypeAdvertisement, VRID: 51, Priority: 150, MaxAdvertInterval: 10, Addresses: addrs4}, src4, group4, noopts},
	{"v3-ipv4-as-v2", Advertisement{Version: Version3, Type: TypeAdvertisement, VRID: 51, Priority: 150, MaxAdvertInterval: 10, Addresses: addrs4}, src4, group4, asV2},
	{"v3-ipv4-unicast", Advertisement{Version: Version3, Type: TypeAdvertisement, VRID: 51, Priority: 150, MaxAdvertInterval: 100, Addresses: addrs4}, src4, peer4, noopts},
	{"v3-ipv6", Advertisement{Version: Version3, Type: TypeAdvertisement, VRID: 7, Priority: 255, MaxAdvertInterval: MaxAdvertInterval, Addresses: addrs6}, src6, group6, noopts},
}

// formatGolden writes one 32-bit word per line, the layout of the RFCs'
// packet diagrams, so a diff shows which field changed.
func formatGolden(b []byte) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		n := min(4, len(b))
		fmt.Fprintf(&out, "%s\n", hex.EncodeToString(b[:n]))
		b = b[n:]
	}
	return out.Bytes()
}

func readGolden(tb testing.TB, name string) []byte {
	tb.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", name+".golden"))
	if err != nil {
		tb.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(string(text)), ""))
	if err != nil {
		tb.Fatalf("golden file %s: %v", name, err)
	}
	return b
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Marshal(tc.adv, tc.src, tc.dst, tc.opts)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, formatGolden(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := readGolden(t, tc.name)
			if !bytes.Equal(got, want) {
				t.Fatalf("Marshal =\n%swant\n%s", formatGolden(got), formatGolden(want))
			}
			decoded, err := Unmarshal(want, tc.src, tc.dst, tc.opts)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			wantAdv := tc.adv
			wantAdv.Checksum = uint16(want[6])<<8 | uint16(want[7])
			if !reflect.DeepEqual(decoded, wantAdv) {
				t.Fatalf("Unmarshal = %+v, want %+v", decoded, wantAdv)
			}
		})
	}
}

// TestVR_B25_PasswordAdvertChecksumByHand pins the checksum to one computed
// without this package. The message of v2-password in 16-bit words:
//
//	2133 (version 2, type 1, VRID 51)   9601 (priority 150, 1 address)
//	0101 (auth type 1, interval 1)      0000 (checksum, zero for the sum)
//	0a09 0909 (10.9.9.9)                7365 6372 6574 0000 ("secret\0\0")
//
// Sum: 2133+9601+0101+0a09+0909+7365+6372+6574 = 0x20792; folded,
// 0x0792+0x2 = 0x0794; complemented, 0xf86b. The keepalived capture in
// keepalived_test.go checks the same advert against a live sender.
func TestVR_B25_PasswordAdvertChecksumByHand(t *testing.T) {
	b := readGolden(t, "v2-password")
	if got := uint16(b[6])<<8 | uint16(b[7]); got != 0xf86b {
		t.Fatalf("checksum %#04x, want 0xf86b", got)
	}
}

func TestOptionV3ChecksumAsV2OnlyAffectsIPv4(t *testing.T) {
	adv := Advertisement{Version: Version3, Type: TypeAdvertisement, VRID: 7, Priority: 100, MaxAdvertInterval: 100, Addresses: addrs6}
	plain, err := Marshal(adv, src6, group6, noopts)
	if err != nil {
		t.Fatal(err)
	}
	compat, err := Marshal(adv, src6, group6, asV2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, compat) {
		t.Fatalf("IPv6 encoding changed with V3ChecksumAsV2:\n%x\n%x", plain, compat)
	}
	if bytes.Equal(readGolden(t, "v3-ipv4"), readGolden(t, "v3-ipv4-as-v2")) {
		t.Fatal("IPv4 encoding did not change with V3ChecksumAsV2")
	}
	// As v2 means what it says: the same sum version 2 would compute.
	v4 := readGolden(t, "v3-ipv4-as-v2")
	if got, want := checksum(Version2, v4, src4, group4, noopts), uint16(v4[6])<<8|uint16(v4[7]); got != want {
		t.Fatalf("checksum as v2 = %#04x, version 2 sum = %#04x", want, got)
	}
}

func TestInterval(t *testing.T) {
	tests := []struct {
		adv  Advertisement
		want time.Duration
	}{
		{Advertisement{Version: Version2, AdvertInterval: 1}, time.Second},
		{Advertisement{Version: Version2, AdvertInterval: 255}, 255 * time.Second},
		{Advertisement{Version: Version3, MaxAdvertInterval: 10}, 100 * time.Millisecond},
		{Advertisement{Version: Version3, MaxAdvertInterval: 100}, time.Second},
	}
	for _, tc := range tests {
		if got := tc.adv.Interval(); got != tc.want {
			t.Errorf("%+v.Interval() = %v, want %v", tc.adv, got, tc.want)
		}
	}
}

func TestPasswordAuthData(t *testing.T) {
	tests := []struct {
		password string
		want     [AuthDataLen]byte
		wantErr  bool
	}{
		{"secret", [AuthDataLen]byte{'s', 'e', 'c', 'r', 'e', 't'}, false},
		{"12345678", [AuthDataLen]byte{'1', '2', '3', '4', '5', '6', '7', '8'}, false},
		{"", [AuthDataLen]byte{}, true},
		{"123456789", [AuthDataLen]byte{}, true},
	}
	for _, tc := range tests {
		got, err := PasswordAuthData(tc.password)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("PasswordAuthData(%q) = %q, %v; want %q, error %v", tc.password, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestMarshalRejects(t *testing.T) {
	v2 := Advertisement{Version: Version2, Type: TypeAdvertisement, VRID: 1, Priority: 100, AdvertInterval: 1, Addresses: addrs4}
	v3 := Advertisement{Version: Version3, Type: TypeAdvertisement, VRID: 1, Priority: 100, MaxAdvertInterval: 100, Addresses: addrs4}
	with := func(adv Advertisement, change func(*Advertisement)) Advertisement {
		change(&adv)
		return adv
	}
	tooMany := make([]netip.Addr, 256)
	for i := range tooMany {
		tooMany[i] = vip4
	}
	tests := []struct {
		name     string
		adv      Advertisement
		src, dst netip.Addr
	}{
		{"version 1", with(v2, func(a *Advertisement) { a.Version = 1 }), src4, group4},
		{"type 2", with(v2, func(a *Advertisement) { a.Type = 2 }), src4, group4},
		{"v2 over IPv6", with(v2, func(a *Advertisement) { a.Addresses = addrs6 }), src6, group6},
		{"v2 with v3 interval", with(v2, func(a *Advertisement) { a.MaxAdvertInterval = 100 }), src4, group4},
		{"v2 unknown auth type", with(v2, func(a *Advertisement) { a.AuthType = 3 }), src4, group4},
		{"v3 with auth type", with(v3, func(a *Advertisement) { a.AuthType = AuthSimple }), src4, group4},
		{"v3 with auth data", with(v3, func(a *Advertisement) { a.AuthData = secret }), src4, group4},
		{"v3 with v2 interval", with(v3, func(a *Advertisement) { a.AdvertInterval = 1 }), src4, group4},
		{"v3 interval over 12 bits", with(v3, func(a *Advertisement) { a.MaxAdvertInterval = 4096 }), src4, group4},
		{"mixed families", with(v3, func(a *Advertisement) { a.Addresses = []netip.Addr{vip4, vip6} }), src4, group4},
		{"IPv6 VIP over IPv4", with(v3, func(a *Advertisement) { a.Addresses = addrs6 }), src4, group4},
		{"IPv4 VIP over IPv6", v3, src6, group6},
		{"IPv4-mapped VIP", with(v3, func(a *Advertisement) { a.Addresses = []netip.Addr{netip.AddrFrom16(vip4.As16())} }), src6, group6},
		{"256 addresses", with(v2, func(a *Advertisement) { a.Addresses = tooMany }), src4, group4},
		{"mixed endpoints", v3, src4, group6},
		{"no source", v3, netip.Addr{}, group4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if b, err := Marshal(tc.adv, tc.src, tc.dst, noopts); err == nil {
				t.Fatalf("Marshal = %x, want an error", b)
			}
		})
	}
}

// corrupt returns a copy of b with change applied and, unless the change is
// to the checksum itself, the checksum recomputed, so that the check under
// test is the one that fails.
func corrupt(b []byte, v Version, src, dst netip.Addr, opts Options, fixSum bool, change func([]byte) []byte) []byte {
	c := change(bytes.Clone(b))
	if fixSum && len(c) >= headerLen {
		sum := checksum(v, c, src, dst, opts)
		c[6], c[7] = byte(sum>>8), byte(sum)
	}
	return c
}

func TestUnmarshalDrops(t *testing.T) {
	v2 := readGolden(t, "v2-password")
	v3 := readGolden(t, "v3-ipv4")
	v6 := readGolden(t, "v3-ipv6")
	tests := []struct {
		name     string
		payload  []byte
		src, dst netip.Addr
		opts     Options
		want     DropReason
	}{
		{"VR_B21 empty", nil, src4, group4, noopts, DropLength},
		{"VR_B21 shorter than header", v2[:7], src4, group4, noopts, DropLength},
		{"VR_B21 v2 without auth data", corrupt(v2, 2, src4, group4, noopts, true, func(b []byte) []byte { return b[:len(b)-AuthDataLen] }), src4, group4, noopts, DropLength},
		{"VR_B21 count says 2, carries 1", corrupt(v2, 2, src4, group4, noopts, true, func(b []byte) []byte { b[3] = 2; return b }), src4, group4, noopts, DropLength},
		{"VR_B21 count says 0, carries 1", corrupt(v3, 3, src4, group4, noopts, true, func(b []byte) []byte { b[3] = 0; return b }), src4, group4, noopts, DropLength},
		{"VR_B21 trailing octet", corrupt(v3, 3, src4, group4, noopts, true, func(b []byte) []byte { return append(b, 0) }), src4, group4, noopts, DropLength},
		{"VR_B21 IPv6 address cut", corrupt(v6, 3, src6, group6, noopts, true, func(b []byte) []byte { return b[:len(b)-1] }), src6, group6, noopts, DropLength},
		{"VR_B21 version 1", corrupt(v2, 2, src4, group4, noopts, true, func(b []byte) []byte { b[0] = 0x11; return b }), src4, group4, noopts, DropVersion},
		{"VR_B21 version 4", corrupt(v3, 3, src4, group4, noopts, true, func(b []byte) []byte { b[0] = 0x41; return b }), src4, group4, noopts, DropVersion},
		{"VR_B21 version 2 over IPv6", corrupt(v6, 3, src6, group6, noopts, true, func(b []byte) []byte { b[0] = 0x21; return b }), src6, group6, noopts, DropVersion},
		{"VR_B21 type 0", corrupt(v2, 2, src4, group4, noopts, true, func(b []byte) []byte { b[0] = 0x20; return b }), src4, group4, noopts, DropType},
		{"VR_B21 type 2", corrupt(v3, 3, src4, group4, noopts, true, func(b []byte) []byte { b[0] = 0x32; return b }), src4, group4, noopts, DropType},
		{"VR_B21 v2 checksum", corrupt(v2, 2, src4, group4, noopts, false, func(b []byte) []byte { b[7]++; return b }), src4, group4, noopts, DropChecksum},
		{"VR_B21 v2 flipped password bit", corrupt(v2, 2, src4, group4, noopts, false, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), src4, group4, noopts, DropChecksum},
		{"VR_B21 v3 IPv4 other destination", v3, src4, peer4, noopts, DropChecksum},
		{"VR_B21 v3 IPv4 other source", v3, peer4, group4, noopts, DropChecksum},
		{"VR_B21 v3 IPv4 pseudo-header sum, receiver as v2", v3, src4, group4, asV2, DropChecksum},
		{"VR_B21 v3 IPv4 message-only sum, receiver with pseudo-header", readGolden(t, "v3-ipv4-as-v2"), src4, group4, noopts, DropChecksum},
		{"VR_B21 v3 IPv6 other source", v6, netip.MustParseAddr("fe80::2"), group6, noopts, DropChecksum},
		{"VR_B23 auth type 3", corrupt(v2, 2, src4, group4, noopts, true, func(b []byte) []byte { b[4] = 3; return b }), src4, group4, noopts, DropAuthUnknown},
		{"VR_B23 auth type 255", corrupt(v2, 2, src4, group4, noopts, true, func(b []byte) []byte { b[4] = 255; return b }), src4, group4, noopts, DropAuthUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			adv, err := Unmarshal(tc.payload, tc.src, tc.dst, tc.opts)
			if got := ReasonOf(err); got != tc.want {
				t.Fatalf("Unmarshal(%x) = %+v, %v; want drop reason %v", tc.payload, adv, err, tc.want)
			}
		})
	}
}

func TestUnmarshalAccepts(t *testing.T) {
	v3 := readGolden(t, "v3-ipv4")
	tests := []struct {
		name    string
		payload []byte
		check   func(Advertisement) bool
	}{
		// Reserved bits are ignored on reception (RFC 5798 §5.2.7).
		{"v3 reserved bits set", corrupt(v3, 3, src4, group4, noopts, true, func(b []byte) []byte { b[4] |= 0xf0; return b }),
			func(a Advertisement) bool { return a.MaxAdvertInterval == 10 }},
		{"v3 without addresses", corrupt(v3, 3, src4, group4, noopts, true, func(b []byte) []byte { b[3] = 0; return b[:headerLen] }),
			func(a Advertisement) bool { return a.Addresses == nil }},
		// Priority 0 is a master resigning, to be acted upon, not dropped.
		{"VR_B21 priority 0", corrupt(v3, 3, src4, group4, noopts, true, func(b []byte) []byte { b[2] = 0; return b }),
			func(a Advertisement) bool { return a.Priority == 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			adv, err := Unmarshal(tc.payload, src4, group4, noopts)
			if err != nil || !tc.check(adv) {
				t.Fatalf("Unmarshal(%x) = %+v, %v", tc.payload, adv, err)
			}
		})
	}
}

func TestUnmarshalRejectsBadEndpoints(t *testing.T) {
	v3 := readGolden(t, "v3-ipv4")
	for _, ep := range [][2]netip.Addr{{src4, group6}, {{}, group4}, {src4, {}}, {netip.AddrFrom16(src4.As16()), group6}} {
		_, err := Unmarshal(v3, ep[0], ep[1], noopts)
		if err == nil || ReasonOf(err) != DropNone {
			t.Errorf("Unmarshal from %v to %v: error %v, want a caller error that is no drop", ep[0], ep[1], err)
		}
	}
}

func TestVR_B21_CheckHopLimit(t *testing.T) {
	for ttl, want := range map[int]DropReason{255: DropNone, 254: DropHopLimit, 1: DropHopLimit, 0: DropHopLimit, 256: DropHopLimit} {
		if got := CheckHopLimit(ttl); got != want {
			t.Errorf("CheckHopLimit(%d) = %v, want %v", ttl, got, want)
		}
	}
}

func TestExpectCheck(t *testing.T) {
	group := Expect{VRID: 51, Version: Version2, AuthType: AuthSimple, AuthData: secret, AdvertInterval: 1, Addresses: addrs4}
	owner := group
	owner.Owner = true
	ah := group
	ah.AuthType, ah.AuthData = AuthAH, [AuthDataLen]byte{}
	v3 := Expect{VRID: 51, Version: Version3, AuthType: AuthNone, Addresses: addrs4}

	advert := Advertisement{Version: Version2, Type: TypeAdvertisement, VRID: 51, Priority: 150, AuthType: AuthSimple, AuthData: secret, AdvertInterval: 1, Addresses: addrs4}
	with := func(change func(*Advertisement)) Advertisement {
		adv := advert
		change(&adv)
		return adv
	}
	v3advert := Advertisement{Version: Version3, Type: TypeAdvertisement, VRID: 51, Priority: 150, MaxAdvertInterval: 100, Addresses: addrs4}

	tests := []struct {
		name   string
		expect Expect
		adv    Advertisement
		want   DropReason
	}{
		{"matching", group, advert, DropNone},
		{"VR_B21 priority 0 is no drop", group, with(func(a *Advertisement) { a.Priority = 0 }), DropNone},
		{"VR_B24 other VRID", group, with(func(a *Advertisement) { a.VRID = 52 }), DropVRID},
		{"VR_B21 other version", v3, advert, DropVersion},
		{"VR_B23 no auth, group has password", group, with(func(a *Advertisement) { a.AuthType, a.AuthData = AuthNone, [AuthDataLen]byte{} }), DropAuthTypeMismatch},
		{"VR_B23 AH, group has password", group, with(func(a *Advertisement) { a.AuthType = AuthAH }), DropAuthTypeMismatch},
		{"VR_B25 wrong password", group, with(func(a *Advertisement) { a.AuthData = mustPassword("secreT") }), DropAuthFailure},
		{"VR_B25 password prefix", group, with(func(a *Advertisement) { a.AuthData = mustPassword("secre") }), DropAuthFailure},
		{"VR_B26 AH compares the type only", ah, with(func(a *Advertisement) { a.AuthType = AuthAH }), DropNone},
		{"VR_B21 other interval", group, with(func(a *Advertisement) { a.AdvertInterval = 2 }), DropInterval},
		{"VR_B22 other addresses, not owner", group, with(func(a *Advertisement) { a.Addresses = []netip.Addr{vip4b} }), DropNone},
		{"VR_B22 other addresses, owner", owner, with(func(a *Advertisement) { a.Addresses = []netip.Addr{vip4b} }), DropAddressList},
		{"VR_B22 same addresses, owner", owner, advert, DropNone},
		{"v3 other interval is adopted, not dropped", v3, v3advert, DropNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.expect.Check(tc.adv); got != tc.want {
				t.Fatalf("Check = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVR_B22_SameAddresses(t *testing.T) {
	zoned := netip.MustParseAddr("fe80::100%eth0")
	tests := []struct {
		a, b []netip.Addr
		want bool
	}{
		{nil, nil, true},
		{addrs4, addrs4, true},
		{[]netip.Addr{vip4, vip4b}, []netip.Addr{vip4b, vip4}, true},
		{[]netip.Addr{vip4, vip4}, []netip.Addr{vip4}, true},
		{[]netip.Addr{zoned}, []netip.Addr{vip6}, true},
		{addrs4, nil, false},
		{[]netip.Addr{vip4, vip4b}, []netip.Addr{vip4}, false},
		{[]netip.Addr{vip4}, []netip.Addr{vip4b}, false},
		{[]netip.Addr{vip4}, []netip.Addr{netip.AddrFrom16(vip4.As16())}, false},
	}
	for _, tc := range tests {
		if got := SameAddresses(tc.a, tc.b); got != tc.want {
			t.Errorf("SameAddresses(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestDropReasonStrings(t *testing.T) {
	seen := map[string]DropReason{}
	for r := DropNone; r <= DropVRID; r++ {
		s := r.String()
		if s == "" || strings.HasPrefix(s, "drop-reason(") {
			t.Errorf("DropReason(%d) has no name", r)
		}
		if other, dup := seen[s]; dup {
			t.Errorf("%v and %v are both named %q", uint8(other), uint8(r), s)
		}
		seen[s] = r
	}
	if got := DropReason(200).String(); got != "drop-reason(200)" {
		t.Errorf("unknown reason prints %q", got)
	}
}
