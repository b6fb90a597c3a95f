package netlab

import (
	"bytes"
	"context"
	cryptorand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingTimeout is how long Ping waits for its reply at most.
const pingTimeout = time.Second

// echoConn sends ICMP echo requests from a node to one destination and
// receives the replies meant for it, over a raw socket opened in the node.
type echoConn struct {
	conn      *icmp.PacketConn
	dst       *net.IPAddr
	protocol  int // for icmp.ParseMessage: 1 (ICMP) or 58 (ICMPv6)
	request   icmp.Type
	reply     icmp.Type
	id        int
	signature []byte // the payload, telling our replies from other pingers'
}

func (n *Node) openEcho(dst string) (*echoConn, error) {
	addr, err := netip.ParseAddr(dst)
	if err != nil {
		return nil, fmt.Errorf("node %s: ping %q: %w", n.spec.Name, dst, err)
	}
	c := &echoConn{
		dst:       &net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()},
		id:        1 + rand.N(0xffff),
		signature: make([]byte, 16),
	}
	_, _ = cryptorand.Read(c.signature)
	network, local := "ip4:icmp", "0.0.0.0"
	c.protocol, c.request, c.reply = 1, ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if addr.Is6() {
		network, local = "ip6:ipv6-icmp", "::"
		c.protocol, c.request, c.reply = 58, ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	err = n.Do(func() error {
		var err error
		c.conn, err = icmp.ListenPacket(network, local)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: open an ICMP socket: %w", n.spec.Name, err)
	}
	return c, nil
}

// send sends echo request seq. The kernel fills in the ICMPv6 checksum.
func (c *echoConn) send(seq int) error {
	msg := icmp.Message{Type: c.request, Body: &icmp.Echo{ID: c.id, Seq: seq & 0xffff, Data: c.signature}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return err
	}
	_, err = c.conn.WriteTo(b, c.dst)
	return err
}

// receive returns the sequence number of the next reply to one of our
// requests, skipping every other ICMP message the raw socket sees.
func (c *echoConn) receive() (int, error) {
	buf := make([]byte, 1500)
	for {
		n, _, err := c.conn.ReadFrom(buf)
		if err != nil {
			return 0, err
		}
		msg, err := icmp.ParseMessage(c.protocol, buf[:n])
		if err != nil || msg.Type != c.reply {
			continue
		}
		if echo, ok := msg.Body.(*icmp.Echo); ok && echo.ID == c.id && bytes.Equal(echo.Data, c.signature) {
			return echo.Seq, nil
		}
	}
}

// Ping sends one ICMP echo request from the node to dst (IPv4 or IPv6) and
// waits for the reply for a second, or less if ctx ends sooner.
func (n *Node) Ping(ctx context.Context, dst string) error {
	c, err := n.openEcho(dst)
	if err != nil {
		return err
	}
	defer c.conn.Close()
	deadline := time.Now().Add(pingTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetReadDeadline(time.Now()) })
	defer stop()
	if err := c.send(1); err != nil {
		return fmt.Errorf("node %s: ping %s: %w", n.spec.Name, dst, err)
	}
	if _, err := c.receive(); err != nil {
		return fmt.Errorf("node %s: ping %s: no reply: %w", n.spec.Name, dst, err)
	}
	return nil
}

// WaitPing waits until a ping from the node to dst is answered, failing the
// test after timeout with the last ping's error.
func (n *Node) WaitPing(tb testing.TB, dst string, timeout time.Duration) {
	tb.Helper()
	WaitFor(tb, timeout, func() (bool, string) {
		if err := n.Ping(tb.Context(), dst); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// Pinger pings one destination at a fixed interval and measures the
// outages: the longest time without a reply. Start one with
// Node.StartPinger before breaking something and read its statistics after.
type Pinger struct {
	conn     *echoConn
	interval time.Duration
	started  time.Time

	mu         sync.Mutex
	sent       int
	received   int
	duplicates int
	lastReply  time.Time // or the start, before the first reply
	longestGap time.Duration
	answered   map[int]bool // by 16-bit sequence number
	final      *PingStats   // set by Stop

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// PingStats are a Pinger's counts so far.
type PingStats struct {
	Sent     int
	Received int
	// Duplicates are extra replies to one request: two nodes answering
	// for one address.
	Duplicates int
	// LongestGap is the longest time without a reply: between two replies,
	// from the start to the first reply, or from the last reply to now (to
	// Stop, once stopped). The interval bounds its resolution.
	LongestGap time.Duration
	Elapsed    time.Duration
}

func (s PingStats) String() string {
	return fmt.Sprintf("%d sent, %d received, %d duplicates, longest gap %v over %v",
		s.Sent, s.Received, s.Duplicates, s.LongestGap, s.Elapsed)
}

// StartPinger starts pinging dst from the node every interval until Stop or
// the lab's teardown.
func (n *Node) StartPinger(dst string, interval time.Duration) (*Pinger, error) {
	c, err := n.openEcho(dst)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	p := &Pinger{
		conn:      c,
		interval:  interval,
		started:   now,
		lastReply: now,
		answered:  map[int]bool{},
		stop:      make(chan struct{}),
	}
	if err := n.lab.track(p); err != nil {
		c.conn.Close()
		return nil, err
	}
	p.wg.Add(2)
	go p.sendLoop()
	go p.receiveLoop()
	return p, nil
}

func (p *Pinger) sendLoop() {
	defer p.wg.Done()
	ticker := time.NewTicker(p.interval)
	defer ticker.Stop()
	for seq := 0; ; seq++ {
		p.mu.Lock()
		p.sent++
		delete(p.answered, seq&0xffff) // the number is reused after a wrap
		p.mu.Unlock()
		// A failed send (no route during an outage) is a lost request
		// like any other.
		_ = p.conn.send(seq)
		select {
		case <-p.stop:
			return
		case <-ticker.C:
		}
	}
}

func (p *Pinger) receiveLoop() {
	defer p.wg.Done()
	for {
		seq, err := p.conn.receive()
		if err != nil {
			return // closed by Stop
		}
		now := time.Now()
		p.mu.Lock()
		if p.answered[seq] {
			p.duplicates++
		} else {
			p.answered[seq] = true
			p.received++
			p.longestGap = max(p.longestGap, now.Sub(p.lastReply))
			p.lastReply = now
		}
		p.mu.Unlock()
	}
}

// Stats returns the counts so far.
func (p *Pinger) Stats() PingStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.final != nil {
		return *p.final
	}
	return p.statsAt(time.Now())
}

func (p *Pinger) statsAt(now time.Time) PingStats {
	return PingStats{
		Sent:       p.sent,
		Received:   p.received,
		Duplicates: p.duplicates,
		LongestGap: max(p.longestGap, now.Sub(p.lastReply)),
		Elapsed:    now.Sub(p.started),
	}
}

// Stop stops pinging and returns the final counts. Replies still in flight
// are not waited for.
func (p *Pinger) Stop() PingStats {
	p.stopOnce.Do(func() {
		now := time.Now()
		close(p.stop)
		p.conn.conn.Close()
		p.wg.Wait()
		p.mu.Lock()
		final := p.statsAt(now)
		p.final = &final
		p.mu.Unlock()
	})
	return p.Stats()
}

// Close stops the pinger; the lab calls it at teardown.
func (p *Pinger) Close() error {
	p.Stop()
	return nil
}
