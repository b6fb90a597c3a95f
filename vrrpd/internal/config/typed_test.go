package config

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestWarnings: what loads but deserves a word (spec VR-C02, VR-C11,
// VR-C18, VR-C30, VR-C31, VR-E05, VR-Q03).
func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"VR_C02_VLANZero", wrap([]string{"ethernet eth0", "vif 0"}, group("1", vip)...),
			[]string{"3:13: interfaces ethernet eth0 vif 0: VLAN 0 is the 802.1p priority tag"}},
		{"VR_C11_AdvertisementIntervalAlias", eth0(group("1", "advertisement-interval 2", vip)...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 advertise-interval: advertisement-interval is a deprecated spelling: write advertise-interval"}},
		{"VR_C18_InterfaceImpliesRFC3768", eth0(group("1", "interface {", "}", vip)...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 interface: an interface block implies rfc3768-compatibility"}},
		{"VR_C30_SyncGroupOfOne", eth0(group("1", "sync-group ALPHA", vip)...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 sync-group: sync-group ALPHA has only this group"}},
		{"VR_C31_DuplicateVIP", eth0(group("1", vip, vip)...),
			[]string{"6:33: interfaces ethernet eth0 vrrp vrrp-group 1 virtual-address: duplicate value 10.0.0.1/24 is ignored"}},
		{"VR_E05_OwnerWithoutRFC3768", eth0(group("1", "priority 255", vip)...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 priority: the guide asks the address owner (priority 255) to set rfc3768-compatibility"}},
		{"ChecksumOnlyDiffersForUnicast", eth0(group("1", "version 3", "checksum multicast-pseudo-header", vip)...),
			[]string{"6:17: interfaces ethernet eth0 vrrp vrrp-group 1 checksum: multicast-pseudo-header only differs from rfc9568 for unicast adverts"}},
		{"VR_Q03_AuthenticationIsWeak", eth0(group("1", "authentication {", "    password secret", "    type ah", "}", vip)...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 authentication: neither plaintext-password nor ah keeps out a forged master"}},
		{"VR_C01_NonVRRPSiblingIgnored", "interfaces {\n ethernet eth0 {\n  address 10.0.0.2/24\n  vrrp { vrrp-group 1 { " + vip + " } }\n }\n loopback lo { }\n}\n",
			[]string{
				"3:3: interfaces ethernet eth0 address: ignored: not a VRRP setting",
				"6:2: interfaces loopback: ignored: not an interface type vrrpd uses",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.src)
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = "vrrpd.conf:" + w
			}
			assertMessages(t, c.Warnings.Error(), want)
		})
	}
}

// TestValidateReportsWarningsWithErrors: `vrrpd validate` shows both.
func TestValidateReportsWarningsWithErrors(t *testing.T) {
	src := "interfaces {\n ethernet eth0 { duplex auto vrrp { vrrp-group 1 { priority 0 " + vip + " } } }\n}\n"
	warnings, err := Validate("vrrpd.conf", []byte(src))
	if err == nil || len(warnings) != 1 {
		t.Fatalf("got warnings %v and error %v, want one of each", warnings, err)
	}
}

// TestTypedValues reads every node into the Group.
func TestTypedValues(t *testing.T) {
	c := mustParse(t, `interfaces {
    bonding bond1 {
        vif 15 {
            vrrp {
                vrrp-group 97 {
                    advertise-interval 3
                    authentication {
                        password "s3cr et"
                        type plaintext-password
                    }
                    description "core uplink"
                    disable
                    gate-deadline 500ms
                    garp {
                        master-delay 2
                        master-repeat 3
                        master-refresh 60
                        master-refresh-repeat 2
                    }
                    hello-source-address 10.1.0.2
                    interface {
                        description "vmac of 97"
                    }
                    peer-address 10.1.0.3
                    peer-address 10.1.0.4
                    preempt false
                    preempt-delay 30
                    priority 200
                    rfc3768-compatibility
                    run-transition-scripts {
                        backup backup.sh
                        fault /usr/local/bin/fault.sh
                        master master.sh
                    }
                    sync-group CORE
                    virtual-address 10.1.0.1/24
                    virtual-address 10.1.0.254
                }
            }
        }
    }
    ethernet eth0 {
        vrrp {
            vrrp-group 1 {
                interface {
                    mirror eth2
                    name core1
                    redirect ifb0
                }
                rfc3768-compatibility
                run-transition-scripts {
                    master master.sh
                }
                sync-group CORE
                virtual-address 10.0.0.1
            }
        }
    }
}
`)
	want := []Group{
		{
			Key:       GroupKey{"eth0", 1},
			Interface: "eth0", ParentKind: "ethernet", Parent: "eth0", VLAN: NoVLAN, VRID: 1,
			Version: 2, Priority: 100, Interval: time.Second, Preempt: true,
			VIPs:      []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")},
			SyncGroup: "CORE", Scripts: Scripts{Master: "master.sh"},
			RFC3768:       true,
			VRRPInterface: VRRPInterface{Name: "core1", MAC: VirtualMAC(1, false), Mirror: "eth2", Redirect: "ifb0"},
			Checksum:      ChecksumRFC9568,
			GARP:          GARP{MasterRepeat: 5, MasterDelay: 5 * time.Second, MasterRefreshRepeat: 1, MasterRefresh: time.Minute},
			GateDeadline:  time.Second,
		},
		{
			Key:       GroupKey{"bond1.15", 97},
			Interface: "bond1.15", ParentKind: "bonding", Parent: "bond1", VLAN: 15, VRID: 97,
			Version: 2, Priority: 200, Interval: 3 * time.Second, Preempt: false, PreemptDelay: 30 * time.Second,
			VIPs:        []netip.Prefix{netip.MustParsePrefix("10.1.0.1/24"), netip.MustParsePrefix("10.1.0.254/32")},
			Peers:       []netip.Addr{netip.MustParseAddr("10.1.0.3"), netip.MustParseAddr("10.1.0.4")},
			Auth:        Auth{Type: AuthPlaintext, Password: "s3cr et"},
			Checksum:    ChecksumRFC9568,
			HelloSource: netip.MustParseAddr("10.1.0.2"),
			Description: "core uplink", Disabled: true, SyncGroup: "CORE",
			Scripts: Scripts{Master: "master.sh", Backup: "backup.sh", Fault: "/usr/local/bin/fault.sh"},
			RFC3768: true,
			// VR-B40: bond1 VLAN 15 group 97 (the guide's bond0.15v97 is a typo).
			VRRPInterface: VRRPInterface{Name: "bond1.15v97", MAC: VirtualMAC(97, false), Description: "vmac of 97"},
			GARP:          GARP{MasterRepeat: 3, MasterDelay: 2 * time.Second, MasterRefreshRepeat: 2, MasterRefresh: time.Minute},
			GateDeadline:  500 * time.Millisecond,
		},
	}
	// Groups come ethernet first, then bonding.
	if !reflect.DeepEqual(c.Groups, want) {
		t.Errorf("groups:\n got %+v\nwant %+v", c.Groups, want)
	}
	if got, want := c.SyncGroups, map[string][]GroupKey{"CORE": {{"eth0", 1}, {"bond1.15", 97}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("sync groups: got %v, want %v", got, want)
	}
	if got, want := c.Scripts(), []string{"master.sh", "backup.sh", "/usr/local/bin/fault.sh"}; !slices.Equal(got, want) {
		t.Errorf("Scripts() = %q, want %q", got, want)
	}
	if g := c.Group(GroupKey{"bond1.15", 97}); g == nil || g.Key.String() != "bond1.15/97" {
		t.Errorf("Group(bond1.15/97) = %v", g)
	}
	if g := c.Group(GroupKey{"eth0", 97}); g != nil {
		t.Errorf("Group(eth0/97) = %v, want nil", g)
	}
}

// TestVersion3: RFC 5798 intervals in centiseconds and IPv6 groups.
func TestVersion3(t *testing.T) {
	tests := []struct {
		name     string
		lines    []string
		interval time.Duration
		ipv6     bool
		vmac     string
	}{
		{"centiseconds", []string{"advertise-interval 0.1", vip}, 100 * time.Millisecond, false, ""},
		{"smallest", []string{"advertise-interval 0.01", vip}, 10 * time.Millisecond, false, ""},
		{"largest", []string{"advertise-interval 40.95", vip}, 40950 * time.Millisecond, false, ""},
		{"whole seconds", []string{"advertise-interval 2", vip}, 2 * time.Second, false, ""},
		{"one decimal", []string{"advertise-interval 1.5", vip}, 1500 * time.Millisecond, false, ""},
		{"IPv6", []string{"virtual-address 2001:db8::1/64", "virtual-address fe80::1"}, time.Second, true, ""},
		{"IPv6 vMAC", []string{"rfc3768-compatibility", "virtual-address 2001:db8::1"}, time.Second, true, "00:00:5e:00:02:07"},
		{"IPv4 vMAC", []string{"rfc3768-compatibility", vip}, time.Second, false, "00:00:5e:00:01:07"},
		{"IPv4 v2-style checksum", []string{"checksum without-pseudo-header", vip}, time.Second, false, ""},
		{"unicast with older keepalived", []string{"checksum multicast-pseudo-header", "peer-address 10.0.0.3", vip}, time.Second, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustParse(t, eth0(group("7", append([]string{"version 3"}, tt.lines...)...)...)).Groups[0]
			if g.Version != 3 || g.Interval != tt.interval || g.IPv6() != tt.ipv6 || g.VRRPInterface.MAC.String() != tt.vmac {
				t.Errorf("got version %d, interval %v, IPv6 %v, vMAC %q; want 3, %v, %v, %q",
					g.Version, g.Interval, g.IPv6(), g.VRRPInterface.MAC, tt.interval, tt.ipv6, tt.vmac)
			}
		})
	}
}

// TestVR_B33_Diff sorts the groups of a reload.
func TestVR_B33_Diff(t *testing.T) {
	base := eth0(append(group("1", vip), group("2", "virtual-address 10.0.0.2")...)...)
	tests := []struct {
		name                               string
		old                                string // "" for the first load
		new                                string
		added, removed, changed, unchanged []string
	}{
		{name: "first load", new: base, added: []string{"eth0/1", "eth0/2"}},
		{name: "same file", old: base, new: base, unchanged: []string{"eth0/1", "eth0/2"}},
		{name: "layout only", old: base, new: "interfaces { ethernet eth0 { vrrp { vrrp-group 2 { virtual-address 10.0.0.2/32 } vrrp-group 1 { " + vip + " priority 100 } } } }",
			unchanged: []string{"eth0/1", "eth0/2"}},
		{name: "priority changed", old: base, new: eth0(append(group("1", "priority 120", vip), group("2", "virtual-address 10.0.0.2")...)...),
			changed: []string{"eth0/1"}, unchanged: []string{"eth0/2"}},
		{name: "VIP added", old: base, new: eth0(append(group("1", vip, "virtual-address 10.0.0.9"), group("2", "virtual-address 10.0.0.2")...)...),
			changed: []string{"eth0/1"}, unchanged: []string{"eth0/2"}},
		{name: "group moved to a vif", old: base, new: eth0(group("2", "virtual-address 10.0.0.2")...) +
			wrap([]string{"ethernet eth0", "vif 5"}, group("1", vip)...),
			added: []string{"eth0.5/1"}, removed: []string{"eth0/1"}, unchanged: []string{"eth0/2"}},
		{name: "password changed", old: eth0(group("1", "authentication {", "password a", "type ah", "}", vip)...),
			new: eth0(group("1", "authentication {", "password b", "type ah", "}", vip)...), changed: []string{"eth0/1"}},
	}
	keys := func(ks []GroupKey) []string {
		var out []string
		for _, k := range ks {
			out = append(out, k.String())
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var old *Config
			if tt.old != "" {
				old = mustParse(t, tt.old)
			}
			added, removed, changed, unchanged := Diff(old, mustParse(t, tt.new))
			got := [][]string{keys(added), keys(removed), keys(changed), keys(unchanged)}
			want := [][]string{tt.added, tt.removed, tt.changed, tt.unchanged}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("added, removed, changed, unchanged:\n got %q\nwant %q", got, want)
			}
		})
	}
}
