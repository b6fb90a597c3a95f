package netio

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
)

// marker is injected after an action; receiving it first proves nothing
// else arrived.
var marker = Received{Interface: "marker"}

// next returns what c receives next, after injecting a marker.
func next(t *testing.T, c *FakeConn) Received {
	t.Helper()
	c.Inject(marker)
	r, err := c.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if r.Interface != "marker" {
		// Drain the marker so the next call starts clean.
		if m, _ := c.Receive(); m.Interface != "marker" {
			t.Fatalf("after %+v received %+v, want the marker", r, m)
		}
	}
	return r
}

// twoNodes builds a and b with eth0 on link1 and eth1 on link2, the
// CL-B04 layout with two cluster interfaces.
func twoNodes() (a, b *FakeConn, link1, link2 *FakeLink) {
	link1, link2 = NewFakeLink(), NewFakeLink()
	a, b = NewFakeConn("eth0", "eth1"), NewFakeConn("eth0", "eth1")
	a.Plug("eth0", 2, netip.MustParseAddr("10.1.0.1"), link1)
	a.Plug("eth1", 3, netip.MustParseAddr("10.2.0.1"), link2)
	b.Plug("eth0", 12, netip.MustParseAddr("10.1.0.2"), link1)
	b.Plug("eth1", 13, netip.MustParseAddr("10.2.0.2"), link2)
	return a, b, link1, link2
}

// TestCL_B04FakeDelivery: what a sends on each interface arrives on b's
// interface of the same segment, and nowhere once the way is broken.
func TestCL_B04FakeDelivery(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(a, b *FakeConn, link1, link2 *FakeLink)
		// want is the interface of b the heartbeat sent on a's eth0
		// arrives on, "marker" for none.
		want    string
		sendErr bool
	}{
		{name: "intact", breakIt: func(*FakeConn, *FakeConn, *FakeLink, *FakeLink) {}, want: "eth0"},
		{name: "segment cut", breakIt: func(_, _ *FakeConn, l1, _ *FakeLink) { l1.SetCut(true) }, want: "marker"},
		{name: "receiver's interface down", breakIt: func(_, b *FakeConn, _, _ *FakeLink) { b.SetUp("eth0", false) }, want: "marker"},
		{name: "receiver's interface gone", breakIt: func(_, b *FakeConn, _, _ *FakeLink) { b.Unplug("eth0") }, want: "marker"},
		{name: "sender's interface down", breakIt: func(a, _ *FakeConn, _, _ *FakeLink) { a.SetUp("eth0", false) }, want: "marker", sendErr: true},
		{name: "segment mended", breakIt: func(_, _ *FakeConn, l1, _ *FakeLink) { l1.SetCut(true); l1.SetCut(false) }, want: "eth0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b, link1, link2 := twoNodes()
			tc.breakIt(a, b, link1, link2)
			err := a.Send("eth0", []byte("hb0"))
			if (err != nil) != tc.sendErr || (err != nil && !errors.Is(err, ErrLinkUnusable)) {
				t.Fatalf("Send: %v, want error %v wrapping ErrLinkUnusable", err, tc.sendErr)
			}
			got := next(t, b)
			if got.Interface != tc.want {
				t.Fatalf("b received %+v, want arrival on %s", got, tc.want)
			}
			if tc.want == "eth0" {
				want := Received{Payload: []byte("hb0"), Src: netip.MustParseAddrPort("10.1.0.1:694"), Dst: DefaultGroup,
					Interface: "eth0", IfIndex: 12, TTL: 1}
				if !slices.Equal(got.Payload, want.Payload) || got.Src != want.Src || got.Dst != want.Dst ||
					got.IfIndex != want.IfIndex || got.TTL != want.TTL {
					t.Errorf("received %+v, want %+v", got, want)
				}
			}
			// The other link is untouched by what happened to the first.
			if err := a.Send("eth1", []byte("hb1")); err != nil {
				t.Fatal(err)
			}
			if got := next(t, b); got.Interface != "eth1" || got.IfIndex != 13 || string(got.Payload) != "hb1" {
				t.Errorf("on the second link b received %+v, want hb1 on eth1", got)
			}
			if got := next(t, a); got.Interface != "marker" {
				t.Errorf("a received its own heartbeat %+v", got)
			}
		})
	}
}

func TestFakeConnStatusAndErrors(t *testing.T) {
	link := NewFakeLink()
	c := NewFakeConn("eth0", "eth1")
	c.Plug("eth0", 2, netip.MustParseAddr("10.1.0.1"), link)
	st := c.Refresh()
	if len(st) != 2 || !st[0].Usable() || st[0].Index != 2 || st[0].Source != netip.MustParseAddr("10.1.0.1") ||
		st[1].Usable() || st[1].Exists || !errors.Is(st[1].Err, ErrLinkUnusable) {
		t.Fatalf("Refresh() = %+v: want eth0 usable, eth1 missing", st)
	}
	if err := c.Send("eth1", nil); !errors.Is(err, ErrLinkUnusable) {
		t.Errorf("Send on a missing interface: %v, want ErrLinkUnusable", err)
	}
	if err := c.Send("eth7", nil); !errors.Is(err, ErrUnknownInterface) {
		t.Errorf("Send on a non-cluster interface: %v, want ErrUnknownInterface", err)
	}
	if err := c.Send("eth0", []byte{1}); err != nil {
		t.Fatal(err)
	}
	if got := c.Sent(); len(got) != 1 || got[0].Interface != "eth0" {
		t.Errorf("Sent() = %+v", got)
	}
	c.Close()
	if _, err := c.Receive(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Receive after Close: %v, want net.ErrClosed", err)
	}
	if err := c.Send("eth0", nil); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send after Close: %v, want net.ErrClosed", err)
	}
}

// TestFakeInboxOverflowDrops: a conn nobody reads drops, never blocks the
// sender.
func TestFakeInboxOverflowDrops(t *testing.T) {
	a, _, _, _ := twoNodes()
	for range 2 * fakeInboxLen {
		if err := a.Send("eth0", []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{Interfaces: []string{"eth0"}}.withDefaults()
	if err != nil || cfg.Group != DefaultGroup || cfg.Port != DefaultPort || cfg.Unicast() {
		t.Fatalf("withDefaults() = %+v, %v", cfg, err)
	}
	for _, bad := range []Config{
		{},
		{Interfaces: []string{"eth0", "eth0"}},
		{Interfaces: []string{""}},
		{Interfaces: []string{"eth0"}, Group: netip.MustParseAddr("10.0.0.1")},
		{Interfaces: []string{"eth0"}, Group: netip.MustParseAddr("ff02::1")},
		{Interfaces: []string{"eth0"}, Peers: []netip.Addr{netip.MustParseAddr("239.1.1.1")}},
		{Interfaces: []string{"eth0"}, Peers: []netip.Addr{netip.MustParseAddr("2001:db8::1")}},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("withDefaults(%+v) accepted", bad)
		}
	}
}
