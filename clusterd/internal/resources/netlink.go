package resources

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hasuite/hasuite/pkg/announce"
)

// Netlink is the real Kernel, acting on one network namespace.
type Netlink struct {
	// ns is the target namespace; closed (netns.None) for the current one.
	ns netns.NsHandle
	h  *netlink.Handle

	closeOnce sync.Once
	closeErr  error
}

var _ Kernel = (*Netlink)(nil)

// Open binds to the network namespace at nsPath (/run/netns/<name>), or to
// the current one when nsPath is empty. Close releases it.
func Open(nsPath string) (*Netlink, error) {
	n := &Netlink{ns: netns.None()}
	if nsPath == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("open netlink socket (clusterd needs CAP_NET_ADMIN): %w", err)
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

// Close releases the netlink socket and the namespace.
func (n *Netlink) Close() error {
	n.closeOnce.Do(func() {
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

// Addrs implements Kernel.
func (n *Netlink) Addrs(_ context.Context, ifname string) ([]Addr, error) {
	var link netlink.Link
	if ifname != "" {
		l, err := n.link(ifname)
		if err != nil {
			return nil, err
		}
		link = l
	}
	list, err := n.h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list IPv4 addresses: %w", err)
	}
	names := map[int]string{}
	out := make([]Addr, 0, len(list))
	for _, a := range list {
		name, ok := names[a.LinkIndex]
		if !ok {
			if l, err := n.h.LinkByIndex(a.LinkIndex); err == nil {
				name = l.Attrs().Name
			}
			names[a.LinkIndex] = name
		}
		ip, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		addr := Addr{Interface: name, Prefix: netip.PrefixFrom(ip.Unmap(), ones), Label: a.Label}
		if brd, ok := netip.AddrFromSlice(a.Broadcast); ok {
			addr.Broadcast = brd.Unmap()
		}
		out = append(out, addr)
	}
	return out, nil
}

// AddAddr implements Kernel.
func (n *Netlink) AddAddr(_ context.Context, a Addr) error {
	l, err := n.link(a.Interface)
	if err != nil {
		return err
	}
	brd := a.Broadcast
	if !brd.IsValid() {
		brd = broadcastOf(a.Prefix)
	}
	addr := &netlink.Addr{IPNet: ipNet(a.Prefix), Label: a.Label}
	if brd.IsValid() {
		addr.Broadcast = brd.AsSlice()
	}
	// Add, not replace: an address already there is someone's, and the
	// caller must decide whether it is ours.
	if err := n.h.AddrAdd(l, addr); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%s: %w", a, ErrExists)
		}
		return fmt.Errorf("add %s: %w", a, err)
	}
	return nil
}

// DelAddr implements Kernel.
func (n *Netlink) DelAddr(_ context.Context, a Addr) error {
	l, err := n.link(a.Interface)
	if errors.Is(err, ErrNoInterface) {
		return nil
	}
	if err != nil {
		return err
	}
	err = n.h.AddrDel(l, &netlink.Addr{IPNet: ipNet(a.Prefix)})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("remove %s from %s: %w", a.Prefix, a.Interface, err)
	}
	return nil
}

// Announce implements Kernel: one gratuitous ARP from the interface's own
// MAC, through a packet socket opened in the namespace for the occasion.
func (n *Netlink) Announce(_ context.Context, ifname string, ip netip.Addr) error {
	l, err := n.link(ifname)
	if err != nil {
		return err
	}
	mac := l.Attrs().HardwareAddr
	var a *announce.Announcer
	if err := n.inNamespace(func() (err error) {
		a, err = announce.OpenAnnouncer(ifname)
		return err
	}); err != nil {
		return err
	}
	defer a.Close()
	return a.AnnounceIPv4(ip, mac)
}

// inNamespace runs f with the calling thread in the target namespace, for
// the sockets that open in the namespace of the thread that creates them.
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
