package config

import (
	"regexp"
	"strings"
	"testing"
)

// conf builds a ctsyncd.conf: `service {` on line 1, `conntrack-sync {`
// on line 2 (column 5), then lines from line 3 (column 9).
func conf(lines ...string) string {
	var b strings.Builder
	b.WriteString("service {\n    conntrack-sync {\n")
	for _, l := range lines {
		b.WriteString("        " + l + "\n")
	}
	b.WriteString("    }\n}\n")
	return b.String()
}

// base is the smallest valid block: lines 3-4; what a test adds starts on
// line 5.
var base = []string{"interface eth1", "failover-mechanism { vrrp { sync-group TESTING } }"}

// with returns base with extra lines appended.
func with(extra ...string) []string {
	return append(append([]string(nil), base...), extra...)
}

// without returns base without the lines starting with prefix.
func without(prefix string) []string {
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
	c, err := Parse("ctsyncd.conf", []byte(src))
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

func inFile(want []string) []string {
	out := make([]string, len(want))
	for i, w := range want {
		out[i] = w
		if placed.MatchString(w) {
			out[i] = "ctsyncd.conf:" + w
		}
	}
	return out
}

// TestCommitErrors: every commit error of the spec (CS-E01..E04) and of
// the nodes beyond the guide, each with file:line:col, the node's path and
// what to write instead.
func TestCommitErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "line:col: path: message" substrings, in order
	}{
		// CS-E01: what must be there, and only one mechanism.
		{"CS_E01_NoInterface", conf(without("interface")...),
			[]string{"2:5: service conntrack-sync: interface is required (interface name)"}},
		{"CS_E01_NoMechanism", conf(without("failover-mechanism")...),
			[]string{"2:5: service conntrack-sync: no failover mechanism: add failover-mechanism { vrrp { sync-group NAME } } or failover-mechanism { cluster { group NAME } }"}},
		{"CS_E01_NoInterfaceNorMechanism", conf("accept-protocol tcp"),
			[]string{"2:5: service conntrack-sync: interface is required"}},
		{"CS_E01_EmptyMechanism", conf("interface eth1", "failover-mechanism { }"),
			[]string{"4:9: service conntrack-sync failover-mechanism: no failover mechanism in the block: write failover-mechanism { vrrp { sync-group NAME } } or"}},
		{"CS_E01_BothMechanisms", conf(with("failover-mechanism { cluster { group TEST } }")...),
			[]string{"5:30: service conntrack-sync failover-mechanism: cluster and vrrp cannot be set together (choose one)"}},
		{"CS_C05_ClusterWithoutGroup", conf("interface eth1", "failover-mechanism { cluster { } }"),
			[]string{"4:30: service conntrack-sync failover-mechanism cluster: group is required (a group name"}},
		{"CS_C06_VRRPWithoutSyncGroup", conf("interface eth1", "failover-mechanism { vrrp { } }"),
			[]string{"4:30: service conntrack-sync failover-mechanism vrrp: sync-group is required (a group name"}},
		{"CS_C06_BadGroupName", conf("interface eth1", "failover-mechanism { vrrp { sync-group a/b } }"),
			[]string{`4:48: service conntrack-sync failover-mechanism vrrp sync-group: a/b is not allowed (a group name of 1-64 letters`}},
		{"CS_C05_GuideAsPrinted", conf("interface eth1", "failover-mechanism cluster { group TEST }"),
			[]string{"4:9: service conntrack-sync failover-mechanism: failover-mechanism is a block: write failover-mechanism { ... }"}},
		{"CS_C08_BadInterface", conf("interface averyveryverylongname", base[1]),
			[]string{`3:19: service conntrack-sync interface: interface name averyveryverylongname is longer than 15 characters`}},
		{"CS_C08_TwoInterfaces", conf(with("interface eth2")...),
			[]string{"5:19: service conntrack-sync interface: interface takes one value but is set again (first at 3:19)"}},

		// CS-E02, CS-Q01.
		{"CS_E02_McastNotMulticast", conf(with("mcast-group 10.1.2.3")...),
			[]string{"5:21: service conntrack-sync mcast-group: 10.1.2.3 is not a multicast address: choose one in 224.0.0.0/4, e.g. the default 225.0.0.50"}},
		{"CS_Q01_GuideDefaultIsATypo", conf(with("mcast-group 255.0.0.50")...),
			[]string{"5:21: service conntrack-sync mcast-group: 255.0.0.50 is not a multicast address: the guide's default 255.0.0.50 is a typo for 225.0.0.50 (conntrackd's group): write mcast-group 225.0.0.50, or delete mcast-group to use it"}},
		{"CS_E02_McastNotIPv4", conf(with("mcast-group ff02::1")...),
			[]string{`5:21: service conntrack-sync mcast-group: "ff02::1" is not an IPv4 address (a.b.c.d)`}},

		// CS-E03: protocols, helpers, queue sizes.
		{"CS_E03_UnknownProtocol", conf(with("accept-protocol tcp,gre")...),
			[]string{`5:25: service conntrack-sync accept-protocol: "tcp,gre": gre is not a protocol accept-protocol knows: choose from tcp, udp, sctp, icmp, or delete accept-protocol to sync every protocol`}},
		{"CS_E03_ProtocolCase", conf(with("accept-protocol TCP")...),
			[]string{`"TCP": TCP is not a protocol accept-protocol knows (write tcp): choose from tcp, udp, sctp, icmp`}},
		{"CS_E03_EmptyProtocolList", conf(with(`accept-protocol ""`)...),
			[]string{`5:25: service conntrack-sync accept-protocol: "" names no protocol: write a comma-separated list of tcp, udp, sctp, icmp, or delete accept-protocol to sync every protocol`}},
		{"CS_E03_EmptyProtocolName", conf(with("accept-protocol tcp,,udp")...),
			[]string{`5:25: service conntrack-sync accept-protocol: "tcp,,udp": an empty name between commas: write e.g. tcp,udp`}},
		{"CS_E03_TrailingComma", conf(with("accept-protocol tcp,")...),
			[]string{`5:25: service conntrack-sync accept-protocol: "tcp,": a name is missing after the last comma: write the list without spaces (tcp,udp) or quote it ("tcp, udp")`}},
		{"CS_E03_ProtocolsWithoutCommas", conf(with(`accept-protocol "tcp udp"`)...),
			[]string{`5:25: service conntrack-sync accept-protocol: "tcp udp": separate the protocols with commas, e.g. tcp,udp`}},
		// Spaces after the commas need quotes; unquoted, the value ends at
		// the comma and the next name reads as a node of its own.
		{"CS_C02_UnquotedSpaces", conf(with("accept-protocol tcp, udp")...),
			[]string{`5:25: service conntrack-sync accept-protocol: "tcp,": a name is missing after the last comma: write the list without spaces (tcp,udp) or quote it`,
				`5:30: service conntrack-sync udp: unknown node`}},
		{"CS_C02_OneNodeNotMulti", conf(with("accept-protocol tcp", "accept-protocol udp")...),
			[]string{"6:25: service conntrack-sync accept-protocol: accept-protocol takes one value but is set again (first at 5:25)"}},
		{"CS_E03_UnknownExpect", conf(with("expect-sync tftp")...),
			[]string{`5:21: service conntrack-sync expect-sync: tftp is not one of all|ftp|h323|nfs|sip|sqlnet`}},
		{"CS_E03_QueueWithUnit", conf(with("event-listen-queue-size 8MB")...),
			[]string{`5:33: service conntrack-sync event-listen-queue-size: "8MB" is not a whole number of megabytes: write the number alone, e.g. 8 (1-1024, no unit)`}},
		{"CS_E03_QueueZero", conf(with("sync-queue-size 0")...),
			[]string{"5:25: service conntrack-sync sync-queue-size: 0: a size must be at least 1 MB"}},
		{"CS_E03_QueueNegative", conf(with("sync-queue-size -1")...),
			[]string{"5:25: service conntrack-sync sync-queue-size: -1: a size must be at least 1 MB"}},
		{"CS_E03_QueueOverLimit", conf(with("event-listen-queue-size 1025")...),
			[]string{"5:33: service conntrack-sync event-listen-queue-size: 1025 MB is over the limit of 1024 MB: write a size from 1 to 1024"}},
		{"CS_E03_QueueHuge", conf(with("sync-queue-size 99999999999999999999999")...),
			[]string{"99999999999999999999999 MB is over the limit of 1024 MB"}},
		{"CS_E03_QueueFraction", conf(with("sync-queue-size 1.5")...),
			[]string{`"1.5" is not a whole number of megabytes`}},

		// CS-E04, CS-Q05.
		{"CS_E04_IgnoreBadAddress", conf(with("ignore-address { ipv4 10.0.0.300 }")...),
			[]string{`5:31: service conntrack-sync ignore-address ipv4: "10.0.0.300": "10.0.0.300" is not an IPv4 address; write a.b.c.d or a.b.c.d/len, e.g. 127.0.0.1 or 224.0.0.0/24`}},
		{"CS_E04_IgnoreBadLength", conf(with("ignore-address { ipv4 10.0.0.0/33 }")...),
			[]string{`5:31: service conntrack-sync ignore-address ipv4: "10.0.0.0/33": the length "33" must be a number 0-32 (a.b.c.d/len)`}},
		{"CS_E04_IgnoreLengthNotANumber", conf(with("ignore-address { ipv4 10.0.0.0/x }")...),
			[]string{`"10.0.0.0/x": the length "x" must be a number 0-32`}},
		{"CS_E04_IgnoreIPv6", conf(with("ignore-address { ipv4 ::1 }")...),
			[]string{`5:31: service conntrack-sync ignore-address ipv4: "::1" is not an IPv4 address: only IPv4 connections are synced (CS-B01)`}},
		{"CS_E04_IgnoreSecondBad", conf(with("ignore-address { ipv4 127.0.0.1 ipv4 1.2.3 }")...),
			[]string{`5:46: service conntrack-sync ignore-address ipv4: "1.2.3": "1.2.3" is not an IPv4 address`}},
		{"CS_Q05_IgnoreWithoutIPv4Level", conf(with("ignore-address 127.0.0.1")...),
			[]string{"5:9: service conntrack-sync ignore-address: ignore-address is a block: write ignore-address { ... }"}},

		// Beyond the guide.
		{"PeerNotUnicast", conf(with("peer 225.0.0.50")...),
			[]string{"5:14: service conntrack-sync peer: 225.0.0.50 is not a unicast address: write the peer's address on the sync link (or delete peer to use mcast-group)"}},
		{"PeerNotIPv4", conf(with("peer r2")...),
			[]string{`5:14: service conntrack-sync peer: "r2" is not an IPv4 address (a.b.c.d)`}},
		{"PortRange", conf(with("port 0")...),
			[]string{"5:14: service conntrack-sync port: 0 out of range 1-65535"}},
		{"EmptySecret", conf(with(`secret ""`)...),
			[]string{"5:9: service conntrack-sync secret: the secret is empty: write at least 16 characters, the same on both nodes, or delete secret to send unauthenticated messages"}},
		{"DeadEqualsKeepalive", conf(with("keepalive-interval 2000", "dead-interval 2000")...),
			[]string{"6:9: service conntrack-sync dead-interval: dead-interval 2000 ms must be longer than keepalive-interval 2000 ms (at least twice: 4000 ms)"}},
		{"DefaultDeadBelowKeepalive", conf(with("keepalive-interval 6000")...),
			[]string{"5:9: service conntrack-sync keepalive-interval: dead-interval 5000 ms must be longer than keepalive-interval 6000 ms"}},
		{"KeepaliveRange", conf(with("keepalive-interval 50")...),
			[]string{"5:28: service conntrack-sync keepalive-interval: 50 out of range 100-60000 milliseconds"}},
		{"DeadNotADuration", conf(with("dead-interval soon")...),
			[]string{`5:23: service conntrack-sync dead-interval: soon is not a duration`}},

		// Typos, syntax and other subtrees.
		{"DidYouMean", conf(with("mcast-groop 225.0.0.51")...),
			[]string{"5:9: service conntrack-sync mcast-groop: unknown node (did you mean mcast-group?)"}},
		{"ColonAfterName", conf(with("interface: eth1")...),
			[]string{"5:18: service conntrack-sync: unexpected ':' after interface (write `interface VALUE`)"}},
		{"OtherService", "service {\n    https {\n    }\n}\n",
			[]string{"2:5: service https: unknown node (allowed here: conntrack-sync)"}},
		{"NotOurSubtree", "cluster {\n    interface eth0\n}\n",
			[]string{"1:1: cluster: unknown node (allowed here: service)"}},
		{"ServiceAsOneWord", "service conntrack-sync {\n    interface eth1\n}\n",
			[]string{"1:1: service: service is a block: write service { ... }"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("ctsyncd.conf", []byte(tt.src))
			if err == nil {
				t.Fatalf("no error for\n%s", tt.src)
			}
			assertMessages(t, err.Error(), inFile(tt.want))
		})
	}
}

// TestWarnings: what loads but deserves a word (CS-C02, CS-C04, CS-C07,
// and the nodes beyond the guide).
func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"none", conf(base...), nil},
		{"CS_C02_DuplicateProtocol", conf(with(`accept-protocol "tcp, udp,tcp"`)...),
			[]string{"5:25: service conntrack-sync accept-protocol: tcp named more than once: the repeat is ignored"}},
		{"CS_C04_AllWithOthers", conf(with("expect-sync ftp", "expect-sync all", "expect-sync sip")...),
			[]string{"6:21: service conntrack-sync expect-sync: all already syncs every helper's expectations: expect-sync ftp, sip is redundant (delete it, or delete all to sync only the helpers named)"}},
		{"CS_C04_DuplicateHelper", conf(with("expect-sync ftp", "expect-sync ftp")...),
			[]string{"6:21: service conntrack-sync expect-sync: duplicate value ftp is ignored (first at 5:21)"}},
		{"CS_C07_HostBits", conf(with("ignore-address { ipv4 10.1.2.3/24 }")...),
			[]string{"5:31: service conntrack-sync ignore-address ipv4: 10.1.2.3/24 has host bits set: it ignores the network 10.1.2.0/24 (write that)"}},
		{"CS_C07_IgnoreEverything", conf(with("ignore-address { ipv4 0.0.0.0/0 }")...),
			[]string{"5:31: service conntrack-sync ignore-address ipv4: 0.0.0.0/0 ignores every connection: nothing will be synced"}},
		{"CS_C07_DuplicateAddress", conf(with("ignore-address { ipv4 127.0.0.1 }", "ignore-address { ipv4 127.0.0.1 }")...),
			[]string{"6:31: service conntrack-sync ignore-address ipv4: duplicate value 127.0.0.1 is ignored (first at 5:31)"}},
		{"ShortSecret", conf(with("secret testing")...),
			[]string{"5:9: service conntrack-sync secret: the secret is 7 characters long: use at least 16 so sync messages cannot be forged by guessing it"}},
		{"DeadBelowTwiceKeepalive", conf(with("keepalive-interval 2000", "dead-interval 3000")...),
			[]string{"6:9: service conntrack-sync dead-interval: dead-interval 3000 ms is less than twice keepalive-interval 2000 ms"}},
		{"McastLinkLocal", conf(with("mcast-group 224.0.0.50")...),
			[]string{"5:9: service conntrack-sync mcast-group: 224.0.0.50 is in 224.0.0.0/24, the link-local control block of routing protocols: prefer 225.0.0.50"}},
		{"McastUnusedWithPeer", conf(with("mcast-group 239.1.1.1", "peer 10.0.0.2")...),
			[]string{"5:9: service conntrack-sync mcast-group: unused: sync messages go by unicast to peer 10.0.0.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.src)
			assertMessages(t, c.Warnings.Error(), inFile(tt.want))
		})
	}
}

// TestValidateReportsWarningsWithErrors: `ctsyncd validate` shows both.
func TestValidateReportsWarningsWithErrors(t *testing.T) {
	src := conf(with("secret short", "mcast-group 255.0.0.50")...)
	warnings, err := Validate("ctsyncd.conf", []byte(src))
	if err == nil || len(warnings) != 0 {
		// The secret check runs only on a block without errors.
		t.Fatalf("got warnings %v and error %v, want the error alone", warnings, err)
	}
	warnings, err = Validate("ctsyncd.conf", []byte(conf(with("expect-sync ftp", "expect-sync ftp", "port 0")...)))
	if err == nil || len(warnings) != 1 {
		t.Fatalf("got warnings %v and error %v, want one of each", warnings, err)
	}
}
