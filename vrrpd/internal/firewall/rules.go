// Package firewall is the static half of the state-specific filtering of
// VR-B15: while a group is not MASTER its router drops every packet
// addressed to one of the group's VIPs. Without it a backup with
// forwarding on would forward what a stale ARP entry still sends it, and
// answer for a VIP it does not hold.
//
// The rules live in the raw table (before connection tracking, so dropped
// packets leave no conntrack entries), in one chain of vrrpd's own that
// PREROUTING jumps to; each rule carries a comment naming its group. A VIP
// rule only drops packets whose destination is not a local address: the
// master holds the VIP, so the rule is inert there and stays from the
// group's start to its stop. Nothing here changes on a failover, so the
// rules are applied off the state machine's loop, through the iptables
// binary, without delaying a takeover.
//
// The other half, RFC 3768 mode's "drop every frame sent to the virtual
// MAC but adverts", must change on every transition, and in step with the
// VIPs: the new master forwards what hosts send to the virtual MAC from
// the moment it adds its VIPs. It is therefore not here but in the kernel
// package (Kernel.SetBackupDrop, an nftables netdev-ingress chain on the
// VRRP interface), which the engine calls synchronously, in microseconds,
// on the failover path.
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

// Group is what one VRRP group's rules protect.
type Group struct {
	// Key names the group in the rules' comments: "eth0/99".
	Key string
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

// Rules are g's rules, the same in every state.
func Rules(g Group) []Rule {
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
	return rules
}
