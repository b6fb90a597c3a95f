package kernel

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
	"github.com/vishvananda/netlink"
)

// The ingress copy script (VR-C20, VR-C21, VR-Q06) runs, like script(),
// against the Fake and Netlink alike. Both hold eth0 (the parent), mon0 (a
// plain interface to mirror to) and ifb0.

func setCopy(ifname string, c IngressCopy) func(context.Context, Kernel) error {
	return func(ctx context.Context, k Kernel) error { return k.SetIngressCopy(ctx, ifname, c) }
}

// failing runs op, which must fail with an error containing want; what it
// could apply stays applied.
func failing(op func(context.Context, Kernel) error, want string) func(context.Context, Kernel) error {
	return func(ctx context.Context, k Kernel) error {
		err := op(ctx, k)
		if err == nil || !strings.Contains(err.Error(), want) {
			return fmt.Errorf("err = %v, want one containing %q", err, want)
		}
		return nil
	}
}

const (
	aliasLine  = `ip link set eth0v99 alias "vrrpd:uplink" up`
	qdiscLine  = "tc qdisc add dev eth0v99 ingress"
	filterLine = "tc filter add dev eth0v99 ingress prio 30322 protocol all u32 match u32 0 0"
)

func copyScript() []scriptStep {
	return []scriptStep{
		{"VR-C20 mirror", func(ctx context.Context, k Kernel) error {
			if err := k.EnsureVMAC(ctx, vmac99); err != nil {
				return err
			}
			return twice(setCopy("eth0v99", IngressCopy{Mirror: "mon0"}))(ctx, k)
		}, lines(linkLine, aliasLine, qdiscLine, filterLine+" action mirred egress mirror dev mon0", parentLine)},
		{"VR-C21 mirror and redirect", twice(setCopy("eth0v99", IngressCopy{Mirror: "mon0", Redirect: "ifb0"})), lines(
			linkLine, aliasLine, qdiscLine,
			filterLine+" action mirred egress mirror dev mon0 action mirred egress redirect dev ifb0", parentLine)},
		{"VR-Q06 redirect alone", twice(setCopy("eth0v99", IngressCopy{Redirect: "ifb0"})), lines(
			linkLine, aliasLine, qdiscLine, filterLine+" action mirred egress redirect dev ifb0", parentLine)},
		{"a missing mirror target is an error, the redirect still applies",
			failing(setCopy("eth0v99", IngressCopy{Mirror: "nope0", Redirect: "ifb0"}), "nope0"), lines(
				linkLine, aliasLine, qdiscLine, filterLine+" action mirred egress redirect dev ifb0", parentLine)},
		{"a missing ifb says how to create it, and the stale copy goes",
			failing(setCopy("eth0v99", IngressCopy{Redirect: "ifb9"}), "ip link add ifb9 type ifb"), lines(
				linkLine, aliasLine, parentLine)},
		{"redirect only to an ifb", failing(setCopy("eth0v99", IngressCopy{Redirect: "mon0"}), "not an ifb"), lines(
			linkLine, aliasLine, parentLine)},
		{"copy off", func(ctx context.Context, k Kernel) error {
			if err := setCopy("eth0v99", IngressCopy{Mirror: "mon0"})(ctx, k); err != nil {
				return err
			}
			return twice(setCopy("eth0v99", IngressCopy{}))(ctx, k)
		}, lines(linkLine, aliasLine, parentLine)},
		{"the copy goes with its VRRP interface", func(ctx context.Context, k Kernel) error {
			if err := setCopy("eth0v99", IngressCopy{Mirror: "mon0"})(ctx, k); err != nil {
				return err
			}
			if err := k.DeleteVMAC(ctx, "eth0v99"); err != nil {
				return err
			}
			if err := k.EnsureVMAC(ctx, vmac99); err != nil {
				return err
			}
			return failing(setCopy("eth0v7", IngressCopy{Mirror: "mon0"}), "eth0v7")(ctx, k)
		}, lines(linkLine, aliasLine, parentLine)},
	}
}

func runCopyScript(t *testing.T, k Kernel) {
	t.Helper()
	for _, step := range copyScript() {
		if err := step.do(t.Context(), k); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		got, err := Render(t.Context(), k, "eth0")
		if err != nil {
			t.Fatalf("%s: render: %v", step.name, err)
		}
		if got != step.want {
			t.Fatalf("%s: state\n%s\nwant\n%s", step.name, got, step.want)
		}
	}
}

func TestFakeIngressCopyScript(t *testing.T) {
	f := newFakeWithParent()
	f.AddInterface("mon0", nil)
	f.AddIFB("ifb0")
	runCopyScript(t, f)
}

// newCopyLab is newLab plus what the copy goes to: r1's mon0, a veth to
// the node ids, and ifb0; and a host on the LAN to send traffic.
func newCopyLab(t *testing.T) (r1, ids, host *netlab.Node, k *Netlink) {
	t.Helper()
	lab := netlab.New(t, netlab.Topology{
		Bridges: []string{"lan"},
		Nodes: []netlab.NodeSpec{
			{Name: "r1", Interfaces: []netlab.Interface{
				{Name: "eth0", Bridge: "lan", MAC: parentMAC.String(), Addrs: []string{parentAddr.String()}},
				{Name: "mon0", Peer: netlab.Endpoint{Node: "ids", Interface: "eth0"}},
			}},
			{Name: "ids", Interfaces: []netlab.Interface{{Name: "eth0", Peer: netlab.Endpoint{Node: "r1", Interface: "mon0"}}}},
			{Name: "host", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.100/24"}}}},
		},
	})
	r1 = lab.Node("r1")
	ifb := &netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: "ifb0"}}
	if err := r1.Netlink().LinkAdd(ifb); err != nil {
		t.Fatalf("create ifb0 (is the ifb module available?): %v", err)
	}
	if err := r1.SetLinkUp("ifb0"); err != nil {
		t.Fatal(err)
	}
	return r1, lab.Node("ids"), lab.Node("host"), openAt(t, r1)
}

func TestNetlinkIngressCopyScript(t *testing.T) {
	_, _, _, k := newCopyLab(t)
	runCopyScript(t, k)
}

// echoRequestTo matches an IPv4 ICMP echo request to dst.
func echoRequestTo(dst netip.Addr) func([]byte) bool {
	return func(frame []byte) bool {
		if len(frame) < 35 || binary.BigEndian.Uint16(frame[12:14]) != 0x0800 {
			return false
		}
		ip := frame[14:]
		ihl := int(ip[0]&0x0f) * 4
		return ip[9] == 1 && netip.AddrFrom4([4]byte(ip[16:20])) == dst && len(ip) > ihl && ip[ihl] == 8
	}
}

// TestNetlinkIngressCopyTraffic_VRC20_VRC21: frames a host sends to a VIP
// on the VRRP interface show up on the mirror port (at the far end, in
// ids) and on the ifb, and the VIP still answers: the ifb hands redirected
// frames back to the stack.
func TestNetlinkIngressCopyTraffic_VRC20_VRC21(t *testing.T) {
	r1, ids, host, k := newCopyLab(t)
	vip := netip.MustParsePrefix("172.16.0.24/24")
	if err := k.EnsureVMAC(t.Context(), vmac99); err != nil {
		t.Fatal(err)
	}
	if err := k.AddVIP(t.Context(), "eth0v99", vip); err != nil {
		t.Fatal(err)
	}
	if err := k.SetIngressCopy(t.Context(), "eth0v99", IngressCopy{Mirror: "mon0", Redirect: "ifb0"}); err != nil {
		t.Fatal(err)
	}
	// Asking again for what holds touches nothing: the actions keep their
	// kernel indexes (a re-created filter gets new ones).
	before := copyActionIndexes(t, r1)
	if err := k.SetIngressCopy(t.Context(), "eth0v99", IngressCopy{Mirror: "mon0", Redirect: "ifb0"}); err != nil {
		t.Fatal(err)
	}
	if after := copyActionIndexes(t, r1); after != before {
		t.Errorf("a repeated SetIngressCopy re-created the filter: action indexes %s, were %s", after, before)
	}
	mirrored, err := ids.Capture("eth0", echoRequestTo(vip.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	redirected, err := r1.Capture("ifb0", echoRequestTo(vip.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	host.WaitPing(t, vip.Addr().String(), 10*time.Second)
	mirrored.WaitPacket(t, 10*time.Second, echoRequestTo(vip.Addr()))
	redirected.WaitPacket(t, 10*time.Second, echoRequestTo(vip.Addr()))

	// Off again: nothing more reaches the mirror port.
	if err := k.SetIngressCopy(t.Context(), "eth0v99", IngressCopy{}); err != nil {
		t.Fatal(err)
	}
	// By kernel timestamp, so a frame of the first pings read late does
	// not count.
	removed := time.Now()
	host.WaitPing(t, vip.Addr().String(), 10*time.Second)
	for _, f := range mirrored.Frames() {
		if f.Time.After(removed) {
			t.Errorf("echo request mirrored at %s, after the copy was removed at %s", f.Time.Format(time.StampMicro), removed.Format(time.StampMicro))
		}
	}
}

// copyActionIndexes lists the kernel indexes of the actions on eth0v99's
// ingress filters.
func copyActionIndexes(t *testing.T, node *netlab.Node) string {
	t.Helper()
	l, err := node.Netlink().LinkByName("eth0v99")
	if err != nil {
		t.Fatal(err)
	}
	filters, err := node.Netlink().FilterList(l, netlink.MakeHandle(0xffff, 0))
	if err != nil {
		t.Fatal(err)
	}
	var indexes []string
	for _, f := range filters {
		if u, ok := f.(*netlink.U32); ok {
			for _, a := range u.Actions {
				indexes = append(indexes, fmt.Sprint(a.Attrs().Index))
			}
		}
	}
	if len(indexes) == 0 {
		t.Fatal("no filter actions on eth0v99")
	}
	return strings.Join(indexes, ",")
}
