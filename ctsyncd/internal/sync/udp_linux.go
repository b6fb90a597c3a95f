package sync

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	gosync "sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// UDPConn is the sync channel's socket: bound to the sync interface, a
// member of the group there (or talking to the unicast peer), TTL 1,
// multicast loopback off, buffers of sync-queue-size.
type UDPConn struct {
	cfg   ConnConfig
	pc    net.PacketConn
	ip    *ipv4.PacketConn
	dest  *net.UDPAddr
	own   map[netip.Addr]bool // the interface's addresses: our own datagrams
	done  chan struct{}
	close gosync.Once
	// recvErrors counts failed reads; the engine adds them to the
	// session's counters (NoteRecvError) from its own goroutine.
	recvErrors atomic.Uint64
}

// Listen opens the sync socket in the calling thread's network namespace
// and starts a goroutine reading it: deliver gets each datagram not sent
// by this node, with its source; b is valid only during the call. deliver
// runs on that goroutine: hand the bytes (copied) to the engine's loop.
func Listen(cfg ConnConfig, deliver func(b []byte, from netip.AddrPort)) (_ *UDPConn, err error) {
	if cfg, err = cfg.withDefaults(); err != nil {
		return nil, err
	}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("sync: interface %s: %w (check `interface` in service conntrack-sync)", cfg.Interface, err)
	}
	c := &UDPConn{cfg: cfg, own: map[netip.Addr]bool{}, done: make(chan struct{})}
	if addrs, err := ifi.Addrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
					c.own[ip.Unmap()] = true
				}
			}
		}
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = setSockopts(int(fd), cfg) }); err != nil {
			return err
		}
		return serr
	}}
	// In multicast mode bind the group address: the socket then gets the
	// group's datagrams only, not unicast to the port.
	bind := "0.0.0.0"
	if !cfg.Peer.IsValid() {
		bind = cfg.Group.String()
	}
	addr := net.JoinHostPort(bind, strconv.Itoa(int(cfg.Port)))
	if c.pc, err = lc.ListenPacket(context.Background(), "udp4", addr); err != nil {
		return nil, fmt.Errorf("sync: listen on UDP %s: %w (is another ctsyncd running, or is the port taken?)", addr, err)
	}
	defer func() {
		if err != nil {
			c.pc.Close()
		}
	}()
	c.ip = ipv4.NewPacketConn(c.pc)
	steps := []struct {
		what string
		do   func() error
	}{
		{"TTL", func() error { return c.ip.SetTTL(1) }},
		{"multicast TTL", func() error { return c.ip.SetMulticastTTL(1) }},
		{"multicast loopback", func() error { return c.ip.SetMulticastLoopback(false) }},
		{"multicast interface", func() error { return c.ip.SetMulticastInterface(ifi) }},
	}
	if !cfg.Peer.IsValid() {
		steps = append(steps, struct {
			what string
			do   func() error
		}{"group membership", func() error {
			return c.ip.JoinGroup(ifi, &net.UDPAddr{IP: cfg.Group.AsSlice()})
		}})
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			return nil, fmt.Errorf("sync: set %s on the sync socket (interface %s): %w", st.what, cfg.Interface, err)
		}
	}
	c.dest = net.UDPAddrFromAddrPort(cfg.Dest())
	go c.readLoop(deliver)
	return c, nil
}

// setSockopts sets what must be set before bind: the device, the buffers
// (forced beyond rmem_max/wmem_max when privileged, as conntrackd does)
// and no foreign group memberships.
func setSockopts(fd int, cfg ConnConfig) error {
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, cfg.Interface); err != nil {
		return fmt.Errorf("bind to device %s: %w", cfg.Interface, err)
	}
	for _, b := range []struct{ force, plain int }{
		{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF},
	} {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, b.force, cfg.BufferBytes) != nil {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, b.plain, cfg.BufferBytes); err != nil {
				return fmt.Errorf("socket buffer of %d bytes: %w", cfg.BufferBytes, err)
			}
		}
	}
	// Without this, the socket would also get the datagrams of groups
	// other sockets of the host joined.
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0)
}

// readBuf is larger than any valid datagram so that a too long one is
// seen whole and counted as such (wire.DropTooLong), not cut.
const readBuf = 65536

func (c *UDPConn) readLoop(deliver func([]byte, netip.AddrPort)) {
	defer close(c.done)
	buf := make([]byte, readBuf)
	for {
		n, from, err := c.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient error (ICMP unreachable on unicast): keep
			// reading, without spinning if it persists.
			c.recvErrors.Add(1)
			time.Sleep(time.Millisecond)
			continue
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		src := ua.AddrPort()
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		if c.own[src.Addr()] {
			continue
		}
		deliver(buf[:n], src)
	}
}

// RecvErrors is the number of failed reads so far.
func (c *UDPConn) RecvErrors() uint64 { return c.recvErrors.Load() }

// Send sends one datagram to the group or the peer.
func (c *UDPConn) Send(b []byte) error {
	if _, err := c.pc.WriteTo(b, c.dest); err != nil {
		return fmt.Errorf("sync: send to %s on %s: %w", c.dest, c.cfg.Interface, err)
	}
	return nil
}

// Buffers returns the socket's send and receive buffer sizes as the kernel
// set them (it doubles the request), for the status.
func (c *UDPConn) Buffers() (snd, rcv int, err error) {
	sc, ok := c.pc.(syscall.Conn)
	if !ok {
		return 0, 0, errors.New("sync: not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var e1, e2 error
	if err := rc.Control(func(fd uintptr) {
		snd, e1 = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
		rcv, e2 = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}); err != nil {
		return 0, 0, err
	}
	return snd, rcv, errors.Join(e1, e2)
}

// Close closes the socket and waits for the read loop to end.
func (c *UDPConn) Close() error {
	var err error
	c.close.Do(func() {
		err = c.pc.Close()
		<-c.done
	})
	return err
}
