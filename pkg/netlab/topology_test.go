package netlab

import (
	"net/netip"
	"strings"
	"testing"
)

// validTopology is the three-node shape of the self-tests, as data.
func validTopology() Topology {
	return Topology{
		Bridges: []string{"left"},
		Nodes: []NodeSpec{
			{Name: "client", Interfaces: []Interface{{Name: "eth0", Bridge: "left", Addrs: []string{"10.1.0.2/24"}}}},
			{Name: "router", Interfaces: []Interface{
				{Name: "eth0", Bridge: "left", Addrs: []string{"10.1.0.1/24"}},
				{Name: "eth1", Peer: Endpoint{"server", "eth0"}, Addrs: []string{"10.2.0.1/24"}},
			}},
			{Name: "server", Interfaces: []Interface{{Name: "eth0", Peer: Endpoint{"router", "eth1"}}}},
		},
	}
}

func TestTopologyValidate(t *testing.T) {
	tests := []struct {
		desc   string
		modify func(*Topology)
		want   []string // substrings of the error; none for a valid topology
	}{
		{desc: "valid", modify: func(*Topology) {}},
		{
			desc: "loopback addresses",
			modify: func(t *Topology) {
				t.Nodes[0].Interfaces = append(t.Nodes[0].Interfaces, Interface{Name: "lo", Addrs: []string{"192.0.2.1/32"}})
			},
		},
		{
			desc:   "bad node name",
			modify: func(t *Topology) { t.Nodes[0].Name = "Client" },
			want:   []string{`node "Client": name must be lowercase`},
		},
		{
			desc:   "reserved node name",
			modify: func(t *Topology) { t.Nodes[0].Name = "switch" },
			want:   []string{"reserved"},
		},
		{
			desc:   "duplicate node",
			modify: func(t *Topology) { t.Nodes[2].Name = "client"; t.Nodes[1].Interfaces = t.Nodes[1].Interfaces[:1] },
			want:   []string{`node "client": declared twice`},
		},
		{
			desc:   "duplicate bridge",
			modify: func(t *Topology) { t.Bridges = append(t.Bridges, "left") },
			want:   []string{`bridge "left": declared twice`},
		},
		{
			desc:   "bridge name too long",
			modify: func(t *Topology) { t.Bridges = append(t.Bridges, "averyveryverylongbridge") },
			want:   []string{"longer than 15"},
		},
		{
			desc:   "undeclared bridge",
			modify: func(t *Topology) { t.Nodes[0].Interfaces[0].Bridge = "right" },
			want:   []string{`interface client:eth0: bridge "right" is not declared`},
		},
		{
			desc:   "port name too long",
			modify: func(t *Topology) { t.Nodes[0].Name = "clientofthelab" },
			want:   []string{`bridge port "clientofthelab-eth0" is longer than 15`},
		},
		{
			desc:   "neither bridge nor peer",
			modify: func(t *Topology) { t.Nodes[0].Interfaces[0].Bridge = "" },
			want:   []string{"set Bridge or Peer"},
		},
		{
			desc:   "bridge and peer",
			modify: func(t *Topology) { t.Nodes[0].Interfaces[0].Peer = Endpoint{"server", "eth0"} },
			want:   []string{"not both"},
		},
		{
			desc:   "missing peer",
			modify: func(t *Topology) { t.Nodes[1].Interfaces[1].Peer = Endpoint{"server", "eth9"} },
			want:   []string{"peer server:eth9 does not exist"},
		},
		{
			desc: "one-sided peer",
			modify: func(t *Topology) {
				t.Nodes[2].Interfaces = append(t.Nodes[2].Interfaces, Interface{Name: "eth1", Peer: Endpoint{"router", "eth1"}})
			},
			want: []string{"peer router:eth1 must name server:eth1"},
		},
		{
			desc:   "self peer",
			modify: func(t *Topology) { t.Nodes[1].Interfaces[1].Peer = Endpoint{"router", "eth1"} },
			want:   []string{"its own peer"},
		},
		{
			desc: "loopback with bridge",
			modify: func(t *Topology) {
				t.Nodes[0].Interfaces = append(t.Nodes[0].Interfaces, Interface{Name: "lo", Bridge: "left"})
			},
			want: []string{"loopback takes addresses only"},
		},
		{
			desc:   "duplicate interface",
			modify: func(t *Topology) { t.Nodes[0].Interfaces = append(t.Nodes[0].Interfaces, t.Nodes[0].Interfaces[0]) },
			want:   []string{"interface client:eth0: declared twice"},
		},
		{
			desc:   "address without prefix length",
			modify: func(t *Topology) { t.Nodes[0].Interfaces[0].Addrs = []string{"10.1.0.2"} },
			want:   []string{`address "10.1.0.2": want an address with its prefix length`},
		},
		{
			desc:   "multicast MAC",
			modify: func(t *Topology) { t.Nodes[0].Interfaces[0].MAC = "01:00:5e:00:00:12" },
			want:   []string{"multicast"},
		},
		{
			desc:   "bad MAC",
			modify: func(t *Topology) { t.Nodes[0].Interfaces[0].MAC = "zz" },
			want:   []string{`MAC "zz"`},
		},
		{
			desc:   "route without via or dev",
			modify: func(t *Topology) { t.Nodes[0].Routes = []Route{{Dst: "10.2.0.0/24"}} },
			want:   []string{"set Via, Dev or both"},
		},
		{
			desc:   "route dev unknown",
			modify: func(t *Topology) { t.Nodes[0].Routes = []Route{{Dst: "10.2.0.0/24", Dev: "eth7"}} },
			want:   []string{`dev "eth7" is not one of the node's interfaces`},
		},
		{
			desc:   "route with host bits",
			modify: func(t *Topology) { t.Nodes[0].Routes = []Route{{Dst: "10.2.0.1/24", Via: "10.1.0.1"}} },
			want:   []string{"did you mean 10.2.0.0/24"},
		},
		{
			desc:   "route families differ",
			modify: func(t *Topology) { t.Nodes[0].Routes = []Route{{Dst: "2001:db8::/32", Via: "10.1.0.1"}} },
			want:   []string{"different families"},
		},
		{
			desc:   "default without via",
			modify: func(t *Topology) { t.Nodes[0].Routes = []Route{{Dst: "default", Dev: "eth0"}} },
			want:   []string{`"default" takes its family from Via`},
		},
		{
			desc:   "bad sysctl key",
			modify: func(t *Topology) { t.Nodes[0].Sysctls = map[string]string{"net/ipv4/ip_forward": "1"} },
			want:   []string{"want a dotted key"},
		},
		{
			desc: "every problem at once",
			modify: func(t *Topology) {
				t.Nodes[0].Name = "Client"
				t.Nodes[0].Interfaces[0].MAC = "zz"
			},
			want: []string{"name must be lowercase", `MAC "zz"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			topo := validTopology()
			tt.modify(&topo)
			err := topo.validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("validate passed, want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("validate error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestRouteDestination(t *testing.T) {
	tests := []struct {
		route Route
		want  string
	}{
		{Route{Dst: "default", Via: "10.0.0.1"}, "0.0.0.0/0"},
		{Route{Dst: "default", Via: "2001:db8::1"}, "::/0"},
		{Route{Dst: "::/0", Dev: "eth0"}, "::/0"},
		{Route{Dst: "96.97.98.99/32", Via: "12.34.56.133"}, "96.97.98.99/32"},
	}
	for _, tt := range tests {
		got, err := tt.route.destination()
		if err != nil || got != netip.MustParsePrefix(tt.want) {
			t.Errorf("%+v.destination() = %v, %v; want %s", tt.route, got, err, tt.want)
		}
	}
}

func TestNamesInterface(t *testing.T) {
	spec := NodeSpec{Interfaces: []Interface{{Name: "eth0"}, {Name: "lo"}}}
	tests := []struct {
		key  string
		want bool
	}{
		{"net.ipv4.conf.eth0.rp_filter", true},
		{"net.ipv6.neigh.eth0.retrans_time_ms", true},
		{"net.ipv4.conf.all.rp_filter", false},
		{"net.ipv4.conf.lo.rp_filter", false}, // lo exists from the start
		{"net.ipv4.ip_forward", false},
	}
	for _, tt := range tests {
		if got := spec.namesInterface(tt.key); got != tt.want {
			t.Errorf("namesInterface(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}
