package config

import (
	"regexp"
	"strings"
	"testing"
)

// conf builds a clusterd.conf: `cluster {` on line 1, the top lines from
// line 2 (column 5), then `group cluster1 {` and the group lines (column
// 9).
func conf(top, group []string) string {
	var b strings.Builder
	b.WriteString("cluster {\n")
	for _, l := range top {
		b.WriteString("    " + l + "\n")
	}
	b.WriteString("    group cluster1 {\n")
	for _, l := range group {
		b.WriteString("        " + l + "\n")
	}
	b.WriteString("    }\n}\n")
	return b.String()
}

var (
	top   = []string{"interface eth0", `pre-shared-secret "0123456789abcdef"`}   // lines 2-3; group on 4
	group = []string{"primary R1", "secondary R2", "service 10.0.0.100/24/eth0"} // lines 5-7
)

// with returns base with extra lines appended.
func with(base []string, extra ...string) []string {
	return append(append([]string(nil), base...), extra...)
}

// without returns base without the lines starting with prefix.
func without(base []string, prefix string) []string {
	var out []string
	for _, l := range base {
		if !strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse("clusterd.conf", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v\nsource:\n%s", err, src)
	}
	return c
}

// assertMessages checks that text has one line per wanted substring, in
// order.
func assertMessages(t *testing.T, text string, want []string) {
	t.Helper()
	var lines []string
	if text != "" {
		lines = strings.Split(text, "\n")
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d messages, want %d:\n%s", len(lines), len(want), text)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("message %d:\n got %s\nwant it to contain %s", i, lines[i], w)
		}
	}
}

// placed matches a wanted message that starts with line:col.
var placed = regexp.MustCompile(`^[0-9]+:[0-9]+: `)

// TestCommitErrors: every commit error of the spec (CL-E01..E06) and our
// rules beyond it, each with file:line:col and the node's path.
func TestCommitErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "line:col: path: message" substrings, in order
	}{
		// CL-E01: what must be there.
		{"CL_E01_NoPrimary", conf(top, without(group, "primary")),
			[]string{"4:11: cluster group cluster1: primary is required"}},
		{"CL_E01_NoSecondary", conf(top, without(group, "secondary")),
			[]string{"4:11: cluster group cluster1: secondary is required"}},
		{"CL_E01_NoService", conf(top, without(group, "service")),
			[]string{"4:11: cluster group cluster1: service is required"}},
		{"CL_E01_NoInterface", conf(without(top, "interface"), group),
			[]string{"1:1: cluster: interface is required"}},
		{"CL_E01_NoSecret", conf(without(top, "pre-shared-secret"), group),
			[]string{"1:1: cluster: pre-shared-secret is required"}},
		{"CL_E01_EmptySecret", conf(with(without(top, "pre-shared-secret"), `pre-shared-secret ""`), group),
			[]string{"3:5: cluster pre-shared-secret: the secret is empty"}},
		{"NoGroup", "cluster {\n    interface eth0\n    pre-shared-secret 0123456789abcdef\n}\n",
			[]string{"1:1: cluster: group is required"}},
		// CL-E02.
		{"CL_E02_TwoGroups", conf(with(top, "group other { primary R1 secondary R2 service 10.0.0.101/24/eth0 }"), group),
			[]string{"4:11: cluster group other: only one group is supported (the guide's limit): move its services into group cluster1"}},
		{"CL_E02_PrimaryIsSecondary", conf(top, []string{"primary R1", "secondary R1", "service ipsec"}),
			[]string{"6:9: cluster group cluster1 secondary: the secondary is R1, the primary too"}},
		{"BadHostName", conf(top, []string{"primary R1/x", "secondary R2", "service ipsec"}),
			[]string{`5:17: cluster group cluster1 primary: R1/x is not allowed (a host name`}},
		{"BadGroupName", strings.Replace(conf(top, group), "cluster1", "a/b", 1),
			[]string{`4:11: cluster group: a/b is not allowed (a group name`}},
		// CL-E03: malformed services.
		{"CL_E03_BadIP", conf(top, with(group, "service 10.0.0.300/24/eth0")),
			[]string{`8:17: cluster group cluster1 service: "10.0.0.300/24/eth0": 10.0.0.300 is not an IPv4 address`}},
		{"CL_E03_NoPrefix", conf(top, with(group, "service 10.0.0.101")),
			[]string{`8:17: cluster group cluster1 service: "10.0.0.101": the prefix length is missing; write 10.0.0.101/24`}},
		{"CL_E03_PrefixRange", conf(top, with(group, "service 10.0.0.101/33/eth0")),
			[]string{`8:17: cluster group cluster1 service: "10.0.0.101/33/eth0": prefix length "33" must be 1-32`}},
		{"CL_E03_PrefixZero", conf(top, with(group, "service 10.0.0.101/0")),
			[]string{`prefix length "0" must be 1-32`}},
		{"CL_E03_BadBroadcast", conf(top, with(group, "service 10.0.0.101/24/eth0/10.0.0.x")),
			[]string{`8:17: cluster group cluster1 service: "10.0.0.101/24/eth0/10.0.0.x": broadcast 10.0.0.x is not an IPv4 address`}},
		{"CL_E03_BroadcastOutside", conf(top, with(group, "service 10.0.0.101/24/eth0/10.0.1.255")),
			[]string{`broadcast 10.0.1.255 is not in 10.0.0.0/24`}},
		{"CL_E03_TooManyParts", conf(top, with(group, "service 10.0.0.101/24/eth0/10.0.0.255/x")),
			[]string{`too many parts; write ip/prefix[/interface[/broadcast]]`}},
		{"CL_E03_NetworkAddress", conf(top, with(group, "service 10.0.0.0/24/eth0")),
			[]string{`8:17: cluster group cluster1 service: "10.0.0.0/24/eth0": 10.0.0.0 is the network address of 10.0.0.0/24: choose a host address`}},
		{"CL_E03_BroadcastAddress", conf(top, with(group, "service 10.0.0.255/24/eth0")),
			[]string{`8:17: cluster group cluster1 service: "10.0.0.255/24/eth0": 10.0.0.255 is the broadcast address of 10.0.0.0/24`}},
		{"CL_E03_BadInterface", conf(top, with(group, "service 10.0.0.101/24/averyveryverylongname")),
			[]string{`interface name averyveryverylongname is longer than 15 characters`}},
		{"CL_E03_EmptyScriptName", conf(top, with(group, "service ::10.0.0.1")),
			[]string{`8:17: cluster group cluster1 service: "::10.0.0.1": the resource script name before :: is missing`}},
		{"CL_E03_EmptyScriptArg", conf(top, with(group, "service IPaddr2::")),
			[]string{`"IPaddr2::": argument 1 is empty`}},
		{"CL_E03_ScriptPath", conf(top, with(group, "service ../bin/sh::x")),
			[]string{`"../bin/sh" is not a script name in the resource directory`}},
		{"CL_E03_InitPath", conf(top, with(group, "service /etc/init.d/ipsec")),
			[]string{`"/etc/init.d/ipsec" is not a script name in the init directory`}},
		{"CL_E03_EmptyService", conf(top, with(group, `service ""`)),
			[]string{`8:17: cluster group cluster1 service: empty service`}},
		{"CL_E03_SpacesInInit", conf(top, with(group, `service "ipsec restart"`)),
			[]string{`only an IP service may have spaces`}},
		{"CL_E03_BadSpacedForm", conf(top, with(group, `service "10.0.0.101/24/eth0 10.0.0.255"`)),
			[]string{`write ip/prefix/interface[/broadcast] (or, quoted, "ip/prefix interface broadcast")`}},
		{"CL_E03_BadUnit", conf(top, with(group, "service systemd:a/b")),
			[]string{`"systemd:a/b": "a/b" is not a systemd unit name`}},
		{"CL_E03_LabelTooLong", "cluster {\n interface eth0\n pre-shared-secret 0123456789abcdef\n group g {\n  primary a\n  secondary b\n" +
			strings.Repeat("  service 10.0.0.2/24/enp0s31f6abcde\n", 1) + " }\n}\n",
			[]string{"7:11: cluster group g service: the alias label enp0s31f6abcde:0 is longer than 15 characters"}},
		// CL-E04.
		{"CL_E04_McastNotMulticast", conf(with(top, "mcast-group 10.1.2.3"), group),
			[]string{"4:17: cluster mcast-group: 10.1.2.3 is not a multicast address: choose one in 224.0.0.0/4"}},
		{"CL_E04_McastNotIPv4", conf(with(top, "mcast-group ff02::1"), group),
			[]string{`4:17: cluster mcast-group: "ff02::1" is not an IPv4 address`}},
		{"CL_E04_MonitorNotIPv4", conf(top, with(group, "monitor 10.6.0")),
			[]string{`8:17: cluster group cluster1 monitor: "10.6.0" is not an IPv4 address`}},
		{"CL_E04_MonitorMulticast", conf(top, with(group, "monitor 224.0.0.1")),
			[]string{`8:17: cluster group cluster1 monitor: 224.0.0.1 is not a unicast address`}},
		{"PeerNotUnicast", conf(with(top, "peer-address 0.0.0.0"), group),
			[]string{`4:18: cluster peer-address: 0.0.0.0 is not a unicast address`}},
		// CL-E05.
		{"CL_E05_DeadEqualsKeepalive", conf(with(top, "dead-interval 2000", "keepalive-interval 2000"), group),
			[]string{"4:5: cluster dead-interval: dead-interval 2000 ms must be longer than keepalive-interval 2000 ms (at least twice: 4000 ms)"}},
		{"CL_E05_DefaultDeadBelowKeepalive", conf(with(top, "keepalive-interval 30000"), group),
			[]string{"4:5: cluster keepalive-interval: dead-interval 20000 ms must be longer than keepalive-interval 30000 ms"}},
		{"CL_E05_NotAnInteger", conf(with(top, "keepalive-interval fast"), group),
			[]string{`4:24: cluster keepalive-interval: fast is not a duration (a number of milliseconds`}},
		{"CL_E05_Negative", conf(with(top, "dead-interval -5"), group),
			[]string{`4:19: cluster dead-interval: -5 is not a duration`}},
		{"CL_E05_KeepaliveRange", conf(with(top, "keepalive-interval 50"), group),
			[]string{"4:24: cluster keepalive-interval: 50 out of range 100-60000 milliseconds"}},
		{"CL_E05_DeadRange", conf(with(top, "dead-interval 3600001"), group),
			[]string{"4:19: cluster dead-interval: 3600001 out of range 1000-3600000 milliseconds"}},
		{"CL_E05_MonitorDeadRange", conf(with(top, "monitor-dead-interval 999"), group),
			[]string{"4:27: cluster monitor-dead-interval: 999 out of range 1000-3600000 milliseconds"}},
		{"CL_Q09_InitDeadRange", conf(with(top, "init-dead-interval 3600001"), group),
			[]string{"4:24: cluster init-dead-interval: 3600001 out of range 0-3600000 milliseconds"}},
		{"PortRange", conf(with(top, "port 0"), group),
			[]string{"4:10: cluster port: 0 out of range 1-65535"}},
		{"AutoFailbackValue", conf(top, with(group, "auto-failback yes")),
			[]string{`8:23: cluster group cluster1 auto-failback: yes is not one of true|false`}},
		// CL-E06.
		{"CL_E06_SameClusterIPTwice", conf(top, with(group, "service 10.0.0.100/25/eth1")),
			[]string{"8:17: cluster group cluster1 service: cluster IP 10.0.0.100 is already the service 10.0.0.100/24/eth0 at 7:17"}},
		{"CL_E06_SameServiceTwice", conf(top, with(group, "service 10.0.0.100/24/eth0")),
			[]string{"8:17: cluster group cluster1 service: cluster IP 10.0.0.100 is already the service"}},
		// Typos and syntax.
		{"CL_Q10_ColonAfterSecret", "cluster {\n    interface eth0\n    pre-shared-secret: \"!secret!\"\n}\n",
			[]string{"3:22: cluster: unexpected ':' after pre-shared-secret (write `pre-shared-secret VALUE`)"}},
		{"DidYouMean", conf(with(top, "dead-inteval 2000"), group),
			[]string{"4:5: cluster dead-inteval: unknown node (did you mean dead-interval?)"}},
		{"SingleValueTwice", conf(top, with(group, "primary R3")),
			[]string{"8:17: cluster group cluster1 primary: primary takes one value but is set again (first at 5:17)"}},
		{"NotOurSubtree", "interfaces {\n    ethernet eth0\n}\n",
			[]string{"1:1: interfaces: unknown node (allowed here: cluster)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("clusterd.conf", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error for\n%s", tt.src)
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = w
				if placed.MatchString(w) {
					want[i] = "clusterd.conf:" + w
				}
			}
			assertMessages(t, err.Error(), want)
		})
	}
}

// TestWarnings: what loads but deserves a word (CL-C02, CL-C11, CL-C13,
// CL-Q02).
func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"none", conf(top, group), nil},
		{"CL_C13_ShortSecret", conf([]string{"interface eth0", `pre-shared-secret "!secret!"`}, group),
			[]string{"3:5: cluster pre-shared-secret: the secret is 8 characters long: use at least 16"}},
		{"CL_C02_DeadBelowTwiceKeepalive", conf(with(top, "dead-interval 3000", "keepalive-interval 2000"), group),
			[]string{"4:5: cluster dead-interval: dead-interval 3000 ms is less than twice keepalive-interval 2000 ms"}},
		{"MonitorDeadBelowTwiceKeepalive", conf(with(top, "dead-interval 30000", "keepalive-interval 15000"), group),
			[]string{"5:5: cluster keepalive-interval: monitor-dead-interval 20000 ms is less than twice keepalive-interval 15000 ms"}},
		{"CL_C11_McastLinkLocal", conf(with(top, "mcast-group 224.0.0.18"), group),
			[]string{"4:5: cluster mcast-group: 224.0.0.18 is in 224.0.0.0/24, the link-local control block"}},
		{"CL_Q12_McastUnusedWithPeer", conf(with(top, "mcast-group 239.1.1.1", "peer-address 10.0.0.2"), group),
			[]string{"4:5: cluster mcast-group: unused: heartbeats go by unicast to peer-address"}},
		{"CL_Q02_DefaultInterface", conf(top, with(group, "service 10.0.0.101/24")),
			[]string{"8:17: cluster group cluster1 service: 10.0.0.101/24 names no interface: it goes on eth0, the guide's default"}},
		{"DuplicateMonitor", conf(top, with(group, "monitor 10.0.0.9", "monitor 10.0.0.9")),
			[]string{"9:17: cluster group cluster1 monitor: duplicate value 10.0.0.9 is ignored (first at 8:17)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.src)
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = "clusterd.conf:" + w
			}
			assertMessages(t, c.Warnings.Error(), want)
		})
	}
}

// TestValidateReportsWarningsWithErrors: `clusterd validate` shows both.
func TestValidateReportsWarningsWithErrors(t *testing.T) {
	src := conf(top, []string{"primary R1", "secondary R1", "service ipsec", "monitor 10.0.0.9", "monitor 10.0.0.9"})
	warnings, err := Validate("clusterd.conf", []byte(src))
	if err == nil || len(warnings) != 1 {
		t.Fatalf("got warnings %v and error %v, want one of each", warnings, err)
	}
}
