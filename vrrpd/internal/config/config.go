package config

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"time"

	hc "github.com/hasuite/hasuite/pkg/config"
)

// NoVLAN is Group.VLAN for a group on the interface itself, not on a vif.
const NoVLAN = -1

// Config is a validated vrrpd configuration.
type Config struct {
	// Groups in file order: ethernet interfaces, then bonding, each
	// interface's own groups before those of its vifs.
	Groups []Group
	// SyncGroups lists the members of each sync group, in Groups order.
	SyncGroups map[string][]GroupKey
	// Warnings are the problems that did not stop the load.
	Warnings hc.Diagnostics
}

// GroupKey names a group on this router: the kernel interface and the
// VRID. Its String, "eth0.15/99", is the group's name on the bus.
type GroupKey struct {
	Interface string
	VRID      uint8
}

func (k GroupKey) String() string { return k.Interface + "/" + strconv.Itoa(int(k.VRID)) }

// MarshalText gives the String form, so keys read well in JSON.
func (k GroupKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Group is one VRRP group (virtual router) with every default applied.
type Group struct {
	Key GroupKey
	// Interface is the kernel name the group runs on (eth0, eth0.15).
	Interface string
	// ParentKind is "ethernet" or "bonding"; Parent is its name (eth0).
	ParentKind, Parent string
	// VLAN is the vif number, or NoVLAN.
	VLAN    int
	VRID    uint8
	Version int // 2 or 3
	// Priority is 1-254, or 255 for the address owner.
	Priority     uint8
	Interval     time.Duration
	Preempt      bool
	PreemptDelay time.Duration
	// VIPs are the virtual addresses with their prefix length (/32 or
	// /128 when none was written), host bits kept, in the order written.
	VIPs []netip.Prefix
	// Peers, when set, receive the adverts by unicast instead of multicast.
	Peers []netip.Addr
	Auth  Auth
	// Checksum is how version 3 adverts are checksummed.
	Checksum Checksum
	// HelloSource is the advert source; the zero Addr means the
	// interface's primary address.
	HelloSource netip.Addr
	Description string
	Disabled    bool
	SyncGroup   string
	Scripts     Scripts
	// RFC3768 puts the VIPs on a VRRP interface (a macvlan named
	// VRRPInterface with the virtual MAC VMAC) instead of on Interface.
	RFC3768       bool
	VRRPInterface VRRPInterface
	GARP          GARP
	// GateDeadline bounds the wait for takeover gates on the way to MASTER.
	GateDeadline time.Duration
}

// AuthType is the advert authentication of VRRPv2.
type AuthType string

// The authentication types of the guide (VR-C14).
const (
	AuthNone      AuthType = ""
	AuthPlaintext AuthType = "plaintext-password"
	AuthAH        AuthType = "ah"
)

// Checksum is the VRRPv3 checksum variant. RFC 9568 settles it: a
// pseudo-header as for UDP, holding the packet's real destination. Older
// implementations differ, and a peer that does must be matched.
type Checksum string

const (
	// ChecksumRFC9568 is the standard, and the default.
	ChecksumRFC9568 Checksum = "rfc9568"
	// ChecksumWithoutPseudoHeader covers the VRRP message alone, as
	// version 2 does; some IPv4 implementations do this (IPv4 only).
	ChecksumWithoutPseudoHeader Checksum = "without-pseudo-header"
	// ChecksumMulticastPseudoHeader puts the multicast group (224.0.0.18,
	// ff02::12) in the pseudo-header even of unicast adverts, as older
	// keepalived releases did (keepalived issue 642).
	ChecksumMulticastPseudoHeader Checksum = "multicast-pseudo-header"
)

// Auth is the group's authentication; Type is AuthNone without it.
type Auth struct {
	Type     AuthType
	Password string `json:"-"` // kept out of JSON shown to operators
}

// Scripts are the transition scripts as written: relative to the scripts
// directory, or absolute; empty when not set.
type Scripts struct {
	Master, Backup, Fault string
}

// VRRPInterface is the macvlan of RFC 3768 mode; zero without RFC3768.
type VRRPInterface struct {
	Name        string
	MAC         net.HardwareAddr
	Description string
	// Mirror copies, Redirect redirects, its inbound traffic (tc mirred).
	Mirror, Redirect string
}

// GARP says when a new master announces its addresses (gratuitous ARP, or
// unsolicited neighbour advertisements for IPv6).
type GARP struct {
	// MasterRepeat messages go out on becoming master and again after
	// MasterDelay (0: no second burst).
	MasterRepeat int
	MasterDelay  time.Duration
	// MasterRefreshRepeat messages go out every MasterRefresh while master
	// (0: never).
	MasterRefreshRepeat int
	MasterRefresh       time.Duration
}

// Owner reports whether this router owns the virtual addresses (priority
// 255): it becomes master at once and always preempts.
func (g *Group) Owner() bool { return g.Priority == 255 }

// IPv6 reports whether the group's virtual addresses are IPv6.
func (g *Group) IPv6() bool { return len(g.VIPs) > 0 && g.VIPs[0].Addr().Is6() }

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the vrrpd configuration: %w", err)
	}
	return Parse(path, src)
}

// Parse validates src, named file in messages. Errors are hc.Diagnostics,
// each with file:line:col.
func Parse(file string, src []byte) (*Config, error) {
	loaded, err := schema.Load(file, src)
	if err != nil {
		return nil, err
	}
	return fromView(loaded.Root(), loaded.Warnings), nil
}

// Validate reports every warning and error of src, as `vrrpd validate`
// shows them: the warnings come back even when there are errors.
func Validate(file string, src []byte) (warnings hc.Diagnostics, err error) {
	tree, err := schema.Parse(file, src)
	if err != nil {
		return nil, err
	}
	return schema.Validate(tree)
}

// Group returns the group with key k, or nil.
func (c *Config) Group(k GroupKey) *Group {
	for i := range c.Groups {
		if c.Groups[i].Key == k {
			return &c.Groups[i]
		}
	}
	return nil
}

// Scripts lists every transition script named, each once, in group order,
// for the daemon to check (pkg/hook.Check) before applying a reload.
func (c *Config) Scripts() []string {
	var out []string
	for _, g := range c.Groups {
		for _, s := range []string{g.Scripts.Master, g.Scripts.Backup, g.Scripts.Fault} {
			if s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func fromView(root hc.View, warnings hc.Diagnostics) *Config {
	c := &Config{SyncGroups: map[string][]GroupKey{}, Warnings: warnings}
	eachGroup(root, func(at place, g hc.View) {
		grp := groupFrom(at, g)
		c.Groups = append(c.Groups, grp)
		if grp.SyncGroup != "" {
			c.SyncGroups[grp.SyncGroup] = append(c.SyncGroups[grp.SyncGroup], grp.Key)
		}
	})
	return c
}

func groupFrom(at place, g hc.View) Group {
	interval, _ := parseInterval(g.String("advertise-interval"))
	auth, scripts, garp := g.Child("authentication"), g.Child("run-transition-scripts"), g.Child("garp")
	grp := Group{
		Key:          keyOf(at, g),
		Interface:    at.ifName(),
		ParentKind:   at.kind,
		Parent:       at.parent,
		VLAN:         at.vlan,
		VRID:         vrid(g),
		Version:      int(g.Int("version")),
		Priority:     uint8(g.Int("priority")),
		Interval:     interval,
		Preempt:      g.Bool("preempt"),
		PreemptDelay: g.Duration("preempt-delay"),
		VIPs:         g.Prefixes("virtual-address"),
		Peers:        g.Addrs("peer-address"),
		Auth:         Auth{Type: AuthType(auth.String("type")), Password: auth.String("password")},
		Checksum:     Checksum(g.String("checksum")),
		HelloSource:  g.Addr("hello-source-address"),
		Description:  g.String("description"),
		Disabled:     g.Has("disable"),
		SyncGroup:    g.String("sync-group"),
		Scripts: Scripts{
			Master: scripts.String("master"),
			Backup: scripts.String("backup"),
			Fault:  scripts.String("fault"),
		},
		RFC3768: usesVRRPInterface(g),
		GARP: GARP{
			MasterRepeat:        int(garp.Int("master-repeat")),
			MasterDelay:         garp.Duration("master-delay"),
			MasterRefreshRepeat: int(garp.Int("master-refresh-repeat")),
			MasterRefresh:       garp.Duration("master-refresh"),
		},
		GateDeadline: g.Duration("gate-deadline"),
	}
	if grp.RFC3768 {
		iface := g.Child("interface")
		grp.VRRPInterface = VRRPInterface{
			Name:        vrrpIfName(at, g),
			MAC:         VirtualMAC(grp.VRID, grp.IPv6()),
			Description: iface.String("description"),
			Mirror:      iface.String("mirror"),
			Redirect:    iface.String("redirect"),
		}
	}
	return grp
}

// VirtualMAC is the group's virtual router MAC address: 00:00:5e:00:01:VRID
// for IPv4, 00:00:5e:00:02:VRID for IPv6 (RFC 5798 7.3).
func VirtualMAC(vrid uint8, ipv6 bool) net.HardwareAddr {
	family := byte(1)
	if ipv6 {
		family = 2
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, family, vrid}
}

// usesVRRPInterface: rfc3768-compatibility, or the legacy `interface { }`
// block that implied it (VR-C18, VR-Q05).
func usesVRRPInterface(g hc.View) bool {
	return g.Has("rfc3768-compatibility") || g.Has("interface")
}

// place is where a group is configured.
type place struct {
	kind, parent string // "ethernet" eth0
	vlan         int    // or NoVLAN
}

// placeOf reads a group's place from its path:
// interfaces KIND NAME [vif N] vrrp vrrp-group G.
func placeOf(p hc.Path) place {
	at := place{kind: p[1], parent: p[2], vlan: NoVLAN}
	if p[3] == "vif" {
		at.vlan, _ = strconv.Atoi(p[4]) // validated by the schema
	}
	return at
}

// ifName is the kernel name: eth0, or eth0.15 for a vif (VR-C02, VR-C04).
func (at place) ifName() string {
	if at.vlan == NoVLAN {
		return at.parent
	}
	return at.parent + "." + strconv.Itoa(at.vlan)
}

// vmacIfName derives the VRRP interface name, <interface>v<group> (VR-B40).
func vmacIfName(at place, group string) string { return at.ifName() + "v" + group }

func vrrpIfName(at place, g hc.View) string {
	if name := g.Child("interface").String("name"); name != "" {
		return name
	}
	return vmacIfName(at, g.Tag())
}

func vrid(g hc.View) uint8 {
	n, _ := strconv.Atoi(g.Tag()) // 1-255, validated by the schema
	return uint8(n)
}

func keyOf(at place, g hc.View) GroupKey { return GroupKey{Interface: at.ifName(), VRID: vrid(g)} }

// eachGroup calls fn for every vrrp-group instance, in Config.Groups order.
func eachGroup(root hc.View, fn func(at place, g hc.View)) {
	interfaces := root.Child("interfaces")
	for _, kind := range []string{"ethernet", "bonding"} {
		for _, parent := range interfaces.Instances(kind) {
			groups := func(at place, holder hc.View) {
				for _, g := range holder.Child("vrrp").Instances("vrrp-group") {
					fn(at, g)
				}
			}
			groups(place{kind: kind, parent: parent.Tag(), vlan: NoVLAN}, parent)
			for _, vif := range parent.Instances("vif") {
				vlan, _ := strconv.Atoi(vif.Tag())
				groups(place{kind: kind, parent: parent.Tag(), vlan: vlan}, vif)
			}
		}
	}
}

// The MarshalJSON methods write durations as text ("1s", "100ms") and MACs
// as 00:00:5e:00:01:63, for `--json` output and golden files that read well.
// Each embeds its type under another name, which has no methods, and
// shadows the fields to rewrite.

// MarshalJSON writes the durations as text.
func (g Group) MarshalJSON() ([]byte, error) {
	type fields Group
	return json.Marshal(struct {
		fields
		Interval, PreemptDelay, GateDeadline string
	}{fields(g), g.Interval.String(), g.PreemptDelay.String(), g.GateDeadline.String()})
}

// MarshalJSON writes the durations as text.
func (g GARP) MarshalJSON() ([]byte, error) {
	type fields GARP
	return json.Marshal(struct {
		fields
		MasterDelay, MasterRefresh string
	}{fields(g), g.MasterDelay.String(), g.MasterRefresh.String()})
}

// MarshalJSON writes the MAC as text.
func (v VRRPInterface) MarshalJSON() ([]byte, error) {
	type fields VRRPInterface
	return json.Marshal(struct {
		fields
		MAC string
	}{fields(v), v.MAC.String()})
}
