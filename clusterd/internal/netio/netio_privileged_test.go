package netio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
)

// waitTimeout bounds every wait for traffic; generous, the machine may be
// busy.
const waitTimeout = 20 * time.Second

var (
	a1, a2 = netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.2.0.1")
	b1, b2 = netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("10.2.0.2")
	// clusterIP is an alias on a's eth0, as a cluster IP service adds
	// one: heartbeats must not come from it.
	clusterIP = netip.MustParseAddr("10.1.0.100")
)

// newTwoLinks builds the CL-B04 layout: nodes a and b, eth0 on bridge l1
// and eth1 on bridge l2, and a third bridge l3 that is no cluster link.
func newTwoLinks(t *testing.T) (a, b *netlab.Node) {
	netlab.RequirePrivileged(t)
	lab := netlab.New(t, netlab.Topology{
		Bridges: []string{"l1", "l2", "l3"},
		Nodes: []netlab.NodeSpec{
			{Name: "a", Interfaces: []netlab.Interface{
				{Name: "eth0", Bridge: "l1", Addrs: []string{a1.String() + "/24", clusterIP.String() + "/24"}},
				{Name: "eth1", Bridge: "l2", Addrs: []string{a2.String() + "/24"}},
				{Name: "eth2", Bridge: "l3", Addrs: []string{"10.3.0.1/24"}},
			}},
			{Name: "b", Interfaces: []netlab.Interface{
				{Name: "eth0", Bridge: "l1", Addrs: []string{b1.String() + "/24"}},
				{Name: "eth1", Bridge: "l2", Addrs: []string{b2.String() + "/24"}},
				{Name: "eth2", Bridge: "l3", Addrs: []string{"10.3.0.2/24"}},
			}},
		},
	})
	return lab.Node("a"), lab.Node("b")
}

// openIn opens a Conn in n's namespace, where its socket stays.
func openIn(t *testing.T, n *netlab.Node, cfg Config) *UDPConn {
	t.Helper()
	var c *UDPConn
	if err := n.Do(func() (err error) {
		c, err = Open(cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ifIndexIn(t *testing.T, n *netlab.Node, name string) int {
	t.Helper()
	l, err := n.Netlink().LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l.Attrs().Index
}

// receiveAll feeds what c receives into a channel until c closes.
func receiveAll(t *testing.T, c Conn) <-chan Received {
	ch := make(chan Received, 256)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(ch)
		for {
			r, err := c.Receive()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("Receive: %v", err)
				}
				return
			}
			select {
			case ch <- r:
			default: // a test that stopped reading does not block this
			}
		}
	})
	t.Cleanup(func() { c.Close(); wg.Wait() })
	return ch
}

// waitReceived returns the first datagram from ch that match accepts,
// passing each one it skips to skipped (if not nil).
func waitReceived(t *testing.T, ch <-chan Received, what string, match func(Received) bool, skipped func(Received)) Received {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		select {
		case r, ok := <-ch:
			if !ok {
				t.Fatalf("receiver closed while waiting for %s", what)
			}
			if match(r) {
				return r
			}
			if skipped != nil {
				skipped(r)
			}
		case <-deadline.C:
			t.Fatalf("no %s within %v", what, waitTimeout)
		}
	}
}

func payloadIs(s string) func(Received) bool {
	return func(r Received) bool { return string(r.Payload) == s }
}

func requireUsable(t *testing.T, st []LinkStatus, names ...string) {
	t.Helper()
	for _, s := range st {
		for _, name := range names {
			if s.Name == name && !s.Usable() {
				t.Fatalf("%s not usable: %+v", name, s)
			}
		}
	}
}

func statusOf(st []LinkStatus, name string) LinkStatus {
	for _, s := range st {
		if s.Name == name {
			return s
		}
	}
	return LinkStatus{}
}

// TestPrivilegedCL_B04MulticastOnEveryLink: heartbeats sent on each of two
// links arrive on the peer's interface of that link, from the sender's own
// address there (not the cluster IP alias), to the group, with TTL 1; the
// sender does not hear itself; an interface outside the configuration is
// not heard.
func TestPrivilegedCL_B04MulticastOnEveryLink(t *testing.T) {
	a, b := newTwoLinks(t)
	ca := openIn(t, a, Config{Interfaces: []string{"eth0", "eth1", "eth2"}})
	cb := openIn(t, b, Config{Interfaces: []string{"eth0", "eth1"}})
	stA := ca.Refresh()
	requireUsable(t, stA, "eth0", "eth1", "eth2")
	if s := statusOf(stA, "eth0"); s.Source != a1 || !s.Joined || s.Index != ifIndexIn(t, a, "eth0") {
		t.Errorf("a's eth0: %+v, want source %s (not the alias %s), joined", s, a1, clusterIP)
	}
	fromA, fromB := receiveAll(t, ca), receiveAll(t, cb)

	// eth2 first, to the group and to b's own address there: were it
	// heard, it would come before the others.
	if err := a.Do(func() error {
		conn, err := net.Dial("udp4", "10.3.0.2:694")
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = conn.Write([]byte("a-eth2-unicast"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, ifname := range []string{"eth2", "eth0", "eth1"} {
		if err := ca.Send(ifname, []byte("a-"+ifname)); err != nil {
			t.Fatal(err)
		}
	}
	var unexpected []Received
	note := func(r Received) { unexpected = append(unexpected, r) }
	for _, link := range []struct {
		ifname string
		src    netip.Addr
	}{{"eth0", a1}, {"eth1", a2}} {
		got := waitReceived(t, fromB, "a's heartbeat on "+link.ifname, payloadIs("a-"+link.ifname), note)
		want := Received{Src: netip.AddrPortFrom(link.src, DefaultPort), Dst: DefaultGroup, Interface: link.ifname,
			IfIndex: ifIndexIn(t, b, link.ifname), TTL: 1}
		if got.Src != want.Src || got.Dst != want.Dst || got.Interface != want.Interface || got.IfIndex != want.IfIndex || got.TTL != want.TTL {
			t.Errorf("received %+v, want %+v", got, want)
		}
	}
	if err := cb.Send("eth0", []byte("b-eth0")); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, fromA, "b's heartbeat", payloadIs("b-eth0"), note)
	for _, r := range unexpected {
		t.Errorf("received %q on %s: a's own, or from the unlisted eth2", r.Payload, r.Interface)
	}
	if err := ca.Send("eth7", nil); !errors.Is(err, ErrUnknownInterface) {
		t.Errorf("Send on a non-cluster interface: %v, want ErrUnknownInterface", err)
	}
}

// sendRounds sends "round-N" on every interface every 20 ms until the test
// ends, numbering rounds from 1; it returns the number of the last round
// sent.
func sendRounds(t *testing.T, c Conn, ifnames ...string) func() int64 {
	var round atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			n := round.Add(1)
			for _, ifname := range ifnames {
				// Errors are expected while a link is cut.
				_ = c.Send(ifname, fmt.Appendf(nil, "round-%d", n))
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return round.Load
}

func roundOf(r Received) int64 {
	var n int64
	fmt.Sscanf(strings.TrimPrefix(string(r.Payload), "round-"), "%d", &n)
	return n
}

// TestPrivilegedCL_B04CutOneLink: cutting one bridge port of the receiver
// stops the arrivals on that link only; plugging it back restores them.
func TestPrivilegedCL_B04CutOneLink(t *testing.T) {
	a, b := newTwoLinks(t)
	ca := openIn(t, a, Config{Interfaces: []string{"eth0", "eth1"}})
	cb := openIn(t, b, Config{Interfaces: []string{"eth0", "eth1"}})
	fromA := receiveAll(t, cb)
	lastRound := sendRounds(t, ca, "eth0", "eth1")
	for _, ifname := range []string{"eth0", "eth1"} {
		waitReceived(t, fromA, "a round on "+ifname, func(r Received) bool { return r.Interface == ifname }, nil)
	}

	if err := b.CutPort("eth0"); err != nil {
		t.Fatal(err)
	}
	cutAt := lastRound() + 1 // every round from here on is sent after the cut
	var lateOnCut []int64
	waitReceived(t, fromA, "later rounds on eth1", func(r Received) bool {
		return r.Interface == "eth1" && roundOf(r) >= cutAt+10
	}, func(r Received) {
		if r.Interface == "eth0" && roundOf(r) >= cutAt {
			lateOnCut = append(lateOnCut, roundOf(r))
		}
	})
	if len(lateOnCut) > 0 {
		t.Errorf("rounds %v sent after the cut arrived on the cut eth0", lateOnCut)
	}
	st := cb.Refresh()
	if s := statusOf(st, "eth0"); s.Usable() || s.Carrier || !s.Up {
		t.Errorf("b's eth0 after the cut: %+v, want up without carrier, unusable", s)
	}
	requireUsable(t, st, "eth1")

	if err := b.RestorePort("eth0"); err != nil {
		t.Fatal(err)
	}
	restoredAt := lastRound() + 1
	waitReceived(t, fromA, "rounds on eth0 again", func(r Received) bool {
		return r.Interface == "eth0" && roundOf(r) >= restoredAt
	}, nil)
	netlab.WaitFor(t, waitTimeout, func() (bool, string) {
		s := statusOf(cb.Refresh(), "eth0")
		return s.Usable(), fmt.Sprintf("%+v", s)
	})
}

// TestPrivilegedCL_Q12Unicast: with peer addresses, each interface sends to
// the peers in its subnets, joins no group, and the peer receives on the
// right interface.
func TestPrivilegedCL_Q12Unicast(t *testing.T) {
	a, b := newTwoLinks(t)
	ca := openIn(t, a, Config{Interfaces: []string{"eth0", "eth1"}, Peers: []netip.Addr{b1, b2}})
	cb := openIn(t, b, Config{Interfaces: []string{"eth0", "eth1"}, Peers: []netip.Addr{a1, a2}})
	stA := ca.Refresh()
	requireUsable(t, stA, "eth0", "eth1")
	for _, want := range []struct {
		ifname string
		peer   netip.Addr
	}{{"eth0", b1}, {"eth1", b2}} {
		s := statusOf(stA, want.ifname)
		if s.Joined || len(s.Peers) != 1 || s.Peers[0] != want.peer {
			t.Errorf("a's %s: %+v, want peer %s alone, no group joined", want.ifname, s, want.peer)
		}
	}
	fromA := receiveAll(t, cb)
	for _, want := range []struct {
		ifname   string
		src, dst netip.Addr
	}{{"eth0", a1, b1}, {"eth1", a2, b2}} {
		if err := ca.Send(want.ifname, []byte("u-"+want.ifname)); err != nil {
			t.Fatal(err)
		}
		got := waitReceived(t, fromA, "unicast on "+want.ifname, payloadIs("u-"+want.ifname), nil)
		if got.Src != netip.AddrPortFrom(want.src, DefaultPort) || got.Dst != want.dst || got.Interface != want.ifname || got.TTL != 1 {
			t.Errorf("received %+v, want from %s to %s on %s", got, want.src, want.dst, want.ifname)
		}
	}
	// A peer outside every subnet of an interface leaves it unusable.
	c := openIn(t, a, Config{Interfaces: []string{"eth0"}, Peers: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, Port: 6941})
	if s := c.Refresh()[0]; s.Usable() || !strings.Contains(s.Err.Error(), "no peer address") {
		t.Errorf("eth0 with no peer on its subnet: %+v", s)
	}
}

// TestPrivilegedCL_C09InterfaceComesLater: an interface missing when the
// conn opens does not fail it; it is reported, refused by Send, and joined
// once it exists; down, it is unusable; deleted and created again (a new
// index), it is joined again.
func TestPrivilegedCL_C09InterfaceComesLater(t *testing.T) {
	a, b := newTwoLinks(t)
	ca := openIn(t, a, Config{Interfaces: []string{"eth0", "eth9"}})
	cb := openIn(t, b, Config{Interfaces: []string{"eth0", "eth9"}})
	fromA := receiveAll(t, cb)
	st := ca.Refresh()
	requireUsable(t, st, "eth0")
	if s := statusOf(st, "eth9"); s.Exists || s.Usable() || !strings.Contains(s.Err.Error(), "does not exist") {
		t.Fatalf("missing eth9: %+v", s)
	}
	if err := ca.Send("eth9", []byte("x")); !errors.Is(err, ErrLinkUnusable) {
		t.Errorf("Send on the missing eth9: %v, want ErrLinkUnusable", err)
	}

	// makeEth9 joins a and b with a direct veth pair named eth9 on both
	// sides, addressed and up.
	makeEth9 := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		for _, cmd := range []struct {
			n    *netlab.Node
			args []string
		}{
			{a, []string{"link", "add", "eth9", "type", "veth", "peer", "name", "eth9", "netns", b.Namespace()}},
			{a, []string{"addr", "add", "10.9.0.1/24", "dev", "eth9"}},
			{b, []string{"addr", "add", "10.9.0.2/24", "dev", "eth9"}},
			{a, []string{"link", "set", "eth9", "up"}},
			{b, []string{"link", "set", "eth9", "up"}},
		} {
			if _, err := cmd.n.Run(ctx, "ip", cmd.args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	// sendUntilHeard repeats a heartbeat on eth9 until b hears it: the
	// veth needs a moment to get its carrier.
	sendUntilHeard := func(tag string) Received {
		t.Helper()
		var got Received
		netlab.WaitFor(t, waitTimeout, func() (bool, string) {
			for _, c := range []*UDPConn{ca, cb} {
				if s := statusOf(c.Refresh(), "eth9"); !s.Usable() {
					return false, fmt.Sprintf("%+v", s)
				}
			}
			if err := ca.Send("eth9", []byte(tag)); err != nil {
				return false, err.Error()
			}
			select {
			case r := <-fromA:
				got = r
				return string(r.Payload) == tag, fmt.Sprintf("received %q on %s", r.Payload, r.Interface)
			case <-time.After(100 * time.Millisecond):
				return false, "nothing received"
			}
		})
		return got
	}

	makeEth9()
	got := sendUntilHeard("first")
	if got.Interface != "eth9" || got.IfIndex != ifIndexIn(t, b, "eth9") || got.Src.Addr() != netip.MustParseAddr("10.9.0.1") {
		t.Errorf("received %+v, want from 10.9.0.1 on b's eth9", got)
	}
	if s := statusOf(ca.Refresh(), "eth9"); !s.Joined || s.Index != ifIndexIn(t, a, "eth9") {
		t.Errorf("a's eth9 after it appeared: %+v, want joined", s)
	}

	if err := a.SetLinkDown("eth9"); err != nil {
		t.Fatal(err)
	}
	if s := statusOf(ca.Refresh(), "eth9"); s.Usable() || s.Up || !strings.Contains(s.Err.Error(), "administratively down") {
		t.Errorf("a's eth9 down: %+v", s)
	}
	if err := ca.Send("eth9", []byte("x")); !errors.Is(err, ErrLinkUnusable) {
		t.Errorf("Send on the downed eth9: %v, want ErrLinkUnusable", err)
	}

	oldIndex := ifIndexIn(t, b, "eth9")
	if err := a.DeleteLink("eth9"); err != nil { // takes b's end with it
		t.Fatal(err)
	}
	netlab.WaitFor(t, waitTimeout, func() (bool, string) {
		s := statusOf(cb.Refresh(), "eth9")
		return !s.Exists && !s.Joined, fmt.Sprintf("%+v", s)
	})
	makeEth9()
	if newIndex := ifIndexIn(t, b, "eth9"); newIndex == oldIndex {
		t.Logf("eth9 came back with the same index %d; the re-join is still exercised by the deletion", newIndex)
	}
	got = sendUntilHeard("again")
	if got.IfIndex != ifIndexIn(t, b, "eth9") {
		t.Errorf("received on index %d, want b's new eth9 %d", got.IfIndex, ifIndexIn(t, b, "eth9"))
	}
}
