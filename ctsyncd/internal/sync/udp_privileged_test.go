package sync

import (
	"fmt"
	"net"
	"net/netip"
	gosync "sync"
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/wire"
	"github.com/hasuite/hasuite/pkg/netlab"
	"golang.org/x/net/ipv4"
)

// liveNode runs a session over a real socket the way the engine will: one
// goroutine owns the session and its caches, fed by the socket's read
// loop and a ticker.
type liveNode struct {
	mu    gosync.Mutex // guards n while the test looks
	n     *node
	codec *wire.Codec
	conn  *UDPConn
	in    chan []byte
	stop  chan struct{}
	done  chan struct{}
}

func startLive(t *testing.T, ln *netlab.Node, cfg Config, cc ConnConfig, secret string) *liveNode {
	t.Helper()
	codec := wire.NewCodec([]byte(secret))
	cfg.Overhead = codec.Overhead()
	l := &liveNode{n: newNode(cfg), codec: codec, in: make(chan []byte, 4096),
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := ln.Do(func() (err error) {
		l.conn, err = Listen(cc, func(b []byte, _ netip.AddrPort) {
			select {
			case l.in <- append([]byte(nil), b...):
			default: // the engine's loop is behind: a lost datagram, nacked later
			}
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	go l.loop()
	t.Cleanup(func() {
		close(l.stop)
		<-l.done
		l.conn.Close()
	})
	return l
}

func (l *liveNode) loop() {
	defer close(l.done)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case b := <-l.in:
			l.mu.Lock()
			_ = l.n.s.Deliver(time.Now(), l.codec, b)
			l.mu.Unlock()
		case <-tick.C:
			l.mu.Lock()
			l.n.s.Flush(time.Now())
			l.n.s.Tick(time.Now())
			l.mu.Unlock()
		}
		l.mu.Lock()
		_ = l.n.s.Transmit(l.codec, l.conn)
		l.mu.Unlock()
	}
}

func (l *liveNode) do(f func(n *node)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l.n)
}

// newSyncPair builds two nodes joined by a direct veth link, the
// dedicated sync link of the guide.
func newSyncPair(t *testing.T) (a, b *netlab.Node) {
	netlab.RequirePrivileged(t)
	lab := netlab.New(t, netlab.Topology{
		Nodes: []netlab.NodeSpec{
			{Name: "a", Interfaces: []netlab.Interface{{Name: "eth1", Peer: netlab.Endpoint{Node: "b", Interface: "eth1"},
				Addrs: []string{"10.9.0.1/24"}}}},
			{Name: "b", Interfaces: []netlab.Interface{{Name: "eth1", Peer: netlab.Endpoint{Node: "a", Interface: "eth1"},
				Addrs: []string{"10.9.0.2/24"}}}},
		},
	})
	return lab.Node("a"), lab.Node("b")
}

// TestUDPReplicates (CS-B06, CS-B07, CS-B21, CS-C10): two sessions over
// real sockets on the sync link, multicast and unicast, authenticated:
// the peer's external cache ends equal to the internal one, garbage is
// counted as malformed and never applied, buffers are sync-queue-size.
func TestUDPReplicates(t *testing.T) {
	for _, mode := range []string{"multicast", "unicast"} {
		t.Run(mode, func(t *testing.T) {
			na, nb := newSyncPair(t)
			ca := ConnConfig{Interface: "eth1", BufferBytes: 2 << 20}
			cb := ca
			if mode == "unicast" {
				ca.Peer, cb.Peer = netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("10.9.0.1")
			}
			now := time.Now()
			a := startLive(t, na, Config{Boot: NewBoot(now), Expect: true}, ca, "secret of the sync link")
			b := startLive(t, nb, Config{Boot: NewBoot(now) + 1, Expect: true}, cb, "secret of the sync link")
			if snd, rcv, err := a.conn.Buffers(); err != nil || snd < 2<<20 || rcv < 2<<20 {
				t.Errorf("buffers %d/%d (%v), want at least sync-queue-size %d", snd, rcv, err, 2<<20)
			}
			const entries = 5000
			start := time.Now()
			for i := range entries {
				a.do(func(n *node) {
					n.upsert(time.Now(), entry(i, 3))
					if i%5 == 0 {
						n.del(time.Now(), entry(i, 3))
					}
				})
			}
			a.do(func(n *node) { n.s.Flush(time.Now()) })
			netlab.WaitFor(t, 30*time.Second, func() (bool, string) {
				var d string
				a.do(func(na *node) {
					b.do(func(nb *node) {
						d = na.local.diff(nb.remote)
						if d == "" && !na.s.Idle() {
							d = "a not idle"
						}
					})
				})
				return d == "", "b's external cache: " + d
			})
			took := time.Since(start)
			// Garbage and a wrong secret on the port: counted, never applied.
			var dst string
			if mode == "unicast" {
				dst = "10.9.0.2"
			} else {
				dst = DefaultGroup.String()
			}
			if err := na.Do(func() error { return sendRaw(dst, []byte("garbage, not a sync message")) }); err != nil {
				t.Fatal(err)
			}
			forged, _ := wire.NewCodec([]byte("another secret")).Marshal(&wire.Message{Type: wire.TypeResyncRequest,
				Boot: 1, Counter: 1})
			if err := na.Do(func() error { return sendRaw(dst, forged) }); err != nil {
				t.Fatal(err)
			}
			netlab.WaitFor(t, 10*time.Second, func() (bool, string) {
				var st Status
				b.do(func(n *node) { st = n.s.Status(time.Now()) })
				return st.Malformed[wire.DropBadMagic] >= 1 && st.Malformed[wire.DropBadMAC] >= 1,
					fmt.Sprintf("malformed %v", st.Malformed)
			})
			var st Status
			b.do(func(n *node) { st = n.s.Status(time.Now()) })
			if st.ResyncAnswered != 1 || st.StaleBoot != 0 { // a's first contact only
				t.Errorf("the forged resync request was applied: answered %d", st.ResyncAnswered)
			}
			t.Logf("%s: %d entries replicated in %v; b received %d datagrams (%d bytes), sent %d (%d bytes)", mode,
				entries-entries/5, took, st.PacketsRecv, st.BytesRecv, st.PacketsSent, st.BytesSent)
		})
	}
}

// sendRaw sends one UDP datagram to dst:wire.Port out of eth1, as a
// foreign sender would.
func sendRaw(dst string, b []byte) error {
	pc, err := net.ListenPacket("udp4", "10.9.0.1:0")
	if err != nil {
		return err
	}
	defer pc.Close()
	ifi, err := net.InterfaceByName("eth1")
	if err != nil {
		return err
	}
	if err := ipv4.NewPacketConn(pc).SetMulticastInterface(ifi); err != nil {
		return err
	}
	_, err = pc.WriteTo(b, &net.UDPAddr{IP: net.ParseIP(dst), Port: wire.Port})
	return err
}
