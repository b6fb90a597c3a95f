package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	hc "github.com/hasuite/hasuite/pkg/config"
)

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse("vrrpd.conf", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return c
}

// eth0 wraps group lines in `interfaces ethernet eth0 vrrp`, one node per
// line: the group's first line is line 4, indented to column 13.
func eth0(groupBody ...string) string {
	return wrap([]string{"ethernet eth0"}, groupBody...)
}

// wrap puts groupBody in `interfaces LEVEL... vrrp`, one block per line,
// indented by four spaces per level.
func wrap(levels []string, groupBody ...string) string {
	var b strings.Builder
	blocks := append(append([]string{"interfaces"}, levels...), "vrrp")
	for depth, block := range blocks {
		fmt.Fprintf(&b, "%s%s {\n", strings.Repeat("    ", depth), block)
	}
	indent := strings.Repeat("    ", len(blocks))
	for _, line := range groupBody {
		fmt.Fprintf(&b, "%s%s\n", indent, line)
	}
	for depth := len(blocks) - 1; depth >= 0; depth-- {
		fmt.Fprintf(&b, "%s}\n", strings.Repeat("    ", depth))
	}
	return b.String()
}

func group(id string, lines ...string) []string {
	out := []string{"vrrp-group " + id + " {"}
	for _, l := range lines {
		out = append(out, "    "+l)
	}
	return append(out, "}")
}

const vip = "virtual-address 10.0.0.1/24"

// TestCommitErrors: each commit error of the spec (VR-E*) and the rules
// beyond the guide, with the place and the path the message names.
func TestCommitErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "line:col: path: message" substrings, in order
	}{
		{"VR_E01_GroupIDRange", eth0(group("256", vip)...),
			[]string{"4:24: interfaces ethernet eth0 vrrp vrrp-group: 256 out of range 1-255"}},
		{"VR_E01_GroupIDZero", eth0(group("0", vip)...),
			[]string{"4:24: interfaces ethernet eth0 vrrp vrrp-group: 0 out of range 1-255"}},
		{"VR_E01_PriorityZero", eth0(group("1", "priority 0", vip)...),
			[]string{"5:26: interfaces ethernet eth0 vrrp vrrp-group 1 priority: 0 out of range 1-255"}},
		{"VR_E01_PriorityRange", eth0(group("1", "priority 256", vip)...),
			[]string{"5:26: interfaces ethernet eth0 vrrp vrrp-group 1 priority: 256 out of range 1-255"}},
		{"VR_E01_IntervalRange", eth0(group("1", "advertise-interval 256", vip)...),
			[]string{"5:36: interfaces ethernet eth0 vrrp vrrp-group 1 advertise-interval: 256 out of range"}},
		{"VR_E01_IntervalNotNumber", eth0(group("1", "advertise-interval fast", vip)...),
			[]string{`5:36: interfaces ethernet eth0 vrrp vrrp-group 1 advertise-interval: "fast" is not a number of seconds`}},
		{"VR_E01_IntervalFractionV2", eth0(group("1", "advertise-interval 0.5", vip)...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 advertise-interval: 0.5: version 2 takes whole seconds"}},
		{"VR_E01_PreemptDelayRange", eth0(group("1", "preempt-delay 3601", vip)...),
			[]string{"5:31: interfaces ethernet eth0 vrrp vrrp-group 1 preempt-delay:"}},
		{"VR_E01_VLANRange", wrap([]string{"ethernet eth0", "vif 4095"}, group("1", vip)...),
			[]string{"3:13: interfaces ethernet eth0 vif: 4095 out of range 0-4094"}},
		{"VR_E02_PasswordWithoutType", eth0(group("1", "authentication {", "    password secret", "}", vip)...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 authentication: password and type must be set together (missing: type)"}},
		{"VR_E02_TypeWithoutPassword", eth0(group("1", "authentication {", "    type ah", "}", vip)...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 authentication: password and type must be set together (missing: password)"}},
		{"VR_E03_PasswordTooLong", eth0(group("1", "authentication {", "    password 123456789", "    type ah", "}", vip)...),
			[]string{"6:30: interfaces ethernet eth0 vrrp vrrp-group 1 authentication password:"}},
		{"VR_E03_PasswordEmpty", eth0(group("1", "authentication {", `    password ""`, "    type ah", "}", vip)...),
			[]string{"6:21: interfaces ethernet eth0 vrrp vrrp-group 1 authentication password: the password is empty"}},
		{"VR_E03_UnknownAuthType", eth0(group("1", "authentication {", "    password secret", "    type md5", "}", vip)...),
			[]string{"7:26: interfaces ethernet eth0 vrrp vrrp-group 1 authentication type:"}},
		{"VR_E04_NoVIP", eth0(group("1", "priority 10")...),
			[]string{"4:24: interfaces ethernet eth0 vrrp vrrp-group 1: virtual-address is required"}},
		{"VR_E04_TooManyVIPs", eth0(group("1", manyVIPs(21)...)...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 virtual-address: 21 virtual addresses: at most 20 per group"}},
		{"VR_E04_MalformedVIP", eth0(group("1", "virtual-address 10.0.0.300")...),
			[]string{`5:33: interfaces ethernet eth0 vrrp vrrp-group 1 virtual-address: "10.0.0.300" is not an IPv4 or IPv6 address`}},
		{"VR_E04_PrefixTooLong", eth0(group("1", "virtual-address 10.0.0.1/33")...),
			[]string{"5:33: interfaces ethernet eth0 vrrp vrrp-group 1 virtual-address: 10.0.0.1/33: the length after / must be 0-32"}},
		{"VR_E05_OwnerWithoutPreempt", eth0(group("1", "priority 255", "preempt false", "rfc3768-compatibility", vip)...),
			[]string{"6:17: interfaces ethernet eth0 vrrp vrrp-group 1 preempt: the address owner (priority 255) always preempts"}},
		{"VR_E05_OwnerWithHelloSource", eth0(group("1", "priority 255", "hello-source-address 10.0.0.2", "rfc3768-compatibility", vip)...),
			[]string{"6:17: interfaces ethernet eth0 vrrp vrrp-group 1 hello-source-address: not allowed for the address owner"}},
		{"VR_E06_MirrorOnVif", wrap([]string{"ethernet eth0", "vif 15"}, group("1", "interface {", "    mirror eth2", "}", "rfc3768-compatibility", vip)...),
			[]string{"7:25: interfaces ethernet eth0 vif 15 vrrp vrrp-group 1 interface mirror: only allowed under interfaces ethernet IF"}},
		{"VR_E06_RedirectOnBonding", wrap([]string{"bonding bond1"}, group("1", "interface {", "    redirect ifb0", "}", "rfc3768-compatibility", vip)...),
			[]string{"6:21: interfaces bonding bond1 vrrp vrrp-group 1 interface redirect: only allowed under interfaces ethernet IF"}},
		{"VR_E07_PreemptNotBool", eth0(group("1", "preempt yes", vip)...),
			[]string{"5:25: interfaces ethernet eth0 vrrp vrrp-group 1 preempt:"}},
		{"VR_E08_VRRPInterfaceNameTooLong", wrap([]string{"ethernet enp3s0f1", "vif 4001"}, group("255", "rfc3768-compatibility", vip)...),
			[]string{"5:28: interfaces ethernet enp3s0f1 vif 4001 vrrp vrrp-group 255: the VRRP interface name enp3s0f1.4001v255 is longer than 15 characters: set interface name NAME"}},
		{"VR_E08_VLANInterfaceNameTooLong", wrap([]string{"ethernet enp3s0f1np0", "vif 4001"}, group("2", vip)...),
			[]string{"5:28: interfaces ethernet enp3s0f1np0 vif 4001 vrrp vrrp-group 2: the VLAN interface name enp3s0f1np0.4001 is longer than 15"}},
		{"VR_E08_OverriddenNamesCollide", eth0(append(group("1", "interface {", "    name vr1", "}", vip),
			group("2", "interface {", "    name vr1", "}", "virtual-address 10.0.0.2")...)...),
			[]string{"10:24: interfaces ethernet eth0 vrrp vrrp-group 2: VRRP interface name vr1 is already used by eth0/1 at 4:24"}},
		{"VR_E09_VIPInTwoGroups", eth0(append(group("1", vip), group("2", "virtual-address 10.0.0.1/32")...)...),
			[]string{"8:17: interfaces ethernet eth0 vrrp vrrp-group 2 virtual-address: 10.0.0.1 is already a virtual address of eth0/1 at 5:17"}},
		{"VR_E09_VIPOnTwoInterfaces",
			"interfaces {\n ethernet eth0 { vrrp { vrrp-group 1 { " + vip + " } } }\n ethernet eth1 { vrrp { vrrp-group 1 { " + vip + " } } }\n}\n",
			[]string{"3:40: interfaces ethernet eth1 vrrp vrrp-group 1 virtual-address: 10.0.0.1 is already a virtual address of eth0/1 at 2:40"}},
		{"VR_C30_SyncGroupName", eth0(group("1", "sync-group \"a b\"", vip)...),
			[]string{"5:28: interfaces ethernet eth0 vrrp vrrp-group 1 sync-group:"}},
		{"V3_IPv6NeedsVersion3", eth0(group("1", "virtual-address 2001:db8::1")...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 virtual-address: IPv6 address 2001:db8::1/128 needs version 3"}},
		{"V3_MixedFamilies", eth0(group("1", "version 3", "virtual-address 2001:db8::1", vip)...),
			[]string{"6:17: interfaces ethernet eth0 vrrp vrrp-group 1 virtual-address: 10.0.0.1/24: a group's virtual addresses are all IPv4 or all IPv6"}},
		{"V3_IntervalAboveMax", eth0(group("1", "version 3", "advertise-interval 41", vip)...),
			[]string{"6:17: interfaces ethernet eth0 vrrp vrrp-group 1 advertise-interval: 41 out of range 0.01-40.95 for version 3"}},
		{"V3_IntervalThreeDecimals", eth0(group("1", "version 3", "advertise-interval 0.125", vip)...),
			[]string{`6:36: interfaces ethernet eth0 vrrp vrrp-group 1 advertise-interval: "0.125" is not a number of seconds with at most two decimals`}},
		{"V3_NoAuthentication", eth0(group("1", "version 3", "authentication {", "    password secret", "    type plaintext-password", "}", vip)...),
			[]string{"6:17: interfaces ethernet eth0 vrrp vrrp-group 1 authentication: version 3 has no authentication"}},
		{"V3_VersionRange", eth0(group("1", "version 4", vip)...),
			[]string{"5:25: interfaces ethernet eth0 vrrp vrrp-group 1 version: 4 out of range 2-3"}},
		{"V3_ChecksumNeedsVersion3", eth0(group("1", "checksum without-pseudo-header", vip)...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 checksum: version 2 has a single checksum"}},
		{"V3_IPv6ChecksumHasPseudoHeader", eth0(group("1", "version 3", "checksum without-pseudo-header", "virtual-address 2001:db8::1")...),
			[]string{"6:17: interfaces ethernet eth0 vrrp vrrp-group 1 checksum: IPv6 checksums always have a pseudo-header"}},
		{"V3_UnknownChecksum", eth0(group("1", "version 3", "checksum crc", vip)...),
			[]string{"6:26: interfaces ethernet eth0 vrrp vrrp-group 1 checksum:"}},
		{"PeerFamily", eth0(group("1", "peer-address 2001:db8::2", vip)...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 peer-address: 2001:db8::2 is not of the family of the virtual addresses (IPv4)"}},
		{"PeerMulticast", eth0(group("1", "peer-address 224.0.0.18", vip)...),
			[]string{"5:30: interfaces ethernet eth0 vrrp vrrp-group 1 peer-address: 224.0.0.18 is not a unicast address"}},
		{"HelloSourceFamily", eth0(group("1", "version 3", "hello-source-address 10.0.0.2", "virtual-address 2001:db8::1")...),
			[]string{"6:17: interfaces ethernet eth0 vrrp vrrp-group 1 hello-source-address: 10.0.0.2 is not of the family of the virtual addresses (IPv6)"}},
		{"UnknownNodeInGroup", eth0(group("1", "priorty 10", vip)...),
			[]string{"5:17: interfaces ethernet eth0 vrrp vrrp-group 1 priorty: unknown node (did you mean priority?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("vrrpd.conf", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error for\n%s", tt.src)
			}
			var d *hc.Diagnostic
			if !errors.As(err, &d) || d.File != "vrrpd.conf" {
				t.Errorf("the error is not a Diagnostic naming the file: %#v", err)
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = "vrrpd.conf:" + w
			}
			assertMessages(t, err.Error(), want)
		})
	}
}

func manyVIPs(n int) []string {
	var lines []string
	for i := range n {
		lines = append(lines, fmt.Sprintf("virtual-address 10.0.0.%d", i+1))
	}
	return lines
}
