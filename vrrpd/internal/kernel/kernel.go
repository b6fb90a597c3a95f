package kernel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// AliasMark starts the ifalias of every VRRP interface this package creates;
// the configured description follows it.
const AliasMark = "vrrpd:"

// ErrNoInterface is returned (wrapped) for an interface that does not exist.
var ErrNoInterface = errors.New("no such interface")

// Kernel is what the engine needs from the network stack. Every change is
// idempotent (asking for the state that already holds succeeds) and the
// methods are safe for concurrent use.
type Kernel interface {
	// EnsureVMAC makes the VRRP interface exist as described, up, with the
	// vMAC sysctls applied; a leftover of ours with other settings is
	// replaced, an interface of the same name that is not ours is an error.
	EnsureVMAC(ctx context.Context, v VMAC) error
	// DeleteVMAC removes a VRRP interface of ours, and with it its VIPs.
	DeleteVMAC(ctx context.Context, name string) error
	// AddVIP puts a virtual address on the interface.
	AddVIP(ctx context.Context, ifname string, vip netip.Prefix) error
	// RemoveVIP takes it off; an absent address or interface is no error.
	RemoveVIP(ctx context.Context, ifname string, vip netip.Prefix) error
	// Interface reports an interface's state, or ErrNoInterface.
	Interface(ctx context.Context, name string) (Interface, error)
	// SetIngressCopy makes the VRRP interface ifname copy and/or redirect
	// its inbound traffic as c says (VR-C20, VR-C21), replacing what an
	// earlier call set; a zero c removes it. A missing or unfit target is
	// an error naming it, returned after the rest of c is applied.
	SetIngressCopy(ctx context.Context, ifname string, c IngressCopy) error
	// SetBackupDrop makes the VRRP interface ifname drop every inbound
	// frame but adverts (drop) or accept them all again (!drop), the
	// state filter of a BACKUP in RFC 3768 mode (VR-B15). It is on the
	// takeover path, so it is synchronous and takes well under a
	// millisecond. Turning it off on a missing interface is no error;
	// the drop goes with its VRRP interface.
	SetBackupDrop(ctx context.Context, ifname string, drop bool) error
	// Leftovers lists the VRRP interfaces of ours present now, by name.
	Leftovers(ctx context.Context) ([]VMAC, error)
	// Subscribe delivers link and address events until ctx ends, then
	// closes the channel.
	Subscribe(ctx context.Context) (<-chan Event, error)
}

// VMAC describes a VRRP interface: a macvlan on Parent.
type VMAC struct {
	Name, Parent string
	MAC          net.HardwareAddr
	// Description becomes the ifalias, after AliasMark.
	Description string
	// LinkLocal, for an IPv6 group, is the parent's link-local address,
	// which the VRRP interface gets too: adverts leave it from that address
	// (RFC 5798 §5.1.2.1), and the kernel only sends from a link-local
	// address of the sending interface. The interface generates no
	// link-local address of its own: derived from the virtual MAC, it would
	// be the same on every router and fail duplicate address detection.
	LinkLocal netip.Addr
	// Addresses are those on the interface, Copy its ingress copy and
	// BackupDrop whether its backup drop filter is on; all three are
	// reported by Leftovers and ignored by EnsureVMAC.
	Addresses  []netip.Prefix
	Copy       IngressCopy
	BackupDrop bool
}

// IngressCopy is where a VRRP interface's inbound traffic also goes: a copy
// to Mirror (an IDS port, say) and/or the frame itself to Redirect, an ifb
// interface whose egress a QoS policy shapes (VR-Q06). Empty names are off.
type IngressCopy struct {
	Mirror, Redirect string
}

// IsZero reports whether c copies nothing.
func (c IngressCopy) IsZero() bool { return c == IngressCopy{} }

// IngressCopyPriority is the tc priority of the filter SetIngressCopy
// installs; it marks the filter as vrrpd's ("vr" in ASCII) so a leftover is
// recognised and other filters on the interface are left alone.
const IngressCopyPriority = 0x7672

// VirtualMAC is the group's virtual MAC (RFC 5798 §7.3).
func VirtualMAC(vrid uint8, ipv6 bool) net.HardwareAddr {
	family := byte(0x01)
	if ipv6 {
		family = 0x02
	}
	return net.HardwareAddr{0x00, 0x00, 0x5e, 0x00, family, vrid}
}

// Interface is the state of one interface as a group needs it.
type Interface struct {
	Name  string
	Index int
	MAC   net.HardwareAddr
	// AdminUp is IFF_UP; Running is IFF_RUNNING: up with carrier. A group
	// needs both (VR-B30).
	AdminUp, Running bool
	// PrimaryIPv4 is the first non-secondary IPv4 address, the default
	// advert source of VRRPv2/v3 over IPv4; zero when there is none.
	PrimaryIPv4 netip.Addr
	// LinkLocalIPv6 is the first usable (DAD done) link-local address, the
	// advert source over IPv6; zero when there is none.
	LinkLocalIPv6 netip.Addr
	// Addresses are all of the interface's addresses, in kernel order.
	Addresses []netip.Prefix
	// MTU and Stats are the link's, as `ip -s link show` prints them
	// (`show interfaces vrrp detail`).
	MTU   int
	Stats LinkStats
}

// LinkStats are an interface's kernel counters.
type LinkStats struct {
	RxPackets, RxBytes, RxErrors, RxDropped uint64
	TxPackets, TxBytes, TxErrors, TxDropped uint64
}

// EventKind says what changed.
type EventKind int

// The event kinds.
const (
	LinkUp   EventKind = iota + 1 // now admin up and running
	LinkDown                      // admin down or lost its carrier
	LinkGone                      // deleted
	AddressAdded
	AddressRemoved
)

var eventKindNames = map[EventKind]string{
	LinkUp: "link-up", LinkDown: "link-down", LinkGone: "link-gone",
	AddressAdded: "address-added", AddressRemoved: "address-removed",
}

func (k EventKind) String() string {
	if name, ok := eventKindNames[k]; ok {
		return name
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one change of a link or an address. Link events repeat the
// current state, so a LinkUp may arrive for a link that was already up.
type Event struct {
	Kind      EventKind
	Interface string
	// Address is set for the address kinds.
	Address netip.Prefix
}

func (e Event) String() string {
	if e.Address.IsValid() {
		return fmt.Sprintf("%s %s %s", e.Kind, e.Interface, e.Address)
	}
	return fmt.Sprintf("%s %s", e.Kind, e.Interface)
}

// Render prints the VRRP interfaces of ours and the addresses of the named
// interfaces as the `ip` commands that would build them, one per line in a
// stable order, so tests compare kernel states as text. IPv6 link-local
// addresses are left out: the kernel makes them, not vrrpd.
func Render(ctx context.Context, k Kernel, ifnames ...string) (string, error) {
	vmacs, err := k.Leftovers(ctx)
	if err != nil {
		return "", err
	}
	var lines []string
	for _, v := range vmacs {
		lines = append(lines, fmt.Sprintf("ip link add %s link %s address %s type macvlan mode private", v.Name, v.Parent, v.MAC))
		lines = append(lines, fmt.Sprintf("ip link set %s alias %q up", v.Name, AliasMark+v.Description))
		lines = append(lines, renderIngress(v.Name, v.BackupDrop, v.Copy)...)
	}
	names := slices.Clone(ifnames)
	for _, v := range vmacs {
		if !slices.Contains(names, v.Name) {
			names = append(names, v.Name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		ifc, err := k.Interface(ctx, name)
		if errors.Is(err, ErrNoInterface) {
			continue
		}
		if err != nil {
			return "", err
		}
		addrs := slices.Clone(ifc.Addresses)
		slices.SortFunc(addrs, comparePrefixes)
		for _, a := range addrs {
			if a.Addr().Is6() && a.Addr().IsLinkLocalUnicast() {
				continue
			}
			lines = append(lines, fmt.Sprintf("ip addr add %s dev %s", a, name))
		}
	}
	return strings.Join(lines, "\n"), nil
}

// renderIngress prints a VRRP interface's ingress filters, the backup
// drop (nftables) and the copy (tc), as the commands that make them.
func renderIngress(ifname string, drop bool, c IngressCopy) []string {
	var lines []string
	if drop {
		table := BackupDropTable(ifname)
		lines = append(lines,
			"nft add table netdev "+table,
			fmt.Sprintf("nft add chain netdev %s %s { type filter hook ingress device %s priority 0 ; policy drop ; }", table, backupDropChain, ifname),
			fmt.Sprintf("nft add rule netdev %s %s meta protocol ip ip protocol %d accept", table, backupDropChain, vrrpProtocol),
			fmt.Sprintf("nft add rule netdev %s %s meta protocol ip6 ip6 nexthdr %d accept", table, backupDropChain, vrrpProtocol))
	}
	if c.IsZero() {
		return lines
	}
	filter := fmt.Sprintf("tc filter add dev %s ingress prio %d protocol all u32 match u32 0 0", ifname, IngressCopyPriority)
	if c.Mirror != "" {
		filter += " action mirred egress mirror dev " + c.Mirror
	}
	if c.Redirect != "" {
		filter += " action mirred egress redirect dev " + c.Redirect
	}
	return append(lines, fmt.Sprintf("tc qdisc add dev %s ingress", ifname), filter)
}

func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
