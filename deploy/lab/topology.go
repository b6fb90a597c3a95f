package main

import "github.com/hasuite/hasuite/pkg/netlab"

// labPrefix names the lab's namespaces: hslab-r1, hslab-switch, ...
const labPrefix = "hslab"

// Interface numbering and addresses follow the guide's chapter 4 (Examples
// 4-2/4-3: eth0 upstream, eth1 the sync link, eth2 the protected LAN, R1
// .128 and R2 .200), which chapters 3 and 6 share; eth3 carries the second
// ISP of chapter 1. Secondary subnets and the hosts' extra addresses make the
// other chapters' example addresses live too. README.md maps each chapter.
func labTopology() netlab.Topology {
	router := func(name, host string) netlab.NodeSpec {
		return netlab.NodeSpec{
			Name: name,
			Interfaces: []netlab.Interface{
				{Name: "eth0", Bridge: "isp1", Addrs: []string{"12.34.56." + host + "/24"}},
				{
					Name:  "eth1",
					Peer:  netlab.Endpoint{Node: peerOf(name), Interface: "eth1"},
					Addrs: []string{"192.168.0." + host + "/24", "172.16.30." + host + "/24"},
				},
				{Name: "eth2", Bridge: "lan", Addrs: []string{"172.16.0." + host + "/24", "10.6.0." + host + "/24"}},
				{Name: "eth3", Bridge: "isp2", Addrs: []string{"98.76.54." + host + "/24"}},
			},
			// Chapter 1's static default through ISP1 (Example 1-5).
			Routes:  []netlab.Route{{Dst: "default", Via: "12.34.56.1"}},
			Sysctls: map[string]string{"net.ipv4.ip_forward": "1"},
		}
	}
	// Until the daemons hold the VIPs, the hosts route through R1's own
	// addresses.
	toLANviaR1 := func(r1 string) []netlab.Route {
		return []netlab.Route{{Dst: "172.16.0.0/24", Via: r1}, {Dst: "10.6.0.0/24", Via: r1}}
	}
	return netlab.Topology{
		Bridges: []string{"lan", "isp1", "isp2"},
		Nodes: []netlab.NodeSpec{
			{
				Name: "lan",
				Interfaces: []netlab.Interface{{
					Name:   "eth0",
					Bridge: "lan",
					// The protected server of chapter 4, chapter 4's LAN
					// monitor and chapter 3's downstream monitor.
					Addrs: []string{"172.16.0.33/24", "172.16.0.131/24", "10.6.0.55/24"},
				}},
				Routes: []netlab.Route{{Dst: "default", Via: "172.16.0.128"}},
			},
			router("r1", "128"),
			router("r2", "200"),
			{
				Name: "isp1",
				Interfaces: []netlab.Interface{
					{Name: "eth0", Bridge: "isp1", Addrs: []string{"12.34.56.1/24"}},
					// Chapter 1's health-check targets behind ISP1.
					{Name: "lo", Addrs: []string{"11.22.33.44/32", "55.66.77.88/32"}},
				},
				Routes:  append(toLANviaR1("12.34.56.128"), netlab.Route{Dst: "96.97.98.99/32", Via: "12.34.56.133"}),
				Sysctls: map[string]string{"net.ipv4.ip_forward": "1"},
			},
			{
				Name: "isp2",
				Interfaces: []netlab.Interface{
					{Name: "eth0", Bridge: "isp2", Addrs: []string{"98.76.54.1/24"}},
					// Chapter 1's health-check targets behind ISP2.
					{Name: "lo", Addrs: []string{"99.88.77.66/32", "55.44.33.22/32"}},
				},
				Routes:  toLANviaR1("98.76.54.128"),
				Sysctls: map[string]string{"net.ipv4.ip_forward": "1"},
			},
			{
				Name: "mon",
				Interfaces: []netlab.Interface{
					// Chapter 4's upstream monitor.
					{Name: "eth0", Bridge: "isp1", Addrs: []string{"12.34.56.133/24"}},
					// Chapter 3's VPN peer and upstream monitor, out on
					// the Internet behind ISP1.
					{Name: "lo", Addrs: []string{"96.97.98.99/32"}},
				},
				Routes: []netlab.Route{{Dst: "default", Via: "12.34.56.1"}},
			},
		},
	}
}

func peerOf(router string) string {
	if router == "r1" {
		return "r2"
	}
	return "r1"
}

// diagram is the topology drawn for humans. TestDiagramShowsEveryAddress
// keeps it in step with labTopology.
const diagram = `
   ISP1  hslab-isp1              MON  hslab-mon                ISP2  hslab-isp2
   eth0 12.34.56.1/24   [isp1]   eth0 12.34.56.133/24 [isp1]   eth0 98.76.54.1/24   [isp2]
   lo   11.22.33.44/32           lo   96.97.98.99/32           lo   99.88.77.66/32
        55.66.77.88/32                                              55.44.33.22/32

        [isp1]               [isp2]                     [isp1]               [isp2]
          |                    |                          |                    |
   eth0 12.34.56.128/24  eth3 98.76.54.128/24      eth0 12.34.56.200/24  eth3 98.76.54.200/24
  +-----------------------------------------+     +-----------------------------------------+
  | R1  hslab-r1      eth1 192.168.0.128/24 |=====| eth1 192.168.0.200/24      R2  hslab-r2 |
  |                        172.16.30.128/24 | veth|      172.16.30.200/24                   |
  +-----------------------------------------+     +-----------------------------------------+
   eth2 172.16.0.128/24                            eth2 172.16.0.200/24
        10.6.0.128/24                                   10.6.0.200/24
          |                                               |
        [lan]                                           [lan]

                             [lan]
                               |
                      eth0 172.16.0.33/24
                           172.16.0.131/24
                           10.6.0.55/24
                      LAN  hslab-lan

  [x] = bridge x in namespace hslab-switch, its ports named <node>-<interface>
  Routes: LAN default via R1 172.16.0.128; R1, R2 and MON default via ISP1 12.34.56.1;
          ISP1 and ISP2 reach 172.16.0.0/24 and 10.6.0.0/24 via R1, ISP1 reaches
          96.97.98.99 via MON. Forwarding is on in R1, R2, ISP1 and ISP2.
`
