package config

import (
	"net/netip"
	"strconv"
	"time"

	hc "github.com/hasuite/hasuite/pkg/config"
)

// checkGroup applies the rules that tie a group's nodes together
// (VR-E05, VR-E08, VR-C18, and the version 3 additions).
func checkGroup(g hc.View, r *hc.Report) {
	version := g.Int("version")
	checkInterval(g, version, r)
	family := checkVIPs(g, version, r)
	for _, name := range []string{"hello-source-address", "peer-address"} {
		for _, a := range g.Addrs(name) {
			if family.IsValid() && a.Is4() != family.Is4() {
				r.Errorf(g.Child(name), "%s is not of the family of the virtual addresses (%s)", a, familyName(family))
			}
		}
	}
	if auth := g.Child("authentication"); auth.Exists() {
		if auth.Has("password") && auth.String("password") == "" {
			r.Errorf(auth.Child("password"), "the password is empty: write 1-8 characters")
		}
		if version == 3 {
			r.Errorf(auth, "version 3 has no authentication (RFC 5798): remove it or set version 2")
		} else {
			r.Warnf(auth, "neither plaintext-password nor ah keeps out a forged master: filter IP protocol 112 to the known routers")
		}
	}
	checkChecksum(g, version, family, r)
	checkOwner(g, r)
	if g.Has("interface") && !g.Has("rfc3768-compatibility") {
		r.Warnf(g.Child("interface"), "an interface block implies rfc3768-compatibility (a VRRP interface): add rfc3768-compatibility to say so")
	}
	checkInterfaceNames(g, r)
}

func checkInterval(g hc.View, version int64, r *hc.Report) {
	interval, _ := parseInterval(g.String("advertise-interval")) // the type checked it
	switch {
	case version == 2 && interval%time.Second != 0:
		r.Errorf(g.Child("advertise-interval"), "%s: version 2 takes whole seconds 1-255 (set version 3 for fractions of a second)",
			g.String("advertise-interval"))
	case version == 3 && interval > maxV3Interval:
		r.Errorf(g.Child("advertise-interval"), "%s out of range 0.01-40.95 for version 3", g.String("advertise-interval"))
	}
}

// checkVIPs returns the first virtual address, whose family the group's
// other addresses must share.
func checkVIPs(g hc.View, version int64, r *hc.Report) netip.Addr {
	vips := g.Prefixes("virtual-address")
	at := g.Child("virtual-address")
	if len(vips) > MaxVIPs {
		r.Errorf(at, "%d virtual addresses: at most %d per group (split them over several groups)", len(vips), MaxVIPs)
	}
	if len(vips) == 0 {
		return netip.Addr{}
	}
	first := vips[0].Addr()
	for _, p := range vips {
		switch {
		case version == 2 && p.Addr().Is6():
			r.Errorf(at, "IPv6 address %s needs version 3", p)
		case p.Addr().Is4() != first.Is4():
			r.Errorf(at, "%s: a group's virtual addresses are all IPv4 or all IPv6 (use two groups)", p)
		}
	}
	return first
}

func checkChecksum(g hc.View, version int64, family netip.Addr, r *hc.Report) {
	at := g.Child("checksum")
	switch mode := Checksum(g.String("checksum")); {
	case mode == ChecksumRFC9568:
	case version == 2:
		r.Errorf(at, "version 2 has a single checksum: remove checksum %s or set version 3", mode)
	case mode == ChecksumWithoutPseudoHeader && family.Is6():
		r.Errorf(at, "IPv6 checksums always have a pseudo-header: remove checksum %s", mode)
	case mode == ChecksumMulticastPseudoHeader && !g.Has("peer-address"):
		r.Warnf(at, "%s only differs from rfc9568 for unicast adverts (peer-address)", mode)
	}
}

// checkOwner: the address owner (priority 255) always preempts and sends
// from its own address, the virtual one (VR-E05, 2594-2597).
func checkOwner(g hc.View, r *hc.Report) {
	if g.Int("priority") != 255 {
		return
	}
	if !g.Bool("preempt") {
		r.Errorf(g.Child("preempt"), "the address owner (priority 255) always preempts: remove preempt false or lower the priority")
	}
	if g.Has("hello-source-address") {
		r.Errorf(g.Child("hello-source-address"), "not allowed for the address owner (priority 255), which sends from the virtual address")
	}
	if !g.Has("rfc3768-compatibility") {
		r.Warnf(g.Child("priority"), "the guide asks the address owner (priority 255) to set rfc3768-compatibility")
	}
}

// checkInterfaceNames: the kernel refuses names over 15 characters
// (VR-E08, VR-Q09).
func checkInterfaceNames(g hc.View, r *hc.Report) {
	at := placeOf(g.Path())
	if name := at.ifName(); len(name) > maxIfName {
		r.Errorf(g, "the VLAN interface name %s is longer than %d characters: Linux cannot create it", name, maxIfName)
		return
	}
	if usesVRRPInterface(g) && !g.Child("interface").Has("name") {
		if name := vmacIfName(at, g.Tag()); len(name) > maxIfName {
			r.Errorf(g, "the VRRP interface name %s is longer than %d characters: set interface name NAME", name, maxIfName)
		}
	}
}

// checkAcrossGroups applies the rules between groups (VR-E09, VR-C30).
func checkAcrossGroups(root hc.View, r *hc.Report) {
	vipOwner := map[netip.Addr]hc.View{}
	vmacNames := map[string]hc.View{}
	syncMembers := map[string][]hc.View{}
	var syncOrder []string
	eachGroup(root, func(at place, g hc.View) {
		for _, p := range g.Prefixes("virtual-address") {
			if first, dup := vipOwner[p.Addr()]; dup {
				r.Errorf(g.Child("virtual-address"), "%s is already a virtual address of %s at %s: one address belongs to one group",
					p.Addr(), keyOf(placeOf(first.Path()), first), lineCol(first.Child("virtual-address")))
				continue
			}
			vipOwner[p.Addr()] = g
		}
		if usesVRRPInterface(g) {
			name := vrrpIfName(at, g)
			if first, dup := vmacNames[name]; dup {
				r.Errorf(g, "VRRP interface name %s is already used by %s at %s", name, keyOf(placeOf(first.Path()), first), lineCol(first))
			}
			vmacNames[name] = g
		}
		if name := g.String("sync-group"); name != "" {
			if syncMembers[name] == nil {
				syncOrder = append(syncOrder, name)
			}
			syncMembers[name] = append(syncMembers[name], g)
		}
	})
	for _, name := range syncOrder {
		if members := syncMembers[name]; len(members) == 1 {
			r.Warnf(members[0].Child("sync-group"), "sync-group %s has only this group", name)
		}
	}
}

func lineCol(v hc.View) string {
	p := v.Pos()
	return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col)
}

func familyName(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}
