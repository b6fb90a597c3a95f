package packet

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
)

const keepalivedPath = "/usr/sbin/keepalived"

// ipPacket is the part of a captured IP packet an advert's checks need.
type ipPacket struct {
	src, dst netip.Addr
	hopLimit int
	payload  []byte
}

// ipProtocolAH is the IPsec Authentication Header, which keepalived's
// auth_type AH puts in front of the VRRP message.
const ipProtocolAH = 51

// parseVRRPFrame extracts a VRRP packet from an Ethernet frame, skipping an
// IPv4 AH header, and reports false for any other frame. It trusts the
// kernel's headers, which a capture of a live sender can.
func parseVRRPFrame(frame []byte) (ipPacket, bool) {
	const ethLen = 14
	if len(frame) < ethLen {
		return ipPacket{}, false
	}
	ip := frame[ethLen:]
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case 0x0800:
		if len(ip) < 20 || (ip[9] != Protocol && ip[9] != ipProtocolAH) {
			return ipPacket{}, false
		}
		headerLen, totalLen := int(ip[0]&0x0f)*4, int(binary.BigEndian.Uint16(ip[2:4]))
		if totalLen > len(ip) || headerLen > totalLen {
			return ipPacket{}, false
		}
		if ip[9] == ipProtocolAH {
			ah := ip[headerLen:totalLen]
			if len(ah) < 2 || ah[0] != Protocol || (int(ah[1])+2)*4 > len(ah) {
				return ipPacket{}, false
			}
			headerLen += (int(ah[1]) + 2) * 4
		}
		src, _ := netip.AddrFromSlice(ip[12:16])
		dst, _ := netip.AddrFromSlice(ip[16:20])
		return ipPacket{src: src, dst: dst, hopLimit: int(ip[8]), payload: ip[headerLen:totalLen]}, true
	case 0x86dd:
		if len(ip) < 40 || ip[6] != Protocol {
			return ipPacket{}, false
		}
		payloadLen := int(binary.BigEndian.Uint16(ip[4:6]))
		if 40+payloadLen > len(ip) {
			return ipPacket{}, false
		}
		src, _ := netip.AddrFromSlice(ip[8:24])
		dst, _ := netip.AddrFromSlice(ip[24:40])
		return ipPacket{src: src, dst: dst, hopLimit: int(ip[7]), payload: ip[40 : 40+payloadLen]}, true
	}
	return ipPacket{}, false
}

// TestPrivilegedKeepalivedInterop captures the adverts of a real keepalived
// (an implementation independent of this one) and checks that Unmarshal
// accepts them and Marshal reproduces them octet for octet. keepalived 2.2.7
// predates its v3_checksum_as_v2 option, so Options.V3ChecksumAsV2 is
// checked against the version 2 sum instead (packet_test.go).
func TestPrivilegedKeepalivedInterop(t *testing.T) {
	netlab.RequirePrivileged(t)
	if _, err := os.Stat(keepalivedPath); err != nil {
		t.Skipf("keepalived not installed: %v", err)
	}
	tests := []struct {
		name     string
		instance string
		expect   Expect
		// golden names the testdata file holding the advert keepalived
		// must send, when its endpoints are fixed (not a random IPv6
		// link-local source).
		golden string
	}{
		{
			name: "VR_B25 v2 password",
			instance: `
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        10.9.9.9/24
    }`,
			expect: Expect{VRID: 51, Version: Version2, AuthType: AuthSimple, AuthData: mustPassword("secret"), AdvertInterval: 1, Addresses: addrs4},
			golden: "v2-password",
		},
		{
			name: "v3 IPv4",
			instance: `
    version 3
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.1
    virtual_ipaddress {
        10.9.9.9/24
    }`,
			expect: Expect{VRID: 51, Version: Version3, Addresses: addrs4},
			golden: "v3-ipv4",
		},
		{
			// The pseudo-header holds the peer's address, not the group's.
			name: "v3 IPv4 unicast",
			instance: `
    version 3
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    unicast_peer {
        192.0.2.2
    }
    virtual_ipaddress {
        10.9.9.9/24
    }`,
			expect: Expect{VRID: 51, Version: Version3, Addresses: addrs4},
			golden: "v3-ipv4-unicast",
		},
		{
			name: "VR_B26 v2 AH",
			instance: `
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type AH
        auth_pass secret
    }
    virtual_ipaddress {
        10.9.9.9/24
    }`,
			expect: Expect{VRID: 51, Version: Version2, AuthType: AuthAH, AdvertInterval: 1, Addresses: addrs4},
			golden: "v2-ah",
		},
		{
			name: "v3 IPv6",
			instance: `
    version 3
    interface eth0
    virtual_router_id 53
    priority 150
    advert_int 0.1
    virtual_ipaddress {
        fe80::100/64
        2001:db8::100/64
    }`,
			expect: Expect{VRID: 53, Version: Version3, Addresses: addrs6},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lab := netlab.New(t, netlab.Topology{Nodes: []netlab.NodeSpec{
				{Name: "r1", Interfaces: []netlab.Interface{{Name: "eth0", Peer: netlab.Endpoint{Node: "r2", Interface: "eth0"}, Addrs: []string{"192.0.2.1/24", "2001:db8:1::1/64"}}}},
				{Name: "r2", Interfaces: []netlab.Interface{{Name: "eth0", Peer: netlab.Endpoint{Node: "r1", Interface: "eth0"}, Addrs: []string{"192.0.2.2/24", "2001:db8:1::2/64"}}}},
			}})
			r1 := lab.Node("r1")
			capture, err := r1.Capture("eth0", func(frame []byte) bool {
				_, ok := parseVRRPFrame(frame)
				return ok
			})
			if err != nil {
				t.Fatal(err)
			}

			dir := t.TempDir()
			conf := filepath.Join(dir, "keepalived.conf")
			text := "vrrp_instance VI_1 {\n    state MASTER" + tc.instance + "\n}\n"
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := r1.Start(t.Context(), keepalivedPath, "-n", "-l", "-D", "--vrrp",
				"-f", conf, "-p", filepath.Join(dir, "keepalived.pid"),
				"-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid")); err != nil {
				t.Fatal(err)
			}

			// The first advert of a master, not a resigning one (priority 0).
			frame := capture.WaitPacket(t, 30*time.Second, func(frame []byte) bool {
				pkt, _ := parseVRRPFrame(frame)
				return len(pkt.payload) > 2 && pkt.payload[2] != 0
			})
			pkt, _ := parseVRRPFrame(frame.Data)
			t.Logf("keepalived advert %v -> %v: %x", pkt.src, pkt.dst, pkt.payload)

			if r := CheckHopLimit(pkt.hopLimit); r != DropNone {
				t.Errorf("hop limit %d: %v", pkt.hopLimit, r)
			}
			adv, err := Unmarshal(pkt.payload, pkt.src, pkt.dst, Options{})
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if r := tc.expect.Check(adv); r != DropNone {
				t.Errorf("Check(%+v) = %v", adv, r)
			}
			if !SameAddresses(adv.Addresses, tc.expect.Addresses) {
				t.Errorf("addresses %v, want %v", adv.Addresses, tc.expect.Addresses)
			}
			again, err := Marshal(adv, pkt.src, pkt.dst, Options{})
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(again, pkt.payload) {
				t.Fatalf("Marshal = %x, keepalived sent %x", again, pkt.payload)
			}
			if tc.golden != "" {
				if want := readGolden(t, tc.golden); !bytes.Equal(pkt.payload, want) {
					t.Fatalf("keepalived sent %x, testdata/%s.golden holds %x", pkt.payload, tc.golden, want)
				}
			}
		})
	}
}
