package netio

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
)

func TestFakeLink(t *testing.T) {
	addrA, addrB, addrC := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")
	tests := []struct {
		name string
		dst  netip.Addr
		// reach says which of b and c receive the advert a sends.
		reachB, reachC bool
	}{
		{name: "multicast reaches every other conn", dst: GroupIPv4, reachB: true, reachC: true},
		{name: "unicast reaches its peer alone", dst: addrC, reachC: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			link := NewFakeLink()
			a, b, c := link.Attach(addrA, 1), link.Attach(addrB, 2), link.Attach(addrC, 3)
			payload := []byte{0x31, 0x33}
			if err := a.Send(payload, tc.dst); err != nil {
				t.Fatal(err)
			}
			if got := a.Sent(); len(got) != 1 || got[0].Dst != tc.dst || !slices.Equal(got[0].Payload, payload) {
				t.Errorf("Sent() = %+v, want the one advert to %s", got, tc.dst)
			}
			for _, peer := range []struct {
				conn    *FakeConn
				reached bool
				ifIndex int
			}{{b, tc.reachB, 2}, {c, tc.reachC, 3}} {
				// A marker injected after the send comes first if the
				// advert did not arrive.
				peer.conn.Inject(Received{HopLimit: -1})
				got, err := peer.conn.Receive()
				if err != nil {
					t.Fatal(err)
				}
				arrived := got.HopLimit != -1
				if arrived != peer.reached {
					t.Fatalf("conn %d received %+v, want reached=%v", peer.ifIndex, got, peer.reached)
				}
				want := Received{Payload: payload, Src: addrA, Dst: tc.dst, HopLimit: 255, IfIndex: peer.ifIndex}
				if arrived && (!slices.Equal(got.Payload, want.Payload) || got.Src != want.Src || got.Dst != want.Dst ||
					got.HopLimit != want.HopLimit || got.IfIndex != want.IfIndex) {
					t.Errorf("received %+v, want %+v", got, want)
				}
			}
		})
	}
}

func TestFakeConnClose(t *testing.T) {
	link := NewFakeLink()
	a, b := link.Attach(netip.MustParseAddr("10.0.0.1"), 1), link.Attach(netip.MustParseAddr("10.0.0.2"), 2)
	done := make(chan error)
	go func() {
		_, err := b.Receive()
		done <- err
	}()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Receive after Close: %v, want net.ErrClosed", err)
	}
	if err := a.Send([]byte{1}, GroupIPv4); err != nil {
		t.Errorf("sending to a link with a closed conn: %v", err)
	}
	if err := b.Send([]byte{1}, GroupIPv4); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Send on a closed conn: %v, want net.ErrClosed", err)
	}
}
