package netlab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Topology describes a lab. It is plain data; [Build] and [New] realise it.
type Topology struct {
	// Bridges are the layer-2 segments, each a bridge in the lab's switch
	// namespace. Interfaces plug into them by name.
	Bridges []string
	Nodes   []NodeSpec
}

// NodeSpec describes one node: a network namespace named <prefix>-<Name>.
type NodeSpec struct {
	// Name is lowercase letters and digits, starting with a letter ("r1").
	Name       string
	Interfaces []Interface
	Routes     []Route
	// Sysctls are written under /proc/sys in the node, keys in dotted form
	// ("net.ipv4.ip_forward": "1"). Keys naming one of the node's interfaces
	// ("net.ipv4.conf.eth0.rp_filter") are applied once the interfaces exist,
	// the others before, so "all" and "default" settings reach new interfaces.
	Sysctls map[string]string
}

// Interface describes one interface of a node. Every interface except "lo"
// is one end of a veth pair: the other end is a bridge port or another
// node's interface.
type Interface struct {
	// Name is the interface's name inside the node ("eth0"). "lo" configures
	// the loopback, which always exists and is always up.
	Name string
	// Bridge names the bridge the interface is plugged into; or
	Bridge string
	// Peer names the other node's interface a direct veth link joins this
	// one to. The peer's interface must name this one as its Peer.
	Peer Endpoint
	// Addrs are IPv4 or IPv6 addresses with their prefix length
	// ("172.16.0.128/24", "2001:db8::1/64"). Nodes skip IPv6 duplicate
	// address detection (accept_dad=0) so addresses are usable at once,
	// unless Sysctls turn it back on.
	Addrs []string
	// MAC is the interface's hardware address ("02:00:00:00:00:01"); empty
	// lets the kernel pick a random one.
	MAC string
}

// Endpoint names one interface of one node.
type Endpoint struct {
	Node      string
	Interface string
}

func (e Endpoint) String() string { return e.Node + ":" + e.Interface }

// Route describes a route in a node's main table.
type Route struct {
	// Dst is a prefix ("10.6.0.0/24", "::/0") or "default", whose family is
	// then that of Via.
	Dst string
	// Via is the gateway; optional when Dev is set.
	Via string
	// Dev is the output interface; optional when Via is set.
	Dev string
}

const (
	loopback = "lo"
	// switchNode is the node name the switch namespace takes, so no node may
	// use it.
	switchNode = "switch"
	// maxIfName is IFNAMSIZ minus the terminating NUL.
	maxIfName = 15
)

var nodeNameRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// portName is the name of a bridge port in the switch namespace: the node and
// interface it leads to, so `ip link` there reads like a patch panel.
func portName(node, ifname string) string { return node + "-" + ifname }

// validate reports every problem of the topology at once, each naming where
// it is, so one run fixes a description.
func (t Topology) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for i, b := range t.Bridges {
		if err := checkIfName(b); err != nil {
			add("bridge %q: %w", b, err)
		}
		if slices.Contains(t.Bridges[:i], b) {
			add("bridge %q: declared twice", b)
		}
	}

	interfaces := map[Endpoint]Interface{}
	for i, n := range t.Nodes {
		if !nodeNameRE.MatchString(n.Name) {
			add("node %q: name must be lowercase letters and digits, starting with a letter", n.Name)
		}
		if n.Name == switchNode {
			add("node %q: the name is reserved for the namespace holding the bridges", n.Name)
		}
		for _, prev := range t.Nodes[:i] {
			if prev.Name == n.Name {
				add("node %q: declared twice", n.Name)
			}
		}
		for _, ifc := range n.Interfaces {
			ep := Endpoint{n.Name, ifc.Name}
			if _, dup := interfaces[ep]; dup {
				add("interface %s: declared twice", ep)
			}
			interfaces[ep] = ifc
		}
	}

	for _, n := range t.Nodes {
		for _, ifc := range n.Interfaces {
			errs = append(errs, t.validateInterface(n.Name, ifc, interfaces)...)
		}
		for _, r := range n.Routes {
			if err := validateRoute(n, r); err != nil {
				add("node %q route %+v: %w", n.Name, r, err)
			}
		}
		for key := range n.Sysctls {
			if err := checkSysctlKey(key); err != nil {
				add("node %q sysctl %q: %w", n.Name, key, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (t Topology) validateInterface(node string, ifc Interface, all map[Endpoint]Interface) []error {
	ep := Endpoint{node, ifc.Name}
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("interface %s: "+format, append([]any{ep}, args...)...))
	}

	if err := checkIfName(ifc.Name); err != nil {
		add("%w", err)
	}
	for _, a := range ifc.Addrs {
		if _, err := netip.ParsePrefix(a); err != nil {
			add("address %q: want an address with its prefix length, like 10.0.0.1/24: %w", a, err)
		}
	}
	if ifc.MAC != "" {
		if err := checkMAC(ifc.MAC); err != nil {
			add("MAC %q: %w", ifc.MAC, err)
		}
	}

	hasPeer := ifc.Peer != Endpoint{}
	switch {
	case ifc.Name == loopback:
		if ifc.Bridge != "" || hasPeer || ifc.MAC != "" {
			add("the loopback takes addresses only, no Bridge, Peer or MAC")
		}
	case ifc.Bridge == "" && !hasPeer:
		add("set Bridge or Peer: every interface but lo is one end of a veth pair")
	case ifc.Bridge != "" && hasPeer:
		add("set Bridge or Peer, not both")
	case ifc.Bridge != "":
		if !slices.Contains(t.Bridges, ifc.Bridge) {
			add("bridge %q is not declared in Topology.Bridges", ifc.Bridge)
		}
		if port := portName(node, ifc.Name); len(port) > maxIfName {
			add("its bridge port %q is longer than %d characters: shorten the node or interface name", port, maxIfName)
		}
	default:
		peer, ok := all[ifc.Peer]
		switch {
		case !ok:
			add("peer %s does not exist", ifc.Peer)
		case ifc.Peer == ep:
			add("an interface cannot be its own peer")
		case peer.Peer != ep:
			add("peer %s must name %s as its Peer", ifc.Peer, ep)
		}
	}
	return errs
}

func validateRoute(n NodeSpec, r Route) error {
	if r.Via == "" && r.Dev == "" {
		return errors.New("set Via, Dev or both")
	}
	if r.Dev != "" && !slices.ContainsFunc(n.Interfaces, func(i Interface) bool { return i.Name == r.Dev }) {
		return fmt.Errorf("dev %q is not one of the node's interfaces", r.Dev)
	}
	_, err := r.destination()
	return err
}

// destination returns the route's destination prefix and, when it has one,
// its gateway, both checked for agreeing families.
func (r Route) destination() (netip.Prefix, error) {
	var via netip.Addr
	if r.Via != "" {
		var err error
		if via, err = netip.ParseAddr(r.Via); err != nil {
			return netip.Prefix{}, fmt.Errorf("via: %w", err)
		}
	}
	if r.Dst == "default" {
		switch {
		case via.Is4():
			return netip.PrefixFrom(netip.IPv4Unspecified(), 0), nil
		case via.Is6():
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0), nil
		default:
			return netip.Prefix{}, errors.New(`"default" takes its family from Via: without Via write 0.0.0.0/0 or ::/0`)
		}
	}
	dst, err := netip.ParsePrefix(r.Dst)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf(`dst: want a prefix like 10.0.0.0/8 or "default": %w`, err)
	}
	if dst != dst.Masked() {
		return netip.Prefix{}, fmt.Errorf("dst %s has host bits set: did you mean %s?", dst, dst.Masked())
	}
	if via.IsValid() && via.Is4() != dst.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("via %s and dst %s are of different families", via, dst)
	}
	return dst, nil
}

func checkIfName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > maxIfName:
		return fmt.Errorf("name %q is longer than %d characters", name, maxIfName)
	case name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n"):
		return fmt.Errorf("%q is not a valid interface name", name)
	}
	return nil
}

func checkMAC(s string) error {
	mac, err := net.ParseMAC(s)
	switch {
	case err != nil:
		return err
	case len(mac) != 6:
		return errors.New("want a 6-byte Ethernet address")
	case mac[0]&1 != 0:
		return errors.New("a multicast address cannot be an interface's address")
	}
	return nil
}

func checkSysctlKey(key string) error {
	if strings.Contains(key, "/") || slices.Contains(strings.Split(key, "."), "") {
		return errors.New(`want a dotted key like "net.ipv4.ip_forward"`)
	}
	return nil
}

// namesInterface reports whether a sysctl key addresses one of the node's
// own interfaces, which exist only once the links are built.
func (n NodeSpec) namesInterface(key string) bool {
	parts := strings.Split(key, ".")
	return slices.ContainsFunc(n.Interfaces, func(i Interface) bool {
		return i.Name != loopback && slices.Contains(parts, i.Name)
	})
}
