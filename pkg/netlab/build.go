package netlab

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
)

// build creates the namespaces, then the links, then brings everything up
// and configures addresses and routes, in that order, because each step needs
// the previous one done on every node (a route's gateway must be on a link
// that is up, for one).
func (l *Lab) build(ctx context.Context) error {
	steps := []func() error{
		l.createSwitch,
		l.createNodes,
		l.createLinks,
		l.bringUp,
		l.configureNodes,
	}
	steps = append(steps, func() error { return l.waitOperational(ctx) })
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// createSwitch creates the switch namespace and its bridges. IPv6 is off
// there, so bridge ports send nothing of their own (no router solicitations,
// no MLD) into the segments.
func (l *Lab) createSwitch() error {
	if len(l.topo.Bridges) == 0 {
		return nil
	}
	sw, err := l.createNamespace(switchNode)
	if err != nil {
		return err
	}
	l.sw = sw
	for _, key := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"} {
		if err := writeSysctl(sw, key, "1"); err != nil {
			return err
		}
	}
	snooping := false
	for _, name := range l.topo.Bridges {
		// Without snooping the bridge floods multicast like a plain switch:
		// VRRP, heartbeat and conntrack-sync groups reach every port with no
		// IGMP querier in the lab.
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}, MulticastSnooping: &snooping}
		if err := sw.nl.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
	}
	return nil
}

func (l *Lab) createNamespace(node string) (*namespace, error) {
	name := l.namespaceName(node)
	handle, err := createNamespace(name)
	if err != nil {
		return nil, err
	}
	ns, err := openNamespace(name, handle)
	if err != nil {
		return nil, err
	}
	lo, err := ns.nl.LinkByName(loopback)
	if err == nil {
		err = ns.nl.LinkSetUp(lo)
	}
	if err != nil {
		ns.close()
		return nil, fmt.Errorf("%s: bring lo up: %w", name, err)
	}
	return ns, nil
}

// createNodes creates each node's namespace and applies the sysctls that do
// not depend on its interfaces.
func (l *Lab) createNodes() error {
	for _, spec := range l.topo.Nodes {
		ns, err := l.createNamespace(spec.Name)
		if err != nil {
			return err
		}
		node := &Node{namespace: ns, lab: l, spec: spec}
		l.nodes = append(l.nodes, node)
		// Duplicate address detection would hold every IPv6 address,
		// link-local ones included, tentative for a second or two after
		// its link comes up; in a lab it only delays. Sysctls may turn it
		// back on, as they are applied after this. A kernel without IPv6
		// has nothing to turn off.
		for _, key := range []string{"net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"} {
			if err := node.SetSysctl(key, "0"); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if err := node.applySysctls(func(key string) bool { return !spec.namesInterface(key) }); err != nil {
			return err
		}
	}
	return nil
}

// createLinks creates one veth pair per bridge port and per direct link.
// Each end is created straight in its own namespace.
func (l *Lab) createLinks() error {
	for _, n := range l.nodes {
		for _, ifc := range n.spec.Interfaces {
			var err error
			switch {
			case ifc.Bridge != "":
				err = l.createPort(n, ifc)
			case ifc.Peer != Endpoint{}:
				// A direct link is created once, from its lesser end.
				if (ifc.Peer.Node > n.spec.Name) || (ifc.Peer.Node == n.spec.Name && ifc.Peer.Interface > ifc.Name) {
					err = l.createDirectLink(n, ifc)
				}
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (l *Lab) createPort(n *Node, ifc Interface) error {
	br, err := l.sw.nl.LinkByName(ifc.Bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", ifc.Bridge, err)
	}
	port := portName(n.spec.Name, ifc.Name)
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: port, MasterIndex: br.Attrs().Index},
		PeerName:         ifc.Name,
		PeerNamespace:    netlink.NsFd(n.handle),
		PeerHardwareAddr: mustMAC(ifc.MAC),
	}
	if err := l.sw.nl.LinkAdd(veth); err != nil {
		return fmt.Errorf("plug %s:%s into bridge %s: %w", n.spec.Name, ifc.Name, ifc.Bridge, err)
	}
	return nil
}

func (l *Lab) createDirectLink(n *Node, ifc Interface) error {
	peer := l.Node(ifc.Peer.Node)
	peerIfc, _ := peer.spec.interfaceNamed(ifc.Peer.Interface)
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: ifc.Name, HardwareAddr: mustMAC(ifc.MAC)},
		PeerName:         peerIfc.Name,
		PeerHardwareAddr: mustMAC(peerIfc.MAC),
	}
	if peer != n {
		veth.PeerNamespace = netlink.NsFd(peer.handle)
	}
	if err := n.nl.LinkAdd(veth); err != nil {
		return fmt.Errorf("link %s:%s to %s: %w", n.spec.Name, ifc.Name, ifc.Peer, err)
	}
	return nil
}

// mustMAC parses a MAC address validate has already checked; empty gives nil,
// which lets the kernel choose.
func mustMAC(s string) net.HardwareAddr {
	if s == "" {
		return nil
	}
	mac, err := net.ParseMAC(s)
	if err != nil {
		panic(fmt.Sprintf("netlab: MAC %q passed validation: %v", s, err))
	}
	return mac
}

func (l *Lab) bringUp() error {
	if l.sw != nil {
		links, err := l.sw.nl.LinkList()
		if err != nil {
			return fmt.Errorf("%s: list links: %w", l.sw.name, err)
		}
		for _, link := range links {
			if err := l.sw.nl.LinkSetUp(link); err != nil {
				return fmt.Errorf("%s: bring %s up: %w", l.sw.name, link.Attrs().Name, err)
			}
		}
	}
	for _, n := range l.nodes {
		for _, ifc := range n.spec.Interfaces {
			if err := n.SetLinkUp(ifc.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitOperational waits until every veth end is operationally up. The
// kernel activates a link's transmit queue only then, up to a second after
// the link comes up, and drops what is sent before: a lab handed over
// earlier would lose its first packets.
func (l *Lab) waitOperational(ctx context.Context) error {
	const patience = 10 * time.Second
	return Poll(ctx, patience, func() (bool, string) {
		var waiting []string
		check := func(ns *namespace, isVeth func(netlink.Link) bool) {
			links, err := ns.nl.LinkList()
			if err != nil {
				waiting = append(waiting, fmt.Sprintf("%s: %v", ns.name, err))
				return
			}
			for _, link := range links {
				if isVeth(link) && link.Attrs().OperState != netlink.OperUp {
					waiting = append(waiting, ns.name+":"+link.Attrs().Name)
				}
			}
		}
		veth := func(link netlink.Link) bool { return link.Type() == "veth" }
		if l.sw != nil {
			check(l.sw, veth)
		}
		for _, n := range l.nodes {
			check(n.namespace, veth)
		}
		return len(waiting) == 0, fmt.Sprintf("links not operational yet: %v", waiting)
	})
}

// configureNodes adds addresses, then the sysctls naming interfaces, then
// routes, on every node.
func (l *Lab) configureNodes() error {
	for _, n := range l.nodes {
		if err := n.addAddresses(); err != nil {
			return err
		}
		if err := n.applySysctls(n.spec.namesInterface); err != nil {
			return err
		}
	}
	for _, n := range l.nodes {
		if err := n.addRoutes(); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) addAddresses() error {
	for _, ifc := range n.spec.Interfaces {
		link, err := n.link(ifc.Name)
		if err != nil {
			return err
		}
		for _, a := range ifc.Addrs {
			prefix := netip.MustParsePrefix(a) // checked by validate
			addr := &netlink.Addr{IPNet: &net.IPNet{
				IP:   prefix.Addr().AsSlice(),
				Mask: net.CIDRMask(prefix.Bits(), prefix.Addr().BitLen()),
			}}
			if err := n.nl.AddrAdd(link, addr); err != nil {
				return fmt.Errorf("node %s: add %s to %s: %w", n.spec.Name, a, ifc.Name, err)
			}
		}
	}
	return nil
}

func (n *Node) addRoutes() error {
	for _, r := range n.spec.Routes {
		dst, _ := r.destination() // checked by validate
		route := &netlink.Route{Dst: &net.IPNet{
			IP:   dst.Addr().AsSlice(),
			Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen()),
		}}
		if r.Via != "" {
			route.Gw = netip.MustParseAddr(r.Via).AsSlice()
		}
		if r.Dev != "" {
			link, err := n.link(r.Dev)
			if err != nil {
				return err
			}
			route.LinkIndex = link.Attrs().Index
		}
		if err := n.nl.RouteAdd(route); err != nil {
			return fmt.Errorf("node %s: add route %+v: %w", n.spec.Name, r, err)
		}
	}
	return nil
}

// applySysctls writes the node's sysctls whose keys pass the filter, in
// key order.
func (n *Node) applySysctls(include func(key string) bool) error {
	for _, key := range slices.Sorted(maps.Keys(n.spec.Sysctls)) {
		if include(key) {
			if err := n.SetSysctl(key, n.spec.Sysctls[key]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s NodeSpec) interfaceNamed(name string) (Interface, bool) {
	i := slices.IndexFunc(s.Interfaces, func(i Interface) bool { return i.Name == name })
	if i < 0 {
		return Interface{}, false
	}
	return s.Interfaces[i], true
}
