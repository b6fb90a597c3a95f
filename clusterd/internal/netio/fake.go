package netio

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
)

// FakeLink is an in-memory segment for engine tests: what a FakeConn sends
// on an interface plugged into it, every other conn's interface plugged
// into it receives, as a multicast heartbeat (Dst DefaultGroup, TTL 1).
// Delivery follows the state at the time of sending: nothing crosses a cut
// segment or leaves or reaches an interface that is down or unplugged.
type FakeLink struct {
	mu    sync.Mutex
	cut   bool
	ports []*fakePort
}

// NewFakeLink returns a segment with nothing plugged in.
func NewFakeLink() *FakeLink { return &FakeLink{} }

// SetCut cuts the segment (true) or mends it: a dead switch, as opposed to
// one node's interface going down (FakeConn.SetUp).
func (l *FakeLink) SetCut(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
}

func (l *FakeLink) deliver(from *fakePort, payload []byte) {
	l.mu.Lock()
	if l.cut {
		l.mu.Unlock()
		return
	}
	ports := slices.Clone(l.ports)
	l.mu.Unlock()
	for _, to := range ports {
		if to.conn == from.conn {
			continue // multicast loopback is off
		}
		r, ok := to.conn.arrival(to, from, payload)
		if ok {
			to.conn.Inject(r)
		}
	}
}

func (l *FakeLink) detach(p *fakePort) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ports = slices.DeleteFunc(l.ports, func(other *fakePort) bool { return other == p })
}

// fakePort is one interface of a FakeConn; guarded by its conn's mu.
type fakePort struct {
	conn    *FakeConn
	name    string
	index   int
	addr    netip.Addr
	link    *FakeLink // nil when unplugged
	up      bool
	present bool
}

// FakeSent is a heartbeat a FakeConn sent.
type FakeSent struct {
	Interface string
	Payload   []byte
}

// FakeConn is a Conn on FakeLinks.
type FakeConn struct {
	inbox     chan Received
	closeOnce sync.Once
	closed    chan struct{}

	mu    sync.Mutex
	ports []*fakePort // configuration order
	sent  []FakeSent
}

var _ Conn = (*FakeConn)(nil)

// fakeInboxLen is how many unread heartbeats a FakeConn holds; more are
// dropped, as by a full socket buffer.
const fakeInboxLen = 256

// NewFakeConn returns a conn whose cluster interfaces are ifnames, none of
// them existing yet: Plug them.
func NewFakeConn(ifnames ...string) *FakeConn {
	c := &FakeConn{inbox: make(chan Received, fakeInboxLen), closed: make(chan struct{})}
	for _, name := range ifnames {
		c.ports = append(c.ports, &fakePort{conn: c, name: name})
	}
	return c
}

func (c *FakeConn) port(ifname string) *fakePort {
	i := slices.IndexFunc(c.ports, func(p *fakePort) bool { return p.name == ifname })
	if i < 0 {
		panic(fmt.Sprintf("netio: fake conn has no cluster interface %q", ifname))
	}
	return c.ports[i]
}

// Plug makes the cluster interface ifname exist, up, with index and
// primary address addr, plugged into link. It panics if ifname is not one
// of the conn's interfaces.
func (c *FakeConn) Plug(ifname string, index int, addr netip.Addr, link *FakeLink) {
	c.mu.Lock()
	p := c.port(ifname)
	old := p.link
	p.index, p.addr, p.link, p.up, p.present = index, addr, link, true, true
	c.mu.Unlock()
	if old != nil {
		old.detach(p)
	}
	link.mu.Lock()
	link.ports = append(link.ports, p)
	link.mu.Unlock()
}

// Unplug makes ifname disappear, as a deleted interface.
func (c *FakeConn) Unplug(ifname string) {
	c.mu.Lock()
	p := c.port(ifname)
	old := p.link
	p.link, p.present, p.up, p.index = nil, false, false, 0
	c.mu.Unlock()
	if old != nil {
		old.detach(p)
	}
}

// SetUp sets ifname up or down (down also covers a lost carrier).
func (c *FakeConn) SetUp(ifname string, up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.port(ifname).up = up
}

// arrival is what to receives of a heartbeat from, if it can receive now.
func (c *FakeConn) arrival(to, from *fakePort, payload []byte) (Received, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !to.present || !to.up {
		return Received{}, false
	}
	return Received{
		Payload:   slices.Clone(payload),
		Src:       netip.AddrPortFrom(from.addr, DefaultPort),
		Dst:       DefaultGroup,
		Interface: to.name,
		IfIndex:   to.index,
		TTL:       TTL,
	}, true
}

// Send records the heartbeat and delivers it on the interface's segment.
func (c *FakeConn) Send(ifname string, payload []byte) error {
	select {
	case <-c.closed:
		return fmt.Errorf("netio: fake send on %s: %w", ifname, net.ErrClosed)
	default:
	}
	c.mu.Lock()
	i := slices.IndexFunc(c.ports, func(p *fakePort) bool { return p.name == ifname })
	if i < 0 {
		c.mu.Unlock()
		return fmt.Errorf("netio: send heartbeat on %s: %w", ifname, ErrUnknownInterface)
	}
	p := c.ports[i]
	if err := p.problem(); err != nil {
		c.mu.Unlock()
		return fmt.Errorf("netio: send heartbeat: %w", err)
	}
	c.sent = append(c.sent, FakeSent{Interface: ifname, Payload: slices.Clone(payload)})
	link := p.link
	c.mu.Unlock()
	link.deliver(p, payload)
	return nil
}

func (p *fakePort) problem() error {
	switch {
	case !p.present:
		return unusable(p.name, "does not exist")
	case !p.up:
		return unusable(p.name, "administratively down")
	}
	return nil
}

// Receive returns the next heartbeat delivered or injected.
func (c *FakeConn) Receive() (Received, error) {
	select {
	case r := <-c.inbox:
		return r, nil
	case <-c.closed:
		return Received{}, fmt.Errorf("netio: fake receive: %w", net.ErrClosed)
	}
}

// Inject delivers r as if it had arrived from the wire: a forged or
// malformed datagram no FakeConn would send. A closed conn, or one holding
// fakeInboxLen unread heartbeats, discards it.
func (c *FakeConn) Inject(r Received) {
	select {
	case <-c.closed:
	case c.inbox <- r:
	default:
	}
}

// Refresh reports the interfaces' current state.
func (c *FakeConn) Refresh() []LinkStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]LinkStatus, len(c.ports))
	for i, p := range c.ports {
		out[i] = LinkStatus{Name: p.name, Index: p.index, Exists: p.present, Up: p.up, Carrier: p.up,
			Joined: p.present, Source: p.addr, Err: p.problem()}
		if !p.present {
			out[i].Source = netip.Addr{}
		}
	}
	return out
}

// Sent returns what the conn has sent, oldest first.
func (c *FakeConn) Sent() []FakeSent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sent)
}

// Close unblocks Receive and unplugs every interface.
func (c *FakeConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.mu.Lock()
		ports := slices.Clone(c.ports)
		c.mu.Unlock()
		for _, p := range ports {
			c.Unplug(p.name)
		}
	})
	return nil
}
