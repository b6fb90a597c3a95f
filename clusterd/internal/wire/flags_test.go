package wire

import (
	"testing"
)

// TestFlagBitsAreFixed: the flag bits are the wire format (docs/clusterd-
// wire.md): moving one would make old and new nodes misread each other.
func TestFlagBitsAreFixed(t *testing.T) {
	for _, tc := range []struct {
		flag Flags
		bits uint16
	}{
		{FlagHoldsResources, 0x0001},
		{FlagResourcesFailed, 0x0002},
		{FlagReleasing, 0x0004},
		{FlagStandby, 0x0008},
		{FlagTakeover, 0x0010},
		{FlagDemoted, 0x0020},
		{FlagMonitorsPending, 0x0040},
	} {
		if uint16(tc.flag) != tc.bits {
			t.Errorf("%v is %#04x, want %#04x", tc.flag, uint16(tc.flag), tc.bits)
		}
	}
	if KnownFlags != 0x007f {
		t.Errorf("KnownFlags %#04x, want 0x007f", uint16(KnownFlags))
	}
}

// TestCL_B06NewFlagsRoundTrip: the state bits the state machine needs
// (releasing, manual standby and takeover, demotion, unverified monitors) travel in version 1,
// in bits that version reserved: the version octet stays 1.
func TestCL_B06NewFlagsRoundTrip(t *testing.T) {
	key := sampleKey(t)
	for _, f := range []Flags{FlagReleasing, FlagStandby, FlagTakeover, FlagDemoted, FlagMonitorsPending, KnownFlags} {
		m := sample()
		m.Flags = f | FlagHoldsResources
		b, err := Marshal(m, key)
		if err != nil {
			t.Fatal(err)
		}
		if b[4] != 1 {
			t.Fatalf("%v: version %d, want 1", f, b[4])
		}
		got, err := Unmarshal(b, key)
		if err != nil {
			t.Fatal(err)
		}
		if got.Flags != m.Flags {
			t.Errorf("flags %v came back as %v", m.Flags, got.Flags)
		}
	}
}

// TestCL_B24LeavingCarriesSequence: the leaving message is numbered like
// any other, so a heartbeat overtaken on the other link, arriving after
// it, is known to be older (the state machine acts on the newest only).
func TestCL_B24LeavingCarriesSequence(t *testing.T) {
	key := sampleKey(t)
	s, err := NewSealer(key, "cluster1", "R2", uidR2, bootA)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Key: key, Group: "cluster1", Self: "R1", SelfUID: uidR1, Peer: "R2"})
	if err != nil {
		t.Fatal(err)
	}
	hb := sample()
	hb.Flags, hb.HeldFor = 0, 0
	first, _ := s.Seal(hb)
	hb.Type = TypeLeaving
	leaving, err := s.Seal(hb)
	if err != nil {
		t.Fatal(err)
	}
	a, err := v.Check(leaving)
	if err != nil {
		t.Fatal(err)
	}
	if a.Type != TypeLeaving || a.Seq != 2 {
		t.Errorf("leaving: type %v seq %d, want leaving seq 2", a.Type, a.Seq)
	}
	b, err := v.Check(first)
	if err != nil {
		t.Fatal(err) // within the window: accepted once, and older
	}
	if b.Seq >= a.Seq {
		t.Errorf("overtaken heartbeat seq %d not below the leaving one's %d", b.Seq, a.Seq)
	}
}

// TestSealerRekeyKeepsNumbering: a new secret on reload is no new boot.
func TestSealerRekeyKeepsNumbering(t *testing.T) {
	s, err := NewSealer(sampleKey(t), "cluster1", "R2", uidR2, bootA)
	if err != nil {
		t.Fatal(err)
	}
	m := sample()
	if _, err := s.Seal(m); err != nil {
		t.Fatal(err)
	}
	newKey := mustKey(t, "another secret", "cluster1")
	if err := s.Rekey(newKey); err != nil {
		t.Fatal(err)
	}
	if err := s.Rekey(Key{}); err == nil {
		t.Error("Rekey accepted the zero key")
	}
	b, err := s.Seal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b, newKey)
	if err != nil {
		t.Fatalf("not sealed under the new key: %v", err)
	}
	if got.Seq != 2 {
		t.Errorf("seq %d after rekey, want 2", got.Seq)
	}
}

func TestFlagsString(t *testing.T) {
	for f, want := range map[Flags]string{
		0:                                  "none",
		FlagHoldsResources | FlagReleasing: "holds|releasing",
		FlagDemoted | 0x8000:               "demoted|0x8000",
	} {
		if got := f.String(); got != want {
			t.Errorf("%#04x: %q, want %q", uint16(f), got, want)
		}
	}
}
