package config

import (
	"net/netip"
	"reflect"
	"testing"
)

// TestCL_C08_ParseService: the three forms of the guide, the parameter
// table's spaced form (CL-Q01) and systemd units (CL-Q03), with the
// canonical form each prints back as and the Resources name (CL-O01).
func TestCL_C08_ParseService(t *testing.T) {
	tests := []struct {
		name      string
		value     string
		want      Service // Raw is filled in from value
		canonical string
		display   string
	}{
		{"CL_C08a_Full", "10.6.0.100/24/eth1",
			Service{Kind: ServiceIP, Addr: netip.MustParsePrefix("10.6.0.100/24"), Interface: "eth1"},
			"10.6.0.100/24/eth1", "10.6.0.100"},
		{"CL_C08a_DefaultInterface", "10.6.0.100/24",
			Service{Kind: ServiceIP, Addr: netip.MustParsePrefix("10.6.0.100/24"), Interface: "eth0", InterfaceDefaulted: true},
			"10.6.0.100/24", "10.6.0.100"},
		{"CL_C08a_Broadcast", "10.6.0.100/24/eth1/10.6.0.255",
			Service{Kind: ServiceIP, Addr: netip.MustParsePrefix("10.6.0.100/24"), Interface: "eth1", Broadcast: netip.MustParseAddr("10.6.0.255")},
			"10.6.0.100/24/eth1/10.6.0.255", "10.6.0.100"},
		{"CL_C08a_HostRoute", "10.6.0.100/32/eth1",
			Service{Kind: ServiceIP, Addr: netip.MustParsePrefix("10.6.0.100/32"), Interface: "eth1"},
			"10.6.0.100/32/eth1", "10.6.0.100"},
		{"CL_C08a_PointToPoint", "10.6.0.0/31/eth1",
			Service{Kind: ServiceIP, Addr: netip.MustParsePrefix("10.6.0.0/31"), Interface: "eth1"},
			"10.6.0.0/31/eth1", "10.6.0.0"},
		{"CL_Q01_SpacedInterface", "10.6.0.100/24 eth1",
			Service{Kind: ServiceIP, Addr: netip.MustParsePrefix("10.6.0.100/24"), Interface: "eth1"},
			"10.6.0.100/24/eth1", "10.6.0.100"},
		{"CL_Q01_SpacedBroadcast", " 10.6.0.100/24  eth1\t10.6.0.255 ",
			Service{Kind: ServiceIP, Addr: netip.MustParsePrefix("10.6.0.100/24"), Interface: "eth1", Broadcast: netip.MustParseAddr("10.6.0.255")},
			"10.6.0.100/24/eth1/10.6.0.255", "10.6.0.100"},
		{"CL_C08b_Init", "ipsec",
			Service{Kind: ServiceInit, Name: "ipsec"}, "ipsec", "ipsec"},
		{"CL_C08b_InitWithDots", "isc-dhcp-server.sh",
			Service{Kind: ServiceInit, Name: "isc-dhcp-server.sh"}, "isc-dhcp-server.sh", "isc-dhcp-server.sh"},
		{"CL_Q03_Systemd", "systemd:strongswan-starter",
			Service{Kind: ServiceInit, Name: "systemd:strongswan-starter"}, "systemd:strongswan-starter", "systemd:strongswan-starter"},
		{"CL_Q03_SystemdTemplate", `systemd:openvpn@site\x2da.service`,
			Service{Kind: ServiceInit, Name: `systemd:openvpn@site\x2da.service`}, `systemd:openvpn@site\x2da.service`, `systemd:openvpn@site\x2da.service`},
		{"CL_C08c_Script", "IPaddr2::10.0.0.1/24/eth0",
			Service{Kind: ServiceScript, Name: "IPaddr2", Args: []string{"10.0.0.1/24/eth0"}},
			"IPaddr2::10.0.0.1/24/eth0", "IPaddr2::10.0.0.1/24/eth0"},
		{"CL_C08c_ScriptArgs", "Filesystem::/dev/md0::/srv::ext4",
			Service{Kind: ServiceScript, Name: "Filesystem", Args: []string{"/dev/md0", "/srv", "ext4"}},
			"Filesystem::/dev/md0::/srv::ext4", "Filesystem::/dev/md0::/srv::ext4"},
		{"CL_C08c_ArgWithSpace", "MailTo::root::a b",
			Service{Kind: ServiceScript, Name: "MailTo", Args: []string{"root", "a b"}},
			"MailTo::root::a b", "MailTo::root::a b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseService(tt.value)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Raw = tt.value
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseService(%q):\n got %+v\nwant %+v", tt.value, got, tt.want)
			}
			if s := got.String(); s != tt.canonical {
				t.Errorf("String() = %q, want %q", s, tt.canonical)
			}
			if d := got.Display(); d != tt.display {
				t.Errorf("Display() = %q, want %q", d, tt.display)
			}
			// The canonical form reads back as the same service.
			again, err := ParseService(got.String())
			if err != nil || !sameResource(again, got) || again.InterfaceDefaulted != got.InterfaceDefaulted {
				t.Errorf("canonical %q reads back as %+v, %v", got.String(), again, err)
			}
		})
	}
}

// TestCL_Q03_Unit: which systemd unit a service names outright.
func TestCL_Q03_Unit(t *testing.T) {
	tests := []struct {
		value, unit string
		ok          bool
	}{
		{"systemd:strongswan", "strongswan.service", true},
		{"systemd:strongswan.service", "strongswan.service", true},
		{"systemd:vpn.target", "vpn.target", true},
		{"ipsec", "", false},
		{"IPaddr2::10.0.0.1/24", "", false},
	}
	for _, tt := range tests {
		s, err := ParseService(tt.value)
		if err != nil {
			t.Fatal(err)
		}
		if unit, ok := s.Unit(); unit != tt.unit || ok != tt.ok {
			t.Errorf("%q: Unit() = %q, %v; want %q, %v", tt.value, unit, ok, tt.unit, tt.ok)
		}
	}
}

// TestCL_B13_Labels: alias labels count per interface in service order.
func TestCL_B13_Labels(t *testing.T) {
	var services []Service
	for _, v := range []string{"10.0.0.1/24", "10.1.0.1/24/eth1", "ipsec", "10.0.0.2/24/eth0", "10.1.0.2/24/eth1/10.1.0.255", "10.2.0.1/24/eth2"} {
		s, err := ParseService(v)
		if err != nil {
			t.Fatal(err)
		}
		services = append(services, s)
	}
	AssignLabels(services)
	var got []string
	for _, s := range services {
		got = append(got, s.Label)
	}
	want := []string{"eth0:0", "eth1:0", "", "eth0:1", "eth1:1", "eth2:0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("labels %q, want %q", got, want)
	}
}
