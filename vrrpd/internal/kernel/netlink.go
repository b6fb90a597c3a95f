package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Netlink is the real Kernel, acting on one network namespace.
type Netlink struct {
	log *slog.Logger
	// ns is the target namespace; closed (netns.None) for the current one.
	ns netns.NsHandle
	h  *netlink.Handle

	closeOnce sync.Once
	closeErr  error

	// vmacMu serialises EnsureVMAC and DeleteVMAC, so a parent's sysctls
	// are never restored while a VRRP interface on it is being created.
	vmacMu sync.Mutex
	// parentSysctls holds each parent's values from before this process
	// first changed them, to restore when its last VRRP interface goes.
	parentSysctls map[string]map[string]string

	// nft holds the backup drops (backupdrop.go).
	nft *nftConn
}

var _ Kernel = (*Netlink)(nil)

// macvlanSysctls and parentSysctls are keepalived's vMAC settings plus
// arp_announce (see the package documentation for why each one).
var (
	macvlanSysctls = map[string]string{"arp_ignore": "1", "accept_local": "1", "rp_filter": "0", "promote_secondaries": "1"}
	parentSysctls  = map[string]string{"arp_ignore": "1", "arp_filter": "1", "arp_announce": "2"}
)

// Open binds to the network namespace at nsPath (/run/netns/<name>), or to
// the current one when nsPath is empty. Close releases it.
func Open(nsPath string, log *slog.Logger) (*Netlink, error) {
	n := &Netlink{log: log, ns: netns.None(), parentSysctls: map[string]map[string]string{}}
	n.nft = newNFTConn(func() (fd int, err error) {
		err = n.inNamespace(func() error {
			fd, err = openNetfilterSocket()
			return err
		})
		return fd, err
	})
	if nsPath == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("open netlink socket (vrrpd needs CAP_NET_ADMIN): %w", err)
		}
		n.h = h
		return n, nil
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("open netlink socket in %s (needs CAP_NET_ADMIN): %w", nsPath, err)
	}
	n.ns, n.h = ns, h
	return n, nil
}

// Close releases the netlink socket and the namespace. Closing twice is
// harmless; using n afterwards is not.
func (n *Netlink) Close() error {
	n.closeOnce.Do(func() {
		n.nft.close()
		n.h.Close()
		if n.ns.IsOpen() {
			n.closeErr = n.ns.Close()
		}
	})
	return n.closeErr
}

func (n *Netlink) link(name string) (netlink.Link, error) {
	l, err := n.h.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil, fmt.Errorf("interface %s: %w", name, ErrNoInterface)
	}
	if err != nil {
		return nil, fmt.Errorf("look up interface %s: %w", name, err)
	}
	return l, nil
}

func ours(l netlink.Link) bool {
	_, ok := l.(*netlink.Macvlan)
	return ok && strings.HasPrefix(l.Attrs().Alias, AliasMark)
}

// addrGenModeNone is IN6_ADDR_GEN_MODE_NONE: no automatic IPv6 link-local
// address.
const addrGenModeNone = 1

// EnsureVMAC implements Kernel.
func (n *Netlink) EnsureVMAC(_ context.Context, v VMAC) error {
	n.vmacMu.Lock()
	defer n.vmacMu.Unlock()
	parent, err := n.link(v.Parent)
	if err != nil {
		return fmt.Errorf("VRRP interface %s needs its parent: %w", v.Name, err)
	}
	existing, err := n.link(v.Name)
	switch {
	case errors.Is(err, ErrNoInterface):
		existing = nil
	case err != nil:
		return err
	case !ours(existing):
		return fmt.Errorf("interface %s exists but was not created by vrrpd (its alias lacks %q): delete or rename it, or rename the VRRP interface", v.Name, AliasMark)
	case !sameMacvlan(existing, parent, v):
		if err := n.h.LinkDel(existing); err != nil {
			return fmt.Errorf("replace stale VRRP interface %s: %w", v.Name, err)
		}
		existing = nil
	}
	if err := n.saveAndSetParentSysctls(v.Parent); err != nil {
		return err
	}
	l := existing
	if l == nil {
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{Name: v.Name, ParentIndex: parent.Attrs().Index, HardwareAddr: v.MAC},
			Mode:      netlink.MACVLAN_MODE_PRIVATE,
		}
		if err := n.h.LinkAdd(mv); err != nil {
			return fmt.Errorf("create VRRP interface %s on %s: %w", v.Name, v.Parent, err)
		}
		if l, err = n.link(v.Name); err != nil {
			return err
		}
		if err := n.h.LinkSetIP6AddrGenMode(l, addrGenModeNone); err != nil {
			return fmt.Errorf("stop VRRP interface %s from making its own IPv6 link-local address: %w", v.Name, err)
		}
	}
	// The mark goes on first: from here on a crash leaves a leftover we
	// recognise.
	if alias := AliasMark + v.Description; l.Attrs().Alias != alias {
		if err := n.h.LinkSetAlias(l, alias); err != nil {
			return fmt.Errorf("set alias of VRRP interface %s: %w", v.Name, err)
		}
	}
	if err := n.setSysctls(v.Name, macvlanSysctls); err != nil {
		return err
	}
	if v.LinkLocal.IsValid() {
		ll := &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(v.LinkLocal, 64)), Flags: unix.IFA_F_NODAD}
		if err := n.h.AddrReplace(l, ll); err != nil {
			return fmt.Errorf("give VRRP interface %s the link-local address %s of %s: %w", v.Name, v.LinkLocal, v.Parent, err)
		}
	}
	if err := n.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring VRRP interface %s up: %w", v.Name, err)
	}
	return nil
}

func sameMacvlan(l, parent netlink.Link, v VMAC) bool {
	mv, ok := l.(*netlink.Macvlan)
	return ok && mv.Mode == netlink.MACVLAN_MODE_PRIVATE &&
		mv.ParentIndex == parent.Attrs().Index &&
		mv.HardwareAddr.String() == v.MAC.String()
}

// DeleteVMAC implements Kernel.
func (n *Netlink) DeleteVMAC(ctx context.Context, name string) error {
	n.vmacMu.Lock()
	defer n.vmacMu.Unlock()
	l, err := n.link(name)
	if errors.Is(err, ErrNoInterface) {
		return nil
	}
	if err != nil {
		return err
	}
	if !ours(l) {
		return fmt.Errorf("refusing to delete interface %s: vrrpd did not create it (its alias lacks %q)", name, AliasMark)
	}
	parent, err := n.h.LinkByIndex(l.Attrs().ParentIndex)
	if err != nil {
		return fmt.Errorf("look up the parent of VRRP interface %s: %w", name, err)
	}
	// A netdev chain outlives its device (it only loses its hook): the
	// backup drop goes first; failing that, the interface still goes.
	dropErr := n.removeBackupDrop(name)
	if err := n.h.LinkDel(l); err != nil {
		return errors.Join(dropErr, fmt.Errorf("delete VRRP interface %s: %w", name, err))
	}
	return errors.Join(dropErr, n.restoreParentSysctls(ctx, parent.Attrs().Name))
}

// AddVIP implements Kernel.
func (n *Netlink) AddVIP(_ context.Context, ifname string, vip netip.Prefix) error {
	l, err := n.link(ifname)
	if err != nil {
		return fmt.Errorf("add VIP %s: %w", vip, err)
	}
	addr := &netlink.Addr{IPNet: ipNet(vip)}
	if vip.Addr().Is6() {
		addr.Flags = unix.IFA_F_NODAD
	}
	// Replace, not add: an address already present is success.
	if err := n.h.AddrReplace(l, addr); err != nil {
		return fmt.Errorf("add VIP %s to %s: %w", vip, ifname, err)
	}
	return nil
}

// RemoveVIP implements Kernel.
func (n *Netlink) RemoveVIP(_ context.Context, ifname string, vip netip.Prefix) error {
	l, err := n.link(ifname)
	if errors.Is(err, ErrNoInterface) {
		return nil
	}
	if err != nil {
		return err
	}
	err = n.h.AddrDel(l, &netlink.Addr{IPNet: ipNet(vip)})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("remove VIP %s from %s: %w", vip, ifname, err)
	}
	return nil
}

// Interface implements Kernel.
func (n *Netlink) Interface(_ context.Context, name string) (Interface, error) {
	l, err := n.link(name)
	if err != nil {
		return Interface{}, err
	}
	attrs := l.Attrs()
	ifc := Interface{
		Name:    name,
		Index:   attrs.Index,
		MAC:     attrs.HardwareAddr,
		AdminUp: attrs.Flags&net.FlagUp != 0,
		Running: attrs.RawFlags&unix.IFF_RUNNING != 0,
		MTU:     attrs.MTU,
	}
	if st := attrs.Statistics; st != nil {
		ifc.Stats = LinkStats{
			RxPackets: st.RxPackets, RxBytes: st.RxBytes, RxErrors: st.RxErrors, RxDropped: st.RxDropped,
			TxPackets: st.TxPackets, TxBytes: st.TxBytes, TxErrors: st.TxErrors, TxDropped: st.TxDropped,
		}
	}
	addrs, err := n.h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return Interface{}, fmt.Errorf("list addresses of %s: %w", name, err)
	}
	for _, a := range addrs {
		p := prefix(a.IPNet)
		ifc.Addresses = append(ifc.Addresses, p)
		switch {
		case p.Addr().Is4() && a.Flags&unix.IFA_F_SECONDARY == 0 && !ifc.PrimaryIPv4.IsValid():
			ifc.PrimaryIPv4 = p.Addr()
		case p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 && !ifc.LinkLocalIPv6.IsValid():
			ifc.LinkLocalIPv6 = p.Addr()
		}
	}
	return ifc, nil
}

// Leftovers implements Kernel.
func (n *Netlink) Leftovers(context.Context) ([]VMAC, error) {
	links, err := n.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	var found []VMAC
	for _, l := range links {
		if !ours(l) {
			continue
		}
		attrs := l.Attrs()
		addrs, err := n.h.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return nil, fmt.Errorf("list addresses of %s: %w", attrs.Name, err)
		}
		v := VMAC{
			Name:        attrs.Name,
			Parent:      names[attrs.ParentIndex],
			MAC:         attrs.HardwareAddr,
			Description: strings.TrimPrefix(attrs.Alias, AliasMark),
		}
		for _, a := range addrs {
			v.Addresses = append(v.Addresses, prefix(a.IPNet))
		}
		if v.Copy, err = n.ingressCopyOf(l, names); err != nil {
			return nil, err
		}
		if v.BackupDrop, err = n.backupDropOn(attrs.Name); err != nil {
			return nil, err
		}
		found = append(found, v)
	}
	return found, nil
}

func (n *Netlink) saveAndSetParentSysctls(parent string) error {
	if _, saved := n.parentSysctls[parent]; !saved {
		before := map[string]string{}
		for key := range parentSysctls {
			value, err := n.readSysctl(parent, key)
			if err != nil {
				return err
			}
			before[key] = value
		}
		n.parentSysctls[parent] = before
	}
	return n.setSysctls(parent, parentSysctls)
}

// restoreParentSysctls puts back the parent's values once no VRRP interface
// of ours is left on it. Values changed by an earlier (crashed) vrrpd are
// unknown and stay.
func (n *Netlink) restoreParentSysctls(ctx context.Context, parent string) error {
	left, err := n.Leftovers(ctx)
	if err != nil {
		return err
	}
	for _, v := range left {
		if v.Parent == parent {
			return nil
		}
	}
	before, saved := n.parentSysctls[parent]
	if !saved {
		return nil
	}
	delete(n.parentSysctls, parent)
	return n.setSysctls(parent, before)
}

func sysctlPath(ifname, key string) string {
	return filepath.Join("/proc/sys/net/ipv4/conf", ifname, key)
}

func (n *Netlink) setSysctls(ifname string, values map[string]string) error {
	return n.inNamespace(func() error {
		for key, value := range values {
			if err := os.WriteFile(sysctlPath(ifname, key), []byte(value), 0o644); err != nil {
				return fmt.Errorf("set sysctl net.ipv4.conf.%s.%s=%s: %w", ifname, key, value, err)
			}
		}
		return nil
	})
}

func (n *Netlink) readSysctl(ifname, key string) (string, error) {
	var value string
	err := n.inNamespace(func() error {
		b, err := os.ReadFile(sysctlPath(ifname, key))
		if err != nil {
			return fmt.Errorf("read sysctl net.ipv4.conf.%s.%s: %w", ifname, key, err)
		}
		value = strings.TrimSpace(string(b))
		return nil
	})
	return value, err
}

// inNamespace runs f with the calling thread in the target namespace,
// because /proc/sys/net shows the namespace of the thread that opens it.
func (n *Netlink) inNamespace(f func() error) error {
	if !n.ns.IsOpen() {
		return f()
	}
	runtime.LockOSThread()
	origin, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("remember the current network namespace: %w", err)
	}
	defer origin.Close()
	if err := netns.Set(n.ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace: %w", err)
	}
	ferr := f()
	if err := netns.Set(origin); err != nil {
		// The thread stays locked, so the runtime ends it with the
		// goroutine instead of reusing it in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("return to the original network namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func prefix(n *net.IPNet) netip.Prefix {
	addr, _ := netip.AddrFromSlice(n.IP)
	addr = addr.Unmap()
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(addr, ones)
}
