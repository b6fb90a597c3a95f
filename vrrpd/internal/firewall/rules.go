// Package firewall is the state-specific filtering of VR-B15: while a group
// is not MASTER its router drops every packet addressed to one of the
// group's VIPs, and, in RFC 3768 mode, every frame that arrives on the
// group's VRRP interface (so addressed to the virtual MAC) except adverts.
// Without it a backup with forwarding on would forward what a switch still
// floods to the virtual MAC, and answer for a VIP it does not hold.
//
// The rules live in the raw table (before connection tracking, so dropped
// packets leave no conntrack entries), in one chain of vrrpd's own that
// PREROUTING jumps to; each rule carries a comment naming its group.
//
// Two kinds of rule keep the failover path short. A VIP rule only drops
// packets whose destination is not a local address: the master holds the
// VIP, so the rule is inert there and stays from the group's start to its
// stop. The VRRP interface rule must go while MASTER, since the master
// forwards what hosts send to the virtual MAC; it is the only rule that
// changes on a transition.
package firewall

import (
	"net/netip"
	"strconv"
)

// Table and Chain are where the rules live.
const (
	Table = "raw"
	Chain = "VRRPD"
	// hook is the built-in chain that jumps to Chain.
	hook = "PREROUTING"
)

// vrrpProtocol is IP protocol 112, by number: /etc/protocols may lack its
// name.
const vrrpProtocol = "112"

// Group is what one VRRP group's rules protect.
type Group struct {
	// Key names the group in the rules' comments: "eth0/99".
	Key string
	// VRRPInterface is the macvlan of RFC 3768 mode; empty in legacy mode.
	VRRPInterface string
	// IPv6 says which of iptables and ip6tables holds the interface rule.
	IPv6 bool
	// VIPs are the virtual addresses.
	VIPs []netip.Prefix
	// Owner is set for the address owner (priority 255): its VIPs are its
	// own addresses, never dropped, and it is always the master.
	Owner bool
}

// Rule is one rule of Chain.
type Rule struct {
	IPv6 bool
	Spec []string
}

func (r Rule) key() string {
	s := strconv.FormatBool(r.IPv6)
	for _, part := range r.Spec {
		s += "\x00" + part
	}
	return s
}

// Rules are g's rules in the state master says.
func Rules(g Group, master bool) []Rule {
	if g.Owner {
		return nil
	}
	comment := []string{"-m", "comment", "--comment", "vrrpd " + g.Key}
	var rules []Rule
	for _, vip := range g.VIPs {
		addr := vip.Addr()
		spec := []string{"-d", netip.PrefixFrom(addr, addr.BitLen()).String(), "-m", "addrtype", "!", "--dst-type", "LOCAL"}
		rules = append(rules, Rule{IPv6: addr.Is6(), Spec: append(append(spec, comment...), "-j", "DROP")})
	}
	if g.VRRPInterface != "" && !master {
		spec := []string{"-i", g.VRRPInterface, "!", "-p", vrrpProtocol}
		rules = append(rules, Rule{IPv6: g.IPv6, Spec: append(append(spec, comment...), "-j", "DROP")})
	}
	return rules
}
