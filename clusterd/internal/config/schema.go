package config

import (
	"fmt"
	"net/netip"
	"time"

	hc "github.com/hasuite/hasuite/pkg/config"
)

// Defaults and limits of the guide, and of this implementation where the
// guide is silent (spec CL-C*, CL-Q06, CL-Q09).
const (
	// DefaultServiceInterface is where an IP service goes when it names no
	// interface (CL-C08a, CL-Q02).
	DefaultServiceInterface = "eth0"
	// DefaultPort is heartbeat's UDP port (CL-C11).
	DefaultPort = 694
	// ScriptTimeout bounds each start, stop or status call of a script
	// service (CL-B14, CL-Q15); the guide gives none, so it is not a node.
	ScriptTimeout = 60 * time.Second
	// maxLabel is IFNAMSIZ-1: the longest alias label the kernel keeps.
	maxLabel = 15
	// minSecret is the shortest pre-shared secret that does not draw a
	// warning (CL-C13).
	minSecret = 16
)

var (
	ifName    = hc.IfName()
	groupName = hc.Pattern(`[A-Za-z0-9_.-]{1,64}`, "a group name of 1-64 letters, digits, '_', '.' or '-'")
	// hostName is a node name as `--node-name` or the kernel gives it.
	hostName = hc.Pattern(`[A-Za-z0-9][A-Za-z0-9_.-]{0,63}`,
		"a host name of 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
	linkLocalControl = netip.MustParsePrefix("224.0.0.0/24")
)

func milliseconds(min, max time.Duration) hc.Type { return hc.Duration(time.Millisecond, min, max) }

// schema is clusterd's part of the configuration (spec clusterd.md
// section 1): the `cluster` subtree. The nodes past `pre-shared-secret`
// in the group and the last three of the cluster are beyond the guide.
var schema = hc.MustSchema(
	hc.Container("cluster", hc.Help("two-node heartbeat clustering; absent = off"),
		hc.Leaf("dead-interval", milliseconds(time.Second, time.Hour), hc.Default("20000"),
			hc.Help("ms without a heartbeat before the peer is dead")),
		hc.Tag("group", groupName, hc.Required(), hc.Help("the resource group (one only)"),
			hc.Leaf("auto-failback", hc.Bool(), hc.Default("false"),
				hc.Help("true: resources return to the recovered primary")),
			hc.Leaf("monitor", unicastIPv4{}, hc.Multi(), hc.Help("a host pinged to check connectivity")),
			hc.Leaf("primary", hostName, hc.Required(), hc.Help("host name of the node that normally holds the resources")),
			hc.Leaf("secondary", hostName, hc.Required(), hc.Help("host name of the backup node")),
			hc.Leaf("service", serviceType{}, hc.Multi(), hc.Required(),
				hc.Help("a cluster IP ip/prefix[/if[/broadcast]], an init script, or script::args; started in this order")),
			hc.Check(checkGroup),
		),
		hc.Leaf("init-dead-interval", milliseconds(0, time.Hour), hc.Default("120000"),
			hc.Help("ms to wait for the peer's first heartbeat after start before taking the resources")),
		hc.Leaf("interface", ifName, hc.Multi(), hc.Required(), hc.Help("an interface heartbeats go out and come in on")),
		hc.Leaf("keepalive-interval", milliseconds(100*time.Millisecond, time.Minute), hc.Default("5000"),
			hc.Help("ms between heartbeats (and monitor pings)")),
		hc.Leaf("mcast-group", multicastIPv4{}, hc.Default("239.251.252.253"), hc.Help("heartbeat multicast group")),
		hc.Leaf("monitor-dead-interval", milliseconds(time.Second, time.Hour), hc.Default("20000"),
			hc.Help("ms without a ping reply before a monitor is unreachable")),
		hc.Leaf("peer-address", unicastIPv4{}, hc.Multi(),
			hc.Help("send heartbeats by unicast to this address instead of to the multicast group")),
		hc.Leaf("port", hc.Int(1, 65535), hc.Default("694"), hc.Help("heartbeat UDP port")),
		hc.Leaf("pre-shared-secret", hc.String(), hc.Required(), hc.Help("authenticates heartbeats; the same on both nodes")),
		hc.Check(checkCluster),
	),
)

// Schema returns clusterd's schema, for help output and `set`-style editing.
func Schema() *hc.Schema { return schema }

// serviceType checks a `service` value with ParseService (CL-E03).
type serviceType struct{}

func (serviceType) String() string {
	return "ip/prefix[/interface[/broadcast]], an init script name, systemd:<unit>, or script::args"
}

func (serviceType) Check(value string) error {
	_, err := ParseService(value)
	return err
}

// unicastIPv4 is a monitor or peer: one IPv4 host address (CL-E04).
type unicastIPv4 struct{}

func (unicastIPv4) String() string { return "an IPv4 unicast address" }

func (unicastIPv4) Check(value string) error {
	a, err := netip.ParseAddr(value)
	switch {
	case err != nil || !a.Is4():
		return fmt.Errorf("%q is not an IPv4 address (a.b.c.d)", value)
	case a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is not a unicast address", a)
	}
	return nil
}

// multicastIPv4 is the heartbeat group: an address in 224.0.0.0/4 (CL-E04).
type multicastIPv4 struct{}

func (multicastIPv4) String() string { return "an IPv4 multicast address (224.0.0.0/4)" }

func (multicastIPv4) Check(value string) error {
	a, err := netip.ParseAddr(value)
	switch {
	case err != nil || !a.Is4():
		return fmt.Errorf("%q is not an IPv4 address (a.b.c.d)", value)
	case !a.IsMulticast():
		return fmt.Errorf("%s is not a multicast address: choose one in 224.0.0.0/4, e.g. the default 239.251.252.253", a)
	}
	return nil
}
