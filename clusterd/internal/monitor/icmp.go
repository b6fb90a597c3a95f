package monitor

import (
	"bytes"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// icmpProtocol is IPPROTO_ICMP, for icmp.ParseMessage.
const icmpProtocol = 1

// ICMP is the real Prober: a raw ICMP socket and a netlink handle in one
// network namespace (see the package documentation for why raw).
type ICMP struct {
	conn *icmp.PacketConn
	pc   *ipv4.PacketConn
	h    *netlink.Handle
	// id and signature tell our replies from those of other pingers on
	// the node, which a raw socket receives too.
	id        int
	signature []byte
	exclude   func() []netip.Addr

	replies   chan Reply
	done      chan struct{}
	closeOnce sync.Once
	readDone  chan struct{}
}

var _ Prober = (*ICMP)(nil)

// OpenICMP opens the prober in the network namespace at nsPath
// (/run/netns/<name>), or the current one when nsPath is empty. exclude,
// if not nil, returns the addresses never to send from: the cluster IPs
// (CL-B09).
func OpenICMP(nsPath string, exclude func() []netip.Addr) (*ICMP, error) {
	p := &ICMP{
		id:        1 + rand.N(0xfffe),
		signature: make([]byte, 16),
		exclude:   exclude,
		replies:   make(chan Reply, 64),
		done:      make(chan struct{}),
		readDone:  make(chan struct{}),
	}
	_, _ = cryptorand.Read(p.signature)
	ns := netns.None()
	if nsPath != "" {
		var err error
		if ns, err = netns.GetFromPath(nsPath); err != nil {
			return nil, fmt.Errorf("monitor: open network namespace %s: %w", nsPath, err)
		}
		defer ns.Close()
	}
	var err error
	if ns.IsOpen() {
		p.h, err = netlink.NewHandleAt(ns)
	} else {
		p.h, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, fmt.Errorf("monitor: open netlink socket: %w", err)
	}
	if err := inNamespace(ns, func() (err error) {
		p.conn, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		return err
	}); err != nil {
		p.h.Close()
		return nil, fmt.Errorf("monitor: open raw ICMP socket: %w (needs CAP_NET_RAW)", err)
	}
	p.pc = p.conn.IPv4PacketConn()
	go p.read()
	return p, nil
}

// Send implements Prober: the request leaves from the source Source picks.
func (p *ICMP) Send(dst netip.Addr, seq uint16) error {
	src, err := p.Source(dst)
	if err != nil {
		return err
	}
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: p.id, Seq: int(seq), Data: p.signature}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return err
	}
	cm := &ipv4.ControlMessage{Src: src.AsSlice()}
	if _, err := p.pc.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return fmt.Errorf("monitor: ping %s from %s: %w", dst, src, err)
	}
	return nil
}

// Source returns the address a request to dst leaves from: the one the
// kernel's route would pick, unless that is excluded (a cluster IP); then
// another address of the outgoing interface, one in dst's subnet first.
func (p *ICMP) Source(dst netip.Addr) (netip.Addr, error) {
	routes, err := p.h.RouteGet(dst.AsSlice())
	if err != nil || len(routes) == 0 {
		return netip.Addr{}, fmt.Errorf("monitor: no route to %s: %v (add one, monitors must be reachable from the node's own address)", dst, err)
	}
	route := routes[0]
	var excluded []netip.Addr
	if p.exclude != nil {
		excluded = p.exclude()
	}
	if src, ok := netip.AddrFromSlice(route.Src); ok && !slices.Contains(excluded, src.Unmap()) {
		return src.Unmap(), nil
	}
	link, err := p.h.LinkByIndex(route.LinkIndex)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("monitor: route to %s: outgoing interface %d: %w", dst, route.LinkIndex, err)
	}
	addrs, err := p.h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("monitor: addresses of %s: %w", link.Attrs().Name, err)
	}
	var fallback netip.Addr
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP)
		ip = ip.Unmap()
		if slices.Contains(excluded, ip) {
			continue
		}
		ones, _ := a.Mask.Size()
		if netip.PrefixFrom(ip, ones).Masked().Contains(dst) {
			return ip, nil
		}
		if !fallback.IsValid() {
			fallback = ip
		}
	}
	if fallback.IsValid() {
		return fallback, nil
	}
	return netip.Addr{}, fmt.Errorf("monitor: %s has no address of its own to ping %s from, only cluster IPs: give it one (CL-B18)", link.Attrs().Name, dst)
}

// Replies implements Prober.
func (p *ICMP) Replies() <-chan Reply { return p.replies }

// Close implements Prober.
func (p *ICMP) Close() error {
	var err error
	p.closeOnce.Do(func() {
		close(p.done)
		err = p.conn.Close()
		<-p.readDone
		p.h.Close()
	})
	return err
}

func (p *ICMP) read() {
	defer close(p.readDone)
	defer close(p.replies)
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			// Closed, or a socket error that would repeat: Run sees the
			// replies channel close and says so.
			return
		}
		msg, err := icmp.ParseMessage(icmpProtocol, buf[:n])
		if err != nil || msg.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		echo, ok := msg.Body.(*icmp.Echo)
		if !ok || echo.ID != p.id || !bytes.Equal(echo.Data, p.signature) {
			continue
		}
		addr, ok := from.(*net.IPAddr)
		if !ok {
			continue
		}
		ip, _ := netip.AddrFromSlice(addr.IP)
		select {
		case p.replies <- Reply{From: ip.Unmap(), Seq: uint16(echo.Seq)}:
		case <-p.done:
			return
		}
	}
}

// inNamespace runs f with the calling thread in ns (the current namespace
// when ns is not open), for sockets, which stay in the namespace of the
// thread that opens them.
func inNamespace(ns netns.NsHandle, f func() error) error {
	if !ns.IsOpen() {
		return f()
	}
	runtime.LockOSThread()
	origin, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("remember the current network namespace: %w", err)
	}
	defer origin.Close()
	if err := netns.Set(ns); err != nil {
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
