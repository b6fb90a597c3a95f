package netio

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
)

// FakeLink is an in-memory segment for tests of the engine: what one
// attached FakeConn sends to a multicast group every other one receives,
// what it sends to a unicast address the one holding that address receives,
// always with hop limit 255, as on a real link.
type FakeLink struct {
	mu    sync.Mutex
	conns []*FakeConn
}

// NewFakeLink returns a segment with nothing attached.
func NewFakeLink() *FakeLink { return &FakeLink{} }

// Attach returns a conn sending from addr and receiving as ifIndex.
func (l *FakeLink) Attach(addr netip.Addr, ifIndex int) *FakeConn {
	c := &FakeConn{link: l, addr: addr, ifIndex: ifIndex, inbox: make(chan Received, fakeInboxLen), closed: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns = append(l.conns, c)
	return c
}

func (l *FakeLink) deliver(from *FakeConn, payload []byte, dst netip.Addr) {
	l.mu.Lock()
	peers := slices.Clone(l.conns)
	l.mu.Unlock()
	for _, peer := range peers {
		if peer == from || (!dst.IsMulticast() && peer.addr != dst) {
			continue
		}
		peer.Inject(Received{
			Payload:  slices.Clone(payload),
			Src:      from.addr,
			Dst:      dst,
			HopLimit: requiredHopLimit,
			IfIndex:  peer.ifIndex,
		})
	}
}

// fakeInboxLen is how many unread adverts a FakeConn holds before it
// drops more.
const fakeInboxLen = 256

// Sent is an advert a FakeConn sent.
type Sent struct {
	Payload []byte
	Dst     netip.Addr
}

// FakeConn is the AdvertConn of a FakeLink.
type FakeConn struct {
	link    *FakeLink
	addr    netip.Addr
	ifIndex int

	inbox     chan Received
	closeOnce sync.Once
	closed    chan struct{}

	mu   sync.Mutex
	sent []Sent
}

var _ AdvertConn = (*FakeConn)(nil)

// Send records the advert and delivers it to the other conns of the link.
func (c *FakeConn) Send(payload []byte, dst netip.Addr) error {
	select {
	case <-c.closed:
		return fmt.Errorf("netio: fake send to %s: %w", dst, net.ErrClosed)
	default:
	}
	c.mu.Lock()
	c.sent = append(c.sent, Sent{Payload: slices.Clone(payload), Dst: dst})
	c.mu.Unlock()
	c.link.deliver(c, payload, dst)
	return nil
}

// Receive returns the next advert delivered or injected.
func (c *FakeConn) Receive() (Received, error) {
	select {
	case r := <-c.inbox:
		return r, nil
	case <-c.closed:
		return Received{}, fmt.Errorf("netio: fake receive: %w", net.ErrClosed)
	}
}

// Inject delivers r as if it had arrived from the wire, for adverts no
// conforming sender would send (a TTL other than 255, a forged source). A
// closed conn discards it.
func (c *FakeConn) Inject(r Received) {
	select {
	case c.inbox <- r:
	case <-c.closed:
	}
}

// Sent returns what the conn has sent, oldest first.
func (c *FakeConn) Sent() []Sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent)
}

// Close unblocks Receive and detaches the conn from its link.
func (c *FakeConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.link.mu.Lock()
		defer c.link.mu.Unlock()
		c.link.conns = slices.DeleteFunc(c.link.conns, func(other *FakeConn) bool { return other == c })
	})
	return nil
}
