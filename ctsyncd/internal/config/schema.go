package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	hc "github.com/hasuite/hasuite/pkg/config"
)

// Defaults and limits of the guide, and of this implementation where the
// guide is silent (spec CS-C*, CS-Q01).
const (
	// DefaultMulticastGroup is conntrackd's group, which the guide's own
	// cache listings show in use; the guide's stated 255.0.0.50 is a typo
	// (CS-C09, CS-Q01).
	DefaultMulticastGroup = "225.0.0.50"
	// DefaultPort is the sync channel's UDP port (conntrackd's, CS-C09).
	DefaultPort = 3780
	// MaxQueueMB bounds both queue sizes (CS-C03, CS-C10: the guide
	// states no range).
	MaxQueueMB = 1024
	// minSecret is the shortest secret that does not draw a warning (as
	// clusterd's pre-shared-secret).
	minSecret = 16
	// typoGroup is the guide's default mcast-group as printed (6741).
	typoGroup = "255.0.0.50"
)

var (
	ifName    = hc.IfName()
	groupName = hc.Pattern(`[A-Za-z0-9_.-]{1,64}`, "a group name of 1-64 letters, digits, '_', '.' or '-'")
	// linkLocalControl is where routing protocols talk (OSPF, VRRP...).
	linkLocalControl = netip.MustParsePrefix("224.0.0.0/24")
)

func milliseconds(min, max time.Duration) hc.Type { return hc.Duration(time.Millisecond, min, max) }

// schema is ctsyncd's part of the configuration (spec ctsyncd.md section
// 1): `service conntrack-sync`. keepalive-interval, dead-interval, peer,
// port and secret are beyond the guide (issue 5).
var schema = hc.MustSchema(
	hc.Container("service", hc.Help("services; ctsyncd reads only conntrack-sync"),
		hc.Container("conntrack-sync", hc.Help("replicate the connection tracking table to the failover peer; absent = off"),
			hc.Leaf("accept-protocol", protocolList{}, hc.Check(checkAcceptProtocol),
				hc.Help("comma-separated tcp,udp,sctp,icmp to sync; absent = every protocol")),
			hc.Leaf("dead-interval", milliseconds(time.Second, time.Hour), hc.Default("5000"),
				hc.Help("ms without a message from the peer before it is considered gone")),
			hc.Leaf("event-listen-queue-size", megabytes{}, hc.Default("8"),
				hc.Help("MB of kernel buffer for conntrack events")),
			hc.Leaf("expect-sync", hc.Enum(expectAll, "ftp", "h323", "nfs", "sip", "sqlnet"), hc.Multi(), hc.Check(checkExpectSync),
				hc.Help("sync the expectation table of this helper (or all); absent = expectations are not synced")),
			hc.Container("failover-mechanism", hc.Help("the failover group whose takeover commits the peer's connections here"),
				hc.MutuallyExclusive("cluster", "vrrp"),
				hc.Container("cluster", hc.Help("follow a clusterd resource group"),
					hc.Leaf("group", groupName, hc.Required(), hc.Help("the cluster group's name"))),
				hc.Container("vrrp", hc.Help("follow a vrrpd sync group"),
					hc.Leaf("sync-group", groupName, hc.Required(), hc.Help("the VRRP sync group's name"))),
				hc.Check(checkMechanism),
			),
			hc.Container("ignore-address", hc.Help("connections to or from these are not synced"),
				hc.Leaf("ipv4", ignoreAddr{}, hc.Multi(), hc.Check(checkIgnore),
					hc.Help("an IPv4 address or network a.b.c.d[/len]"))),
			hc.Leaf("interface", ifName, hc.Required(), hc.Help("the link to the peer the sync messages use")),
			hc.Leaf("keepalive-interval", milliseconds(100*time.Millisecond, time.Minute), hc.Default("1000"),
				hc.Help("ms between keep-alives on an idle channel")),
			hc.Leaf("mcast-group", multicastIPv4{}, hc.Default(DefaultMulticastGroup),
				hc.Help("multicast group of the sync messages")),
			hc.Leaf("peer", unicastIPv4{}, hc.Help("send the sync messages by unicast to this address instead of mcast-group")),
			hc.Leaf("port", hc.Int(1, 65535), hc.Default(strconv.Itoa(DefaultPort)), hc.Help("UDP port of the sync messages")),
			hc.Leaf("secret", hc.String(), hc.Help("authenticates the sync messages (HMAC); the same on both nodes")),
			hc.Leaf("sync-queue-size", megabytes{}, hc.Default("1"),
				hc.Help("MB of send and receive queue for sync messages")),
			hc.Check(checkSync),
		),
	),
)

// Schema returns ctsyncd's schema, for help output and `set`-style editing.
func Schema() *hc.Schema { return schema }

// megabytes is a queue size: a whole number of MB, 1..MaxQueueMB (CS-E03).
type megabytes struct{}

func (megabytes) String() string { return fmt.Sprintf("a whole number of megabytes, 1-%d", MaxQueueMB) }

func (megabytes) Check(value string) error {
	n, err := strconv.ParseUint(value, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange) || err == nil && n > MaxQueueMB:
		return fmt.Errorf("%s MB is over the limit of %d MB: write a size from 1 to %d", value, MaxQueueMB, MaxQueueMB)
	case strings.HasPrefix(value, "-"):
		return fmt.Errorf("%s: a size must be at least 1 MB", value)
	case err != nil:
		return fmt.Errorf("%q is not a whole number of megabytes: write the number alone, e.g. 8 (1-%d, no unit)", value, MaxQueueMB)
	case n == 0:
		return fmt.Errorf("0: a size must be at least 1 MB")
	}
	return nil
}

// multicastIPv4 is mcast-group: an address in 224.0.0.0/4 (CS-E02). The
// guide's default 255.0.0.50 gets a word of its own (CS-Q01).
type multicastIPv4 struct{}

func (multicastIPv4) String() string { return "an IPv4 multicast address (224.0.0.0/4)" }

func (multicastIPv4) Check(value string) error {
	a, err := netip.ParseAddr(value)
	switch {
	case err != nil || !a.Is4():
		return fmt.Errorf("%q is not an IPv4 address (a.b.c.d)", value)
	case value == typoGroup:
		return fmt.Errorf("%s is not a multicast address: the guide's default %s is a typo for %s (conntrackd's group): "+
			"write mcast-group %s, or delete mcast-group to use it", a, typoGroup, DefaultMulticastGroup, DefaultMulticastGroup)
	case !a.IsMulticast():
		return fmt.Errorf("%s is not a multicast address: choose one in 224.0.0.0/4, e.g. the default %s", a, DefaultMulticastGroup)
	}
	return nil
}

// unicastIPv4 is the peer: one IPv4 host address.
type unicastIPv4 struct{}

func (unicastIPv4) String() string { return "an IPv4 unicast address" }

func (unicastIPv4) Check(value string) error {
	a, err := netip.ParseAddr(value)
	switch {
	case err != nil || !a.Is4():
		return fmt.Errorf("%q is not an IPv4 address (a.b.c.d)", value)
	case a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is not a unicast address: write the peer's address on the sync link (or delete peer to use mcast-group)", a)
	}
	return nil
}

// ignoreAddr is an ignore-address ipv4 value: a.b.c.d or a.b.c.d/len
// (CS-C07, CS-E04).
type ignoreAddr struct{}

func (ignoreAddr) String() string { return "an IPv4 address a.b.c.d or network a.b.c.d/len" }

func (ignoreAddr) Check(value string) error {
	_, err := ParseIgnore(value)
	return err
}

// ParseIgnore reads an ignore-address ipv4 value into the prefix it
// ignores: an address is a /32; a network keeps its length and loses any
// host bits (checkIgnore warns about them).
func ParseIgnore(value string) (netip.Prefix, error) {
	addr, bits, hasLen := strings.Cut(value, "/")
	a, err := netip.ParseAddr(addr)
	switch {
	case err != nil:
		return netip.Prefix{}, fmt.Errorf("%q: %q is not an IPv4 address; write a.b.c.d or a.b.c.d/len, e.g. 127.0.0.1 or 224.0.0.0/24", value, addr)
	case !a.Is4():
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 address: only IPv4 connections are synced (CS-B01); write a.b.c.d or a.b.c.d/len", value)
	case !hasLen:
		return netip.PrefixFrom(a, 32), nil
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n < 0 || n > 32 || bits != strconv.Itoa(n) {
		return netip.Prefix{}, fmt.Errorf("%q: the length %q must be a number 0-32 (a.b.c.d/len)", value, bits)
	}
	return netip.PrefixFrom(a, n).Masked(), nil
}

// protocolList is an accept-protocol value (CS-C02, CS-E03).
type protocolList struct{}

func (protocolList) String() string { return "comma-separated list of tcp, udp, sctp, icmp" }

func (protocolList) Check(value string) error {
	_, _, err := ParseProtocols(value)
	return err
}
