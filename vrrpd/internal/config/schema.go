package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	hc "github.com/hasuite/hasuite/pkg/config"
)

// Limits of the protocol and of the guide that the schema enforces.
const (
	// MaxVIPs is the guide's limit of virtual addresses per group (2574).
	MaxVIPs = 20
	// maxIfName is IFNAMSIZ-1: the longest Linux interface name.
	maxIfName = 15
	// maxV3Interval is the largest VRRPv3 interval: 12 bits of centiseconds.
	maxV3Interval = 4095 * centisecond
	centisecond   = 10 * time.Millisecond
)

var syncGroupName = hc.Pattern(`[A-Za-z0-9_.-]{1,64}`, "a name of 1-64 letters, digits, '_', '.' or '-'")

func seconds(min, max time.Duration) hc.Type {
	return hc.Duration(time.Second, min, max)
}

// vrrpBlock declares `vrrp { vrrp-group N { ... } }`. Mirror and redirect act
// on the VRRP interface of a plain ethernet interface only (VR-C20, VR-C21).
func vrrpBlock(mirrorAllowed bool) *hc.Spec {
	group := []hc.Option{
		hc.Help("a VRRP group; the number is its VRID"),
		hc.Leaf("advertise-interval", intervalType{}, hc.Default("1"), hc.Alias("advertisement-interval"),
			hc.Help("seconds between adverts: 1-255 (version 2), 0.01-40.95 (version 3)")),
		hc.Container("authentication", hc.RequiredTogether("password", "type"),
			hc.Leaf("password", hc.StringMax(8), hc.Help("1-8 characters, the same on every router")),
			hc.Leaf("type", hc.Enum("plaintext-password", "ah")),
		),
		hc.Leaf("checksum", hc.Enum(string(ChecksumRFC9568), string(ChecksumWithoutPseudoHeader), string(ChecksumMulticastPseudoHeader)),
			hc.Default(string(ChecksumRFC9568)), hc.Help("version 3 checksum; the others interoperate with older implementations")),
		hc.Leaf("description", hc.String()),
		hc.Flag("disable", hc.Help("keep the group configured but stopped")),
		hc.Leaf("gate-deadline", seconds(0, time.Minute), hc.Default("1"),
			hc.Help("longest wait for takeover gates before the VIPs come up")),
		hc.Container("garp", hc.Help("gratuitous ARP (unsolicited NA for IPv6) as master"),
			hc.Leaf("master-delay", seconds(0, time.Hour), hc.Default("5"),
				hc.Help("seconds after becoming master before the second burst (0 = none)")),
			hc.Leaf("master-repeat", hc.Int(1, 255), hc.Default("5"), hc.Help("messages per burst")),
			hc.Leaf("master-refresh", seconds(0, 24*time.Hour), hc.Default("60"),
				hc.Help("seconds between refresh bursts while master (0 = never)")),
			hc.Leaf("master-refresh-repeat", hc.Int(1, 255), hc.Default("1"), hc.Help("messages per refresh burst")),
		),
		hc.Leaf("hello-source-address", ipAddrType{}, hc.Help("source of the adverts; an address of this router")),
		hc.Container("interface", hc.Help("the VRRP (virtual MAC) interface"),
			hc.Leaf("description", hc.String()),
			hc.Leaf("mirror", hc.IfName(), hc.Help("copy inbound traffic to this interface")),
			hc.Leaf("name", hc.IfName(), hc.Help("override the derived name <parent>v<group>")),
			hc.Leaf("redirect", hc.IfName(), hc.Help("redirect inbound traffic to this ifb interface")),
		),
		hc.Leaf("peer-address", ipAddrType{}, hc.Multi(), hc.Help("send adverts by unicast to this peer")),
		hc.Leaf("preempt", hc.Bool(), hc.Default("true")),
		hc.Leaf("preempt-delay", seconds(0, time.Hour), hc.Default("0")),
		hc.Leaf("priority", hc.Int(1, 255), hc.Default("100"), hc.Help("1-254; 255 only for the address owner")),
		hc.Flag("rfc3768-compatibility", hc.Help("use the virtual MAC on a VRRP interface")),
		hc.Container("run-transition-scripts",
			hc.Leaf("backup", hc.String()),
			hc.Leaf("fault", hc.String()),
			hc.Leaf("master", hc.String()),
		),
		hc.Leaf("sync-group", syncGroupName),
		hc.Leaf("version", hc.Int(2, 3), hc.Default("2"), hc.Help("2 (RFC 3768) or 3 (RFC 5798)")),
		hc.Leaf("virtual-address", vipType{}, hc.Multi(), hc.Required()),
		hc.Check(checkGroup),
	}
	if !mirrorAllowed {
		group = append(group, hc.Check(forbidMirrorRedirect))
	}
	return hc.Container("vrrp", hc.Tag("vrrp-group", hc.Int(1, 255), group...))
}

// interfaceBody is what vrrpd reads of an ethernet or bonding interface.
func interfaceBody(kind string) []hc.Option {
	const notOurs = "not a VRRP setting"
	return []hc.Option{
		hc.IgnoreUnknown(notOurs),
		vrrpBlock(kind == "ethernet"),
		hc.Tag("vif", hc.Int(0, 4094), hc.IgnoreUnknown(notOurs), vrrpBlock(false), hc.Check(warnPriorityTag)),
	}
}

// schema is vrrpd's part of the configuration (spec vrrpd.md section 1).
var schema = hc.MustSchema(
	hc.Container("interfaces", hc.IgnoreUnknown("not an interface type vrrpd uses"),
		hc.Tag("ethernet", hc.IfName(), interfaceBody("ethernet")...),
		hc.Tag("bonding", hc.IfName(), interfaceBody("bonding")...),
	),
	hc.Check(checkAcrossGroups),
)

// Schema returns vrrpd's schema, for help output and `set`-style editing.
func Schema() *hc.Schema { return schema }

// intervalType is the advertise interval in seconds, with centisecond
// resolution so that VRRPv3 intervals (0.1) fit; checkGroup applies the
// per-version range.
type intervalType struct{}

func (intervalType) String() string { return "seconds 1-255 (version 2) or 0.01-40.95 (version 3)" }

func (t intervalType) Check(value string) error {
	d, err := parseInterval(value)
	if err != nil {
		return err
	}
	if d < centisecond || d > 255*time.Second {
		return fmt.Errorf("%s out of range: %s", value, t)
	}
	return nil
}

// parseInterval reads seconds written with at most two decimals.
func parseInterval(value string) (time.Duration, error) {
	whole, frac, hasFrac := strings.Cut(value, ".")
	if whole == "" || len(whole) > 4 || !allDigits(whole) || (hasFrac && (frac == "" || len(frac) > 2 || !allDigits(frac))) {
		return 0, fmt.Errorf("%q is not a number of seconds with at most two decimals (e.g. 1 or 0.25)", value)
	}
	secs, _ := strconv.Atoi(whole)
	cs := 0
	if hasFrac {
		cs, _ = strconv.Atoi((frac + "0")[:2])
	}
	return time.Duration(secs)*time.Second + time.Duration(cs)*centisecond, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// vipType is a virtual address: IPv4 or IPv6, with an optional prefix length
// whose host bits are kept (172.16.0.24/24 is the address .24 on a /24).
type vipType struct{}

func (vipType) String() string { return "an IPv4 or IPv6 address with an optional /length" }

func (t vipType) Check(value string) error {
	_, err := parseVIP(value)
	return err
}

func parseVIP(value string) (netip.Prefix, error) {
	addrText, _, hasLen := strings.Cut(value, "/")
	addr, err := parseUsableAddr(addrText)
	if err != nil {
		return netip.Prefix{}, err
	}
	if !hasLen {
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	p, err := netip.ParsePrefix(value)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%s: the length after / must be 0-%d", value, addr.BitLen())
	}
	return p, nil
}

// ipAddrType is one IPv4 or IPv6 address without a prefix length.
type ipAddrType struct{}

func (ipAddrType) String() string { return "an IPv4 or IPv6 address" }

func (ipAddrType) Check(value string) error {
	_, err := parseUsableAddr(value)
	return err
}

func parseUsableAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return a, fmt.Errorf("%q is not an IPv4 or IPv6 address", s)
	case a.Zone() != "":
		return a, fmt.Errorf("%s: leave out the zone, the interface gives it", s)
	case a.Is4In6():
		return a, fmt.Errorf("%s: write the IPv4 address as %s", s, a.Unmap())
	case a.IsUnspecified() || a.IsMulticast():
		return a, fmt.Errorf("%s is not a unicast address", s)
	}
	return a, nil
}

// warnPriorityTag: VLAN 0 is the 802.1p priority tag, rarely what is meant
// (VR-C02, VR-Q18).
func warnPriorityTag(vif hc.View, r *hc.Report) {
	if vif.Tag() == "0" {
		r.Warnf(vif, "VLAN 0 is the 802.1p priority tag, not a VLAN: check the vif number")
	}
}

func forbidMirrorRedirect(g hc.View, r *hc.Report) {
	iface := g.Child("interface")
	for _, name := range []string{"mirror", "redirect"} {
		if iface.Has(name) {
			r.Errorf(iface.Child(name), "only allowed under interfaces ethernet IF, not under a vif or bonding interface")
		}
	}
}
