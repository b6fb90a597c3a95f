package announce

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// TestPrivilegedVR_B14Announcements announces an address of each family
// from node a and checks the frames b sees on the same bridge.
func TestPrivilegedVR_B14Announcements(t *testing.T) {
	netlab.RequirePrivileged(t)
	llA := netip.MustParseAddr("fe80::a")
	lab := netlab.New(t, netlab.Topology{
		Bridges: []string{"lan"},
		Nodes: []netlab.NodeSpec{
			{Name: "a", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", MAC: "02:00:00:00:00:0a",
				Addrs: []string{"10.1.0.1/24", "2001:db8:1::1/64", llA.String() + "/64"}}}},
			{Name: "b", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan",
				Addrs: []string{"10.1.0.2/24", "2001:db8:1::2/64"}}}},
		},
	})
	a, b := lab.Node("a"), lab.Node("b")
	vip4, vip6 := netip.MustParseAddr("10.1.0.100"), netip.MustParseAddr("2001:db8:1::100")
	vrrpMAC := net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 51}

	isAnnouncement := func(frame []byte) bool {
		if len(frame) < 14 {
			return false
		}
		switch binary.BigEndian.Uint16(frame[12:14]) {
		case 0x0806:
			return true
		case 0x86dd:
			return len(frame) >= 55 && frame[20] == icmpv6Protocol && frame[54] == icmpv6NeighborAdvert
		}
		return false
	}
	capture, err := b.Capture("eth0", isAnnouncement)
	if err != nil {
		t.Fatal(err)
	}
	var announcer *Announcer
	if err := a.Do(func() (err error) {
		announcer, err = OpenAnnouncer("eth0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer announcer.Close()
	if err := announcer.AnnounceIPv4(vip4, vrrpMAC); err != nil {
		t.Fatal(err)
	}
	if err := announcer.AnnounceIPv6(vip6, llA, vrrpMAC, true); err != nil {
		t.Fatal(err)
	}
	wantARP, _ := GratuitousARP(vip4, vrrpMAC)
	wantNA, _ := UnsolicitedNA(vip6, llA, vrrpMAC, true)
	for _, want := range [][]byte{wantARP, wantNA} {
		got := capture.WaitPacket(t, 20*time.Second, func(frame []byte) bool {
			return binary.BigEndian.Uint16(frame[12:14]) == binary.BigEndian.Uint16(want[12:14])
		}).Data
		if !bytes.Equal(got, want) {
			t.Errorf("b saw\n% x\nwant\n% x", got, want)
		}
	}
	if frames := capture.Frames(); slices.ContainsFunc(frames, func(f netlab.Frame) bool { return len(f.Data) < 60 }) {
		t.Errorf("a runt frame reached b: %v", frames)
	}
}
