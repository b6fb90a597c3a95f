package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"testing"
)

// TestCL_Q11DeriveKeyIsHKDF recomputes the key with HKDF spelled out (RFC
// 5869: extract, then one expand block), independently of crypto/hkdf, so
// another implementation can follow docs/clusterd-wire.md.
func TestCL_Q11DeriveKeyIsHKDF(t *testing.T) {
	mac := func(key, data []byte) []byte {
		h := hmac.New(sha256.New, key)
		h.Write(data)
		return h.Sum(nil)
	}
	prk := mac([]byte("hasuite clusterd heartbeat v1"), []byte("!secret!"))
	okm := mac(prk, append([]byte("cluster1"), 1))
	if k := sampleKey(t); !hmac.Equal(k.k[:], okm) {
		t.Errorf("DeriveKey = %x, want %x", k.k, okm)
	}
}

var (
	uidR1, uidR2, uidR2b = UID{1}, UID{2}, UID{3}
	bootA, bootB, bootC  = BootID{0xa}, BootID{0xb}, BootID{0xc}
)

// verifierFor is R1's verifier in group cluster1, its peer R2.
func verifierFor(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{Key: sampleKey(t), Group: "cluster1", Self: "R1", SelfUID: uidR1, Peer: "R2"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// hb is one received heartbeat of a verifier test.
type hb struct {
	node  string
	uid   UID
	boot  BootID
	seq   uint64
	group string // default cluster1
	key   Key    // default the sample key

	reason DropReason
	// newBoot, uidChanged, selfUID are what Accepted must report.
	newBoot, uidChanged, selfUID bool
}

func (h hb) bytes(t *testing.T) []byte {
	t.Helper()
	m := sample()
	m.Node, m.UID, m.BootID, m.Seq = h.node, h.uid, h.boot, h.seq
	if h.group != "" {
		m.Group = h.group
	}
	key := h.key
	if key == (Key{}) {
		key = sampleKey(t)
	}
	b, err := Marshal(m, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCL_B05Verifier runs sequences of heartbeats through R1's verifier.
func TestCL_B05Verifier(t *testing.T) {
	other := mustKey(t, "wrong", "cluster1")
	tests := []struct {
		name string
		seq  []hb
	}{
		{"in order", []hb{
			{node: "R2", uid: uidR2, boot: bootA, seq: 1, newBoot: true},
			{node: "R2", uid: uidR2, boot: bootA, seq: 2},
			{node: "R2", uid: uidR2, boot: bootA, seq: 3},
		}},
		{"first heard mid-boot", []hb{
			{node: "R2", uid: uidR2, boot: bootA, seq: 1000, newBoot: true},
			{node: "R2", uid: uidR2, boot: bootA, seq: 1001},
		}},
		{"replayed", []hb{
			{node: "R2", uid: uidR2, boot: bootA, seq: 1, newBoot: true},
			{node: "R2", uid: uidR2, boot: bootA, seq: 1, reason: DropReplay},
		}},
		{"reordered inside the window, once each", []hb{
			{node: "R2", uid: uidR2, boot: bootA, seq: 100, newBoot: true},
			{node: "R2", uid: uidR2, boot: bootA, seq: 102},
			{node: "R2", uid: uidR2, boot: bootA, seq: 101},
			{node: "R2", uid: uidR2, boot: bootA, seq: 101, reason: DropReplay},
			{node: "R2", uid: uidR2, boot: bootA, seq: 102 - ReplayWindow + 1},
			{node: "R2", uid: uidR2, boot: bootA, seq: 102 - ReplayWindow, reason: DropReplay},
		}},
		{"a jump beyond the window clears it", []hb{
			{node: "R2", uid: uidR2, boot: bootA, seq: 5, newBoot: true},
			{node: "R2", uid: uidR2, boot: bootA, seq: 5 + 10*ReplayWindow},
			{node: "R2", uid: uidR2, boot: bootA, seq: 5 + 10*ReplayWindow - 1},
			{node: "R2", uid: uidR2, boot: bootA, seq: 5, reason: DropReplay},
		}},
		{"a new boot resets the window", []hb{
			{node: "R2", uid: uidR2, boot: bootA, seq: 500, newBoot: true},
			{node: "R2", uid: uidR2, boot: bootB, seq: 1, newBoot: true},
			{node: "R2", uid: uidR2, boot: bootB, seq: 2},
		}},
		{"an ended boot is a replay", []hb{
			{node: "R2", uid: uidR2, boot: bootA, seq: 500, newBoot: true},
			{node: "R2", uid: uidR2, boot: bootB, seq: 1, newBoot: true},
			{node: "R2", uid: uidR2, boot: bootA, seq: 501, reason: DropReplay},
			{node: "R2", uid: uidR2, boot: bootC, seq: 1, newBoot: true},
			{node: "R2", uid: uidR2, boot: bootB, seq: 2, reason: DropReplay},
		}},
		{"a new boot needs a good MAC", []hb{
			{node: "R2", uid: uidR2, boot: bootA, seq: 7, newBoot: true},
			{node: "R2", uid: uidR2, boot: bootB, seq: 1, key: other, reason: DropBadMAC},
			{node: "R2", uid: uidR2, boot: bootA, seq: 8},
		}},
		{"bad MAC touches no window", []hb{
			{node: "R2", uid: uidR2, boot: bootA, seq: 1, key: other, reason: DropBadMAC},
			{node: "R2", uid: uidR2, boot: bootA, seq: 1, newBoot: true},
		}},
		{"another group", []hb{
			{node: "R2", uid: uidR2, boot: bootA, seq: 1, group: "cluster2", reason: DropUnknownGroup},
			// Checked before the MAC: another cluster's secret is no
			// authentication failure here.
			{node: "X", uid: uidR2, boot: bootA, seq: 1, group: "other", key: other, reason: DropUnknownGroup},
		}},
		{"unknown node", []hb{
			{node: "R3", uid: uidR2, boot: bootA, seq: 1, reason: DropUnknownNode},
		}},
		{"own message looped back", []hb{
			{node: "R1", uid: uidR1, boot: bootA, seq: 1, reason: DropOwnMessage},
		}},
		{"own name from another host", []hb{
			{node: "R1", uid: uidR2, boot: bootA, seq: 1, reason: DropDuplicateName},
		}},
		{"peer re-installed, then two hosts as R2", []hb{
			{node: "R2", uid: uidR2, boot: bootA, seq: 1, newBoot: true},
			{node: "R2", uid: uidR2b, boot: bootB, seq: 1, newBoot: true, uidChanged: true},
			{node: "R2", uid: uidR2b, boot: bootB, seq: 2},
			{node: "R2", uid: uidR2, boot: bootA, seq: 2, uidChanged: true},
		}},
		{"peer cloned from this node", []hb{
			{node: "R2", uid: uidR1, boot: bootA, seq: 1, newBoot: true, selfUID: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := verifierFor(t)
			var want DropCounts
			for i, h := range tc.seq {
				a, err := v.Check(h.bytes(t))
				want[h.reason]++
				if got := ReasonOf(err); got != h.reason {
					t.Fatalf("heartbeat %d (%+v): %v, want reason %v", i, h, err, h.reason)
				}
				if err != nil {
					continue
				}
				if a.Seq != h.seq || a.Node != h.node || a.UID != h.uid || a.BootID != h.boot {
					t.Errorf("heartbeat %d: accepted %+v, want %+v", i, a.Message, h)
				}
				if a.NewBoot != h.newBoot || a.UIDChanged != h.uidChanged || a.SameUIDAsSelf != h.selfUID {
					t.Errorf("heartbeat %d: new boot %v, UID changed %v (from %v), same UID as self %v; want %v, %v, %v",
						i, a.NewBoot, a.UIDChanged, a.PreviousUID, a.SameUIDAsSelf, h.newBoot, h.uidChanged, h.selfUID)
				}
			}
			want[DropNone] = 0
			if got := v.Drops(); got != want {
				t.Errorf("drop counters %v, want %v", got, want)
			}
		})
	}
}

func TestVerifierConfig(t *testing.T) {
	key := sampleKey(t)
	for _, cfg := range []VerifierConfig{
		{Group: "cluster1", Self: "R1", Peer: "R2"},
		{Key: key, Group: "", Self: "R1", Peer: "R2"},
		{Key: key, Group: "cluster1", Self: "R1", Peer: "R1"},
		{Key: key, Group: "cluster1", Self: "", Peer: "R2"},
	} {
		if _, err := NewVerifier(cfg); err == nil {
			t.Errorf("NewVerifier(%+v) accepted", cfg)
		}
	}
}

// TestReconfigureKeepsWindow: a reload that changes the secret applies the
// new key at once and keeps the replay state.
func TestReconfigureKeepsWindow(t *testing.T) {
	v := verifierFor(t)
	first := hb{node: "R2", uid: uidR2, boot: bootA, seq: 1}.bytes(t)
	if _, err := v.Check(first); err != nil {
		t.Fatal(err)
	}
	newKey := mustKey(t, "new secret", "cluster1")
	if err := v.Reconfigure(VerifierConfig{Key: newKey, Group: "cluster1", Self: "R1", SelfUID: uidR1, Peer: "R2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Check(first); ReasonOf(err) != DropBadMAC {
		t.Errorf("old-key message after the reload: %v, want bad_mac", err)
	}
	again := hb{node: "R2", uid: uidR2, boot: bootA, seq: 1, key: newKey}.bytes(t)
	if _, err := v.Check(again); ReasonOf(err) != DropReplay {
		t.Errorf("seq 1 again under the new key: %v, want replay", err)
	}
	if err := v.Reconfigure(VerifierConfig{}); err == nil {
		t.Error("Reconfigure accepted an empty config")
	}
}

// TestVerifierForgetsOldestSender: the replay state stays bounded however
// many UIDs speak under the peer's name.
func TestVerifierForgetsOldestSender(t *testing.T) {
	v := verifierFor(t)
	for i := range 3 * maxSenders {
		b := hb{node: "R2", uid: UID{0x10, byte(i)}, boot: bootA, seq: 1}.bytes(t)
		if _, err := v.Check(b); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(v.senders); n != maxSenders {
		t.Errorf("%d senders tracked, want at most %d", n, maxSenders)
	}
}

// TestSealerNumbersEveryMessage: a Sealer fills in the identity and gives
// each message its own number, also under concurrent use, and a peer's
// verifier accepts them all.
func TestSealerNumbersEveryMessage(t *testing.T) {
	key := sampleKey(t)
	s, err := NewSealer(key, "cluster1", "R2", uidR2, bootA)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	out := make(chan []byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := sample()
			m.Interface = []string{"eth0", "eth1"}[i%2]
			m.Seq, m.Node = 999, "ignored"
			b, err := s.Seal(m)
			if err != nil {
				t.Error(err)
			}
			out <- b
		})
	}
	wg.Wait()
	close(out)
	v := verifierFor(t)
	seen := map[uint64]bool{}
	for b := range out {
		m, err := Unmarshal(b, key)
		if err != nil {
			t.Fatal(err)
		}
		if m.Node != "R2" || m.Group != "cluster1" || m.UID != uidR2 || m.BootID != bootA {
			t.Fatalf("sealed %+v: identity not filled in", m)
		}
		if seen[m.Seq] || m.Seq < 1 || m.Seq > n {
			t.Fatalf("seq %d repeated or out of 1..%d", m.Seq, n)
		}
		seen[m.Seq] = true
		// Concurrent sealing may reorder by more than the window; only
		// the numbering is under test, so check in order below.
	}
	for seq := uint64(1); seq <= n; seq++ {
		m := sample()
		m.Node, m.UID, m.BootID, m.Seq = "R2", uidR2, bootA, seq
		b, err := Marshal(m, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Check(b); err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
	}
	if s.Seq() != n {
		t.Errorf("Seq() = %d, want %d", s.Seq(), n)
	}
	bad := sample()
	bad.Role = 0
	if _, err := s.Seal(bad); err == nil || s.Seq() != n {
		t.Errorf("Seal of an invalid message: %v, seq now %d; want an error and seq %d", err, s.Seq(), n)
	}
	if _, err := NewSealer(Key{}, "cluster1", "R2", uidR2, bootA); err == nil {
		t.Error("NewSealer accepted the zero key")
	}
}

// BenchmarkSealAndCheck is the cost of one heartbeat at both ends.
func BenchmarkSealAndCheck(b *testing.B) {
	key := sampleKey(b)
	s, err := NewSealer(key, "cluster1", "R2", uidR2, bootA)
	if err != nil {
		b.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Key: key, Group: "cluster1", Self: "R1", SelfUID: uidR1, Peer: "R2"})
	if err != nil {
		b.Fatal(err)
	}
	m := sample()
	b.ReportAllocs()
	for b.Loop() {
		p, err := s.Seal(m)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Check(p); err != nil {
			b.Fatal(err)
		}
	}
}
