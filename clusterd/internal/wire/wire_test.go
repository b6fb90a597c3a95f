package wire

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func mustKey(t testing.TB, secret, group string) Key {
	t.Helper()
	k, err := DeriveKey(secret, group)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sample is the message of the golden file: every field set, with values
// whose octets are easy to find in a dump.
func sample() Message {
	m := Message{
		Type:              TypeHeartbeat,
		Flags:             FlagHoldsResources,
		Role:              RolePrimary,
		Group:             "cluster1",
		Node:              "R1",
		Seq:               0x0102030405060708,
		HeldFor:           90 * time.Second,
		MonitorsReachable: 1,
		MonitorsTotal:     2,
		Interface:         "eth0",
	}
	for i := range m.UID {
		m.UID[i] = 0xa0 + byte(i)
		m.BootID[i] = 0xb0 + byte(i)
	}
	for i := range m.ConfigHash {
		m.ConfigHash[i] = 0xc0 + byte(i)
	}
	return m
}

func sampleKey(t testing.TB) Key { return mustKey(t, "!secret!", "cluster1") }

// hexDump renders a message in rows of 16 octets, offsets on the left, the
// form docs/clusterd-wire.md shows.
func hexDump(b []byte) string {
	var sb strings.Builder
	for off := 0; off < len(b); off += 16 {
		end := min(off+16, len(b))
		sb.WriteString(strings.ToUpper(hex.EncodeToString([]byte{byte(off >> 8), byte(off)})))
		sb.WriteString(" ")
		for _, c := range b[off:end] {
			sb.WriteString(" " + hex.EncodeToString([]byte{c}))
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

func golden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update if the change is intended):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestCL_B06GoldenHeartbeat pins the encoding of a heartbeat octet by
// octet, MAC included (so the key derivation is pinned too); the dump is
// the one docs/clusterd-wire.md explains.
func TestCL_B06GoldenHeartbeat(t *testing.T) {
	b, err := Marshal(sample(), sampleKey(t))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "heartbeat.golden", hexDump(b))
	if len(b) != headerLen+1+8+1+2+1+4+MACLen {
		t.Errorf("length %d, want %d", len(b), headerLen+1+8+1+2+1+4+MACLen)
	}
}

func TestRoundTrip(t *testing.T) {
	key := sampleKey(t)
	longName := strings.Repeat("n", MaxNodeLen)
	tests := []struct {
		name string
		edit func(*Message)
	}{
		{"sample", func(*Message) {}},
		{"leaving, not holding", func(m *Message) {
			m.Type, m.Flags, m.HeldFor = TypeLeaving, 0, 0
		}},
		{"secondary, failed resources", func(m *Message) {
			m.Role, m.Flags, m.HeldFor = RoleSecondary, FlagResourcesFailed, 0
		}},
		{"unknown flag bits are carried", func(m *Message) { m.Flags |= 0x8000 }},
		{"longest strings", func(m *Message) {
			m.Group, m.Node, m.Interface = strings.Repeat("g", MaxGroupLen), longName, "abcdefghijklmno"
		}},
		{"UTF-8 node name", func(m *Message) { m.Node = "routeur-é" }},
		{"largest values", func(m *Message) {
			m.Seq, m.MonitorsReachable, m.MonitorsTotal = ^uint64(0), 65535, 65535
			m.HeldFor = time.Duration(maxHeldForMs) * time.Millisecond
		}},
		{"no monitors", func(m *Message) { m.MonitorsReachable, m.MonitorsTotal = 0, 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := sample()
			tc.edit(&m)
			b, err := Marshal(m, key)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < MinLen || len(b) > MaxLen {
				t.Errorf("length %d outside [%d, %d]", len(b), MinLen, MaxLen)
			}
			got, err := Unmarshal(b, key)
			if err != nil {
				t.Fatal(err)
			}
			if got != m {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, m)
			}
		})
	}
}

// TestHeldForMilliseconds: the duration travels in whole milliseconds,
// truncated.
func TestHeldForMilliseconds(t *testing.T) {
	key := sampleKey(t)
	m := sample()
	m.HeldFor = 1500*time.Millisecond + 999*time.Microsecond
	b, err := Marshal(m, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b, key)
	if err != nil {
		t.Fatal(err)
	}
	if got.HeldFor != 1500*time.Millisecond {
		t.Errorf("held for %v, want 1.5s", got.HeldFor)
	}
}

func TestMarshalRejects(t *testing.T) {
	key := sampleKey(t)
	tests := []struct {
		name string
		edit func(*Message)
		want string
	}{
		{"type", func(m *Message) { m.Type = 3 }, "message type 3"},
		{"role", func(m *Message) { m.Role = 0 }, "role 0"},
		{"monitors", func(m *Message) { m.MonitorsReachable = 3 }, "3 of 2 monitors"},
		{"negative held", func(m *Message) { m.HeldFor = -time.Second }, "must not be negative"},
		{"held without flag", func(m *Message) { m.Flags = 0 }, "without FlagHoldsResources"},
		{"empty group", func(m *Message) { m.Group = "" }, "group name of 0 octets"},
		{"long group", func(m *Message) { m.Group = strings.Repeat("g", 65) }, "group name of 65 octets"},
		{"group charset", func(m *Message) { m.Group = "a b" }, "is not one of"},
		{"empty node", func(m *Message) { m.Node = "" }, "node name of 0 octets"},
		{"long node", func(m *Message) { m.Node = strings.Repeat("n", 256) }, "node name of 256 octets"},
		{"node control", func(m *Message) { m.Node = "R1\n" }, "control character"},
		{"node not UTF-8", func(m *Message) { m.Node = "R\xff" }, "not UTF-8"},
		{"empty interface", func(m *Message) { m.Interface = "" }, "interface name of 0 octets"},
		{"long interface", func(m *Message) { m.Interface = "abcdefghijklmnop" }, "interface name of 16 octets"},
		{"interface slash", func(m *Message) { m.Interface = "eth/0" }, "device names cannot"},
		{"interface dot", func(m *Message) { m.Interface = ".." }, "not a device name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := sample()
			tc.edit(&m)
			_, err := Marshal(m, key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Marshal error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := Marshal(sample(), Key{}); err != ErrNoKey {
		t.Errorf("Marshal with the zero key: %v, want ErrNoKey", err)
	}
	if _, err := Unmarshal(nil, Key{}); err != ErrNoKey {
		t.Errorf("Unmarshal with the zero key: %v, want ErrNoKey", err)
	}
}

// resign recomputes the MAC of a tampered message, so that a test reaches
// the check behind the MAC.
func resign(b []byte, key Key) []byte {
	body := b[:len(b)-MACLen]
	return append(bytes.Clone(body), key.mac(body)...)
}

// TestCL_B05UnmarshalDrops tampers with a valid message and checks the drop
// reason and its detail.
func TestCL_B05UnmarshalDrops(t *testing.T) {
	key := sampleKey(t)
	valid, err := Marshal(sample(), key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		edit   func([]byte) []byte
		reason DropReason
		detail string
	}{
		{"empty", func([]byte) []byte { return nil }, DropMalformed, "0 octets"},
		{"magic only", func(b []byte) []byte { return b[:4] }, DropMalformed, "shorter than magic"},
		{"Linux-HA heartbeat", func([]byte) []byte { return []byte(">>>\nt=status\nst=active\n<<<\n") }, DropNotHeartbeat, "magic 3e3e3e0a"},
		{"version 2", func(b []byte) []byte { b[4] = 2; return b }, DropVersion, "version 2"},
		{"truncated", func(b []byte) []byte { return b[:MinLen-1] }, DropMalformed, "at least"},
		{"too long", func(b []byte) []byte { return append(b, make([]byte, MaxLen)...) }, DropMalformed, "at most"},
		{"MAC cut short", func(b []byte) []byte { return b[:len(b)-1] }, DropMalformed, "overruns"},
		{"reserved octet", func(b []byte) []byte { b[9] = 1; return resign(b, key) }, DropMalformed, "reserved octet 9"},
		{"type", func(b []byte) []byte { b[5] = 9; return resign(b, key) }, DropMalformed, "message type 9"},
		{"role", func(b []byte) []byte { b[8] = 3; return resign(b, key) }, DropMalformed, "role 3"},
		{"monitors", func(b []byte) []byte { b[11] = 9; return resign(b, key) }, DropMalformed, "9 of 2 monitors"},
		{"held for overflow", func(b []byte) []byte {
			copy(b[54:62], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
			return resign(b, key)
		}, DropMalformed, "beyond what a duration holds"},
		{"group overruns", func(b []byte) []byte { b[headerLen] = 200; return resign(b, key) }, DropMalformed, "group name of 200 octets overruns"},
		{"empty group", func(b []byte) []byte {
			// A zero length shifts the rest: the node name's length
			// octet becomes the group's content.
			b[headerLen] = 0
			return resign(b, key)
		}, DropMalformed, "node name of 99 octets overruns"},
		{"trailing octets", func(b []byte) []byte {
			body := append(bytes.Clone(b[:len(b)-MACLen]), 0)
			return append(body, key.mac(body)...)
		}, DropMalformed, "1 octets between"},
		{"bad MAC", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, DropBadMAC, "MAC does not match"},
		{"changed field, old MAC", func(b []byte) []byte { b[8] = byte(RoleSecondary); return b }, DropBadMAC, "MAC does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Unmarshal(tc.edit(bytes.Clone(valid)), key)
			if got := ReasonOf(err); got != tc.reason {
				t.Fatalf("Unmarshal: %v, want reason %v", err, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("Unmarshal: %v, want detail %q", err, tc.detail)
			}
		})
	}
}

// TestCL_B05EveryBitFlipRejected: flipping any single bit of a valid
// heartbeat makes it fail, whichever field the bit is in.
func TestCL_B05EveryBitFlipRejected(t *testing.T) {
	key := sampleKey(t)
	valid, err := Marshal(sample(), key)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(valid) * 8 {
		b := bytes.Clone(valid)
		b[i/8] ^= 1 << (i % 8)
		if m, err := Unmarshal(b, key); err == nil {
			t.Fatalf("bit %d flipped: accepted %+v", i, m)
		}
	}
}

// TestCL_Q11KeySeparation: the key depends on both the secret and the
// group; a heartbeat verifies under its own key only.
func TestCL_Q11KeySeparation(t *testing.T) {
	key := sampleKey(t)
	b, err := Marshal(sample(), key)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []Key{
		mustKey(t, "!secret?", "cluster1"),
		mustKey(t, "!secret!", "cluster2"),
	} {
		if other.Equal(key) {
			t.Fatalf("keys %v and %v equal", other, key)
		}
		if _, err := Unmarshal(b, other); ReasonOf(err) != DropBadMAC {
			t.Errorf("Unmarshal under another key: %v, want bad_mac", err)
		}
	}
	if !mustKey(t, "!secret!", "cluster1").Equal(key) {
		t.Error("DeriveKey is not deterministic")
	}
	if _, err := DeriveKey("", "cluster1"); err == nil {
		t.Error("DeriveKey accepted an empty secret")
	}
	if _, err := DeriveKey("s", "a b"); err == nil {
		t.Error("DeriveKey accepted a bad group name")
	}
	if s := key.String(); strings.Contains(s, hex.EncodeToString(key.k[:4])) {
		t.Errorf("Key.String() = %q shows the key", s)
	}
}

func TestDropReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range DropReasons() {
		name := r.String()
		if seen[name] || strings.HasPrefix(name, "drop_reason_") || name == "none" {
			t.Errorf("reason %d has name %q: want a unique counter name", r, name)
		}
		seen[name] = true
	}
	if len(seen) != int(numDropReasons)-1 {
		t.Errorf("%d names for %d reasons", len(seen), numDropReasons-1)
	}
}

func TestUIDString(t *testing.T) {
	u := NewUID()
	got, err := ParseUID(u.String())
	if err != nil || got != u {
		t.Errorf("ParseUID(%q) = %v, %v", u, got, err)
	}
	if _, err := ParseUID("abc"); err == nil {
		t.Error("ParseUID accepted 3 digits")
	}
	if boot1, boot2 := NewBootID(), NewBootID(); NewUID() == u || boot1 == boot2 {
		t.Error("random ids repeat")
	}
}
