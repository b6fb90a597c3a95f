package config_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/config"
)

func checkedRoot(t *testing.T, src string) config.View {
	t.Helper()
	cfg, err := guideSchema.Load("t.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Root()
}

func TestViewAbsentNodesGiveDefaults(t *testing.T) {
	root := checkedRoot(t, "")
	cluster := root.Child("cluster")
	if cluster.Exists() || cluster.Node() != nil || cluster.Tag() != "" {
		t.Error("an absent block exists")
	}
	checkEqual(t, "path of an absent node", cluster.Child("group").Path().String(), "cluster group")
	checkEqual(t, "default through an absent parent", cluster.Duration("keepalive-interval"), 5*time.Second)
	checkEqual(t, "no instances", len(cluster.Instances("group")), 0)
	checkEqual(t, "no value, no default", cluster.String("pre-shared-secret"), "")
	checkEqual(t, "no int", root.Child("service").Child("conntrack-sync").Child("failover-mechanism").Child("cluster").Int("group"), int64(0))
}

func TestViewValues(t *testing.T) {
	root := checkedRoot(t, `
interfaces { ethernet eth0 { vrrp { vrrp-group 7 {
    hello-source-address 10.0.0.2
    virtual-address 10.0.0.1
    virtual-address 10.0.0.9/24
    virtual-address 10.0.0.1
    preempt-delay 1m30s
}
vrrp-group 8 { virtual-address 10.0.8.1 } } } }
load-balancing { wan { interface-health eth0 { nexthop dhcp } rule 1 {
    inbound-interface eth0
    protocol udp
    source { address !192.168.0.0/16 port 1000-1010,ntp }
} } }`)
	g := root.Child("interfaces").Instances("ethernet")[0].Child("vrrp").Instances("vrrp-group")[0]
	checkEqual(t, "tag", g.Tag(), "7")
	checkEqual(t, "position of the instance", g.Pos().String(), "t.conf:2:48")
	checkEqual(t, "path", g.Path().String(), "interfaces ethernet eth0 vrrp vrrp-group 7")
	checkEqual(t, "address", g.Addr("hello-source-address"), netip.MustParseAddr("10.0.0.2"))
	checkSlice(t, "VIPs once each", g.Prefixes("virtual-address"), []netip.Prefix{
		netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("10.0.0.9/24")})
	checkSlice(t, "VIP strings", g.Strings("virtual-address"), []string{"10.0.0.1", "10.0.0.9/24"})
	checkEqual(t, "first VIP as prefix", g.Prefix("virtual-address"), netip.MustParsePrefix("10.0.0.1/32"))
	checkEqual(t, "duration with a unit", g.Duration("preempt-delay"), 90*time.Second)
	g8 := root.Child("interfaces").Instances("ethernet")[0].Child("vrrp").Instances("vrrp-group")[1]
	checkEqual(t, "instances in order", g8.Tag(), "8")
	checkEqual(t, "absent address", g8.Addr("hello-source-address"), netip.Addr{})
	checkEqual(t, "absent prefix", g8.Prefix("hello-source-address"), netip.Prefix{})
	checkEqual(t, "absent flag", g8.Has("disable"), false)

	wan := root.Child("load-balancing").Child("wan")
	checkEqual(t, "either type", wan.Instances("interface-health")[0].String("nexthop"), "dhcp")
	src := wan.Instances("rule")[0].Child("source")
	checkEqual(t, "negated prefix", src.AddressSpec("address").Contains(netip.MustParseAddr("192.168.1.1")), false)
	checkEqual(t, "ports", src.Ports("port").String(), "1000-1010,123")
	checkEqual(t, "absent address spec", wan.Instances("rule")[0].Child("destination").AddressSpec("address"), config.AddressSpec{})
	checkEqual(t, "absent ports", len(wan.Instances("rule")[0].Child("destination").Ports("port").Ranges), 0)
}

// TestViewMisuse: asking for what the schema does not declare, or with an
// accessor that does not fit the type, is a bug in the daemon and panics
// with a message naming the node.
func TestViewMisuse(t *testing.T) {
	root := checkedRoot(t, "cluster { interface eth0 pre-shared-secret s group G { primary a secondary b service ipsec } }")
	cluster := root.Child("cluster")
	for _, tc := range []struct {
		desc string
		use  func()
		want string
	}{
		{"undeclared child", func() { cluster.Child("dead-inteval") }, `config: cluster has no child "dead-inteval" in its schema`},
		{"undeclared at the root", func() { root.Child("firewall") }, `config: the schema root has no child "firewall" in its schema`},
		{"instances of a leaf", func() { cluster.Instances("interface") }, "config: cluster interface is a leaf, not a tag node"},
		{"value of a block", func() { root.String("cluster") }, "config: cluster is a container, not a leaf"},
		{"int of a text leaf", func() { cluster.Int("pre-shared-secret") }, `config: View.Int("pre-shared-secret") at cluster`},
		{"duration of an int leaf", func() { cluster.Duration("interface") }, `config: View.Duration("interface") at cluster: its type is interface name`},
		{"ports of a text leaf", func() { cluster.Ports("pre-shared-secret") }, `config: View.Ports("pre-shared-secret") at cluster: its type is text`},
		{"address of a text leaf", func() { cluster.Addr("pre-shared-secret") }, `config: View.Addr("pre-shared-secret") at cluster`},
		{"address spec of a text leaf", func() { cluster.AddressSpec("pre-shared-secret") }, `config: View.AddressSpec("pre-shared-secret") at cluster`},
		{"prefix of a text leaf", func() { cluster.Prefix("pre-shared-secret") }, `config: View.Addr("pre-shared-secret") at cluster`},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			defer func() {
				got, _ := recover().(string)
				if !strings.HasPrefix(got, tc.want) {
					t.Errorf("panic %q, want prefix %q", got, tc.want)
				}
			}()
			tc.use()
		})
	}
}
