package announce

import (
	"bytes"
	"encoding/hex"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current frames")

var (
	vMAC      = net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, 0x01, 0x33}
	parentMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	linkLocal = netip.MustParseAddr("fe80::1")
)

// checkGolden compares frame with testdata/<name>.golden, a hex dump.
func checkGolden(t *testing.T, name string, frame []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	got := hex.Dump(frame)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("frame differs from %s:\ngot:\n%swant:\n%s", path, got, want)
	}
}

func TestGratuitousARP(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		mac    net.HardwareAddr
	}{
		{name: "VR_B14 RFC mode announces the virtual MAC", golden: "garp-vmac", mac: vMAC},
		{name: "VR_Q01 legacy mode announces the parent MAC", golden: "garp-parent", mac: parentMAC},
	}
	vip := netip.MustParseAddr("10.9.9.9")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frame, err := GratuitousARP(vip, tc.mac)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.golden, frame)

			var eth ethernet.Frame
			if err := eth.UnmarshalBinary(frame); err != nil {
				t.Fatal(err)
			}
			var req arp.Packet
			if err := req.UnmarshalBinary(eth.Payload); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(eth.Source, tc.mac) || !bytes.Equal(eth.Destination, ethernet.Broadcast) ||
				req.Operation != arp.OperationRequest || !bytes.Equal(req.SenderHardwareAddr, tc.mac) ||
				req.SenderIP != vip || req.TargetIP != vip {
				t.Errorf("frame %+v carries ARP %+v, want a broadcast request for %s at %s", eth, req, vip, tc.mac)
			}
		})
	}
}

func TestUnsolicitedNA(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		router bool
		flags  byte
	}{
		{name: "VR_B14 override", golden: "na", flags: naFlagOverride},
		{name: "VR_B14 override router", golden: "na-router", router: true, flags: naFlagOverride | naFlagRouter},
	}
	vip := netip.MustParseAddr("2001:db8::100")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frame, err := UnsolicitedNA(vip, linkLocal, vMAC, tc.router)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.golden, frame)

			ip := frame[14:]
			icmp := ip[ipv6HeaderLen:]
			if ip[7] != 255 || icmp[0] != icmpv6NeighborAdvert || icmp[4] != tc.flags {
				t.Errorf("hop limit %d, type %d, flags %#x; want 255, %d, %#x", ip[7], icmp[0], icmp[4], icmpv6NeighborAdvert, tc.flags)
			}
			// A message summed with its checksum in place sums to zero.
			if sum := icmpv6Checksum(linkLocal, allNodes, icmp); sum != 0 {
				t.Errorf("checksum does not verify: residue %#x", sum)
			}
		})
	}
}

func TestAnnouncementErrors(t *testing.T) {
	v4 := netip.MustParseAddr("10.9.9.9")
	v6 := netip.MustParseAddr("2001:db8::100")
	tests := []struct {
		name    string
		build   func() ([]byte, error)
		wantErr string
	}{
		{"ARP for IPv6", func() ([]byte, error) { return GratuitousARP(v6, vMAC) }, "IPv4 addresses only"},
		{"ARP with short MAC", func() ([]byte, error) { return GratuitousARP(v4, vMAC[:4]) }, "not an Ethernet MAC"},
		{"NA for IPv4", func() ([]byte, error) { return UnsolicitedNA(v4, linkLocal, vMAC, false) }, "not an IPv6 address"},
		{"NA from global source", func() ([]byte, error) { return UnsolicitedNA(v6, v6, vMAC, false) }, "must be a link-local"},
		{"NA with short MAC", func() ([]byte, error) { return UnsolicitedNA(v6, linkLocal, vMAC[:4], false) }, "not an Ethernet MAC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.build()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}

// TestAnnouncerWritesFrames runs the Announcer over a UDP socket on
// loopback, which needs no privilege, and reads back what it wrote.
func TestAnnouncerWritesFrames(t *testing.T) {
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	source, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := NewAnnouncer(source, sink.LocalAddr())
	defer a.Close()

	vip4, vip6 := netip.MustParseAddr("10.9.9.9"), netip.MustParseAddr("2001:db8::100")
	wantARP, _ := GratuitousARP(vip4, vMAC)
	wantNA, _ := UnsolicitedNA(vip6, linkLocal, vMAC, true)
	if err := a.AnnounceIPv4(vip4, vMAC); err != nil {
		t.Fatal(err)
	}
	if err := a.AnnounceIPv6(vip6, linkLocal, vMAC, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]byte{wantARP, wantNA} {
		buf := make([]byte, 1500)
		if err := sink.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, _, err := sink.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Errorf("wrote\n%swant\n%s", hex.Dump(buf[:n]), hex.Dump(want))
		}
	}
}
