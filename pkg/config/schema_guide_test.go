package config_test

import (
	"time"

	"github.com/hasuite/hasuite/pkg/config"
)

// guideSchema covers every node the guide's example configurations use, so
// that the tests parse the flattened examples schema-guided. The daemons own
// their real schemas; this one follows the spec files (spec/*.md) closely
// enough to exercise every feature of the schema mechanism on real text.

// testServices stands in for /etc/services so the tests do not depend on
// the machine.
var testServices = config.StaticServices(map[string]uint16{
	"ssh": 22, "telnet": 23, "http": 80, "ntp": 123, "sip": 5060, "sip-tls": 5061,
})

var groupName = config.Pattern(`[A-Za-z0-9_.-]{1,64}`, "a name of 1-64 letters, digits, '_', '.' or '-'")

func milliseconds(min, max time.Duration) config.Type {
	return config.Duration(time.Millisecond, min*time.Millisecond, max*time.Millisecond)
}

func seconds(min, max time.Duration) config.Type {
	return config.Duration(time.Second, min*time.Second, max*time.Second)
}

// vrrpBlock is shared by ethernet, vif and bonding, as in vrrpd.
var vrrpBlock = config.Container("vrrp",
	config.Tag("vrrp-group", config.Int(1, 255), config.Help("a VRRP group (its VRID)"),
		config.Leaf("advertise-interval", seconds(1, 255), config.Default("1"), config.Alias("advertisement-interval")),
		config.Container("authentication", config.RequiredTogether("password", "type"),
			config.Leaf("password", config.StringMax(8)),
			config.Leaf("type", config.Enum("plaintext-password", "ah")),
		),
		config.Leaf("description", config.String()),
		config.Flag("disable"),
		config.Leaf("hello-source-address", config.IPv4()),
		config.Container("interface",
			config.Leaf("description", config.String()),
			config.Leaf("mirror", config.IfName()),
			config.Leaf("redirect", config.IfName()),
		),
		config.Leaf("preempt", config.Bool(), config.Default("true")),
		config.Leaf("preempt-delay", seconds(0, 3600), config.Default("0")),
		config.Leaf("priority", config.Int(1, 255), config.Default("100")),
		config.Flag("rfc3768-compatibility"),
		config.Container("run-transition-scripts",
			config.Leaf("backup", config.String()),
			config.Leaf("fault", config.String()),
			config.Leaf("master", config.String()),
		),
		config.Leaf("sync-group", groupName),
		config.Leaf("virtual-address", config.IPv4OrPrefix(), config.Multi(), config.Required()),
		config.Check(addressOwnerRules),
	),
)

// addressOwnerRules: an address owner (priority 255) always preempts and
// sends from the virtual address (vrrpd.md VR-C17, VR-C22).
func addressOwnerRules(g config.View, r *config.Report) {
	if g.Int("priority") != 255 {
		return
	}
	if !g.Bool("preempt") {
		r.Errorf(g.Child("preempt"), "the address owner (priority 255) always preempts: remove `preempt false`")
	}
	if g.Has("hello-source-address") {
		r.Errorf(g.Child("hello-source-address"), "not allowed for the address owner (priority 255), which sends from the virtual address")
	}
}

func addressAndPort(name string) *config.Spec {
	return config.Container(name,
		config.Leaf("address", config.AddressSpecType()),
		config.Leaf("port", config.PortListType(testServices)),
	)
}

// portNeedsTCPOrUDP: a port match only makes sense for tcp or udp (WLB-C20).
func portNeedsTCPOrUDP(rule config.View, r *config.Report) {
	proto := rule.String("protocol")
	for _, side := range []string{"source", "destination"} {
		port := rule.Child(side).Child("port")
		if port.Exists() && proto != "tcp" && proto != "udp" {
			r.Errorf(port, "a port match needs protocol tcp or udp (protocol is %s)", proto)
		}
	}
}

// deadAboveKeepalive: the peer cannot be declared dead before a heartbeat
// is even due (CL-C02).
func deadAboveKeepalive(c config.View, r *config.Report) {
	if c.Duration("dead-interval") <= c.Duration("keepalive-interval") {
		r.Errorf(c.Child("dead-interval"), "must be longer than keepalive-interval (%s)", c.Duration("keepalive-interval"))
	}
}

// oneFailoverMechanism: ctsyncd needs to know when to commit (CS-C05).
func oneFailoverMechanism(m config.View, r *config.Report) {
	if !m.Has("cluster") && !m.Has("vrrp") {
		r.Errorf(m, "set cluster group NAME or vrrp sync-group NAME")
	}
}

// syncMapExists: a remote router must name a declared sync-map (CF-C04).
func syncMapExists(cs config.View, r *config.Report) {
	maps := map[string]bool{}
	for _, m := range cs.Instances("sync-map") {
		maps[m.Tag()] = true
	}
	for _, rr := range cs.Instances("remote-router") {
		if name := rr.String("sync-map"); !maps[name] {
			r.Errorf(rr.Child("sync-map"), "no sync-map %s is declared", name)
		}
	}
}

const notOurs = "not managed by hasuite"

var guideSchema = config.MustSchema(
	config.Container("interfaces", config.IgnoreUnknown("not an interface type vrrpd uses"),
		config.Tag("ethernet", config.IfName(), config.IgnoreUnknown("not a VRRP setting"),
			vrrpBlock,
			config.Tag("vif", config.Int(0, 4094), vrrpBlock),
		),
		config.Tag("bonding", config.IfName(), config.IgnoreUnknown("not a VRRP setting"),
			vrrpBlock,
			config.Tag("vif", config.Int(0, 4094), vrrpBlock),
		),
	),
	config.Container("load-balancing",
		config.Container("wan",
			config.Flag("disable-source-nat"),
			config.Flag("enable-local-traffic"),
			config.Flag("flush-connections"),
			config.Leaf("hook", config.String()),
			config.Tag("interface-health", config.IfName(),
				config.Leaf("failure-count", config.Int(1, 10), config.Default("1")),
				config.Leaf("nexthop", config.Either(config.IPv4(), config.Enum("dhcp")), config.Required()),
				config.Leaf("success-count", config.Int(1, 10), config.Default("1")),
				config.Tag("test", config.Int(1, 4294967295),
					config.Leaf("resp-time", config.Int(1, 30), config.Default("5")),
					config.Leaf("target", config.String()),
					config.Leaf("test-script", config.String()),
					config.Leaf("ttl-limit", config.Int(1, 254), config.Default("1")),
					config.Leaf("type", config.Enum("ping", "ttl", "user-defined"), config.Default("ping")),
				),
			),
			config.Tag("rule", config.Int(1, 4294967295),
				config.Leaf("description", config.String()),
				addressAndPort("destination"),
				config.Flag("exclude"),
				config.Flag("failover"),
				config.Leaf("inbound-interface", config.IfNameWildcard(), config.Required()),
				config.Tag("interface", config.IfName(),
					config.Leaf("weight", config.Int(1, 255), config.Default("1")),
				),
				config.Container("limit",
					config.Leaf("burst", config.Int(1, 4294967295), config.Default("5")),
					config.Leaf("period", config.Enum("second", "minute", "hour"), config.Default("second")),
					config.Leaf("rate", config.Int(1, 4294967295), config.Default("5")),
					config.Leaf("threshold", config.Enum("above", "below"), config.Default("below")),
				),
				config.Flag("per-packet-balancing"),
				config.Leaf("protocol", config.String(), config.Default("all")),
				addressAndPort("source"),
				config.Check(portNeedsTCPOrUDP),
			),
		),
	),
	config.Container("cluster",
		config.Leaf("dead-interval", milliseconds(1000, 3600000), config.Default("20000")),
		config.Tag("group", groupName,
			config.Leaf("auto-failback", config.Bool(), config.Default("false")),
			config.Leaf("monitor", config.IPv4(), config.Multi()),
			config.Leaf("primary", config.String(), config.Required()),
			config.Leaf("secondary", config.String(), config.Required()),
			config.Leaf("service", config.String(), config.Multi(), config.Required()),
		),
		config.Leaf("interface", config.IfName(), config.Multi(), config.Required()),
		config.Leaf("keepalive-interval", milliseconds(100, 60000), config.Default("5000")),
		config.Leaf("mcast-group", config.IPv4(), config.Default("239.251.252.253")),
		config.Leaf("monitor-dead-interval", milliseconds(1000, 3600000), config.Default("20000")),
		config.Leaf("pre-shared-secret", config.String(), config.Required()),
		config.Check(deadAboveKeepalive),
	),
	config.Container("service", config.IgnoreUnknown(notOurs),
		config.Container("conntrack-sync",
			config.Leaf("accept-protocol", config.String()),
			config.Leaf("event-listen-queue-size", config.Int(1, 1024), config.Default("8")),
			config.Leaf("expect-sync", config.Enum("all", "ftp", "h323", "nfs", "sip", "sqlnet"), config.Multi()),
			config.Container("failover-mechanism", config.Required(),
				config.MutuallyExclusive("cluster", "vrrp"),
				config.Container("cluster", config.Leaf("group", groupName, config.Required())),
				config.Container("vrrp", config.Leaf("sync-group", groupName, config.Required())),
				config.Check(oneFailoverMechanism),
			),
			config.Container("ignore-address", config.Leaf("ipv4", config.IPv4OrPrefix(), config.Multi())),
			config.Leaf("interface", config.IfName(), config.Required()),
			config.Leaf("mcast-group", config.IPv4(), config.Default("225.0.0.50")),
			config.Leaf("sync-queue-size", config.Int(1, 1024), config.Default("1")),
		),
	),
	config.Container("system", config.IgnoreUnknown(notOurs),
		config.Container("config-sync",
			config.Tag("remote-router", config.IPv4(),
				config.Leaf("password", config.String(), config.Required()),
				config.Leaf("sync-map", groupName, config.Required()),
				config.Leaf("username", config.String(), config.Required()),
			),
			config.Tag("sync-map", groupName,
				config.Tag("rule", config.Int(1, 1024),
					config.Leaf("action", config.Enum("include", "exclude"), config.Required()),
					config.Leaf("location", config.String(), config.Required()),
				),
			),
			config.Check(syncMapExists),
		),
	),
	config.Container("protocols",
		config.Container("static",
			config.Tag("route", config.IPv4Prefix(),
				config.Tag("next-hop", config.IPv4()),
			),
		),
	),
	config.Ignore("firewall", notOurs),
	config.Ignore("vpn", notOurs),
)
