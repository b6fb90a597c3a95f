package kernel

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/netlab"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// The backup drop script (VR-B15) runs, like script() and copyScript(),
// against the Fake and Netlink alike, over the lab of the copy script.

func setDrop(ifname string, drop bool) func(context.Context, Kernel) error {
	return func(ctx context.Context, k Kernel) error { return k.SetBackupDrop(ctx, ifname, drop) }
}

var dropLines = []string{
	"nft add table netdev vrrpd-eth0v99",
	"nft add chain netdev vrrpd-eth0v99 backup { type filter hook ingress device eth0v99 priority 0 ; policy drop ; }",
	"nft add rule netdev vrrpd-eth0v99 backup meta protocol ip ip protocol 112 accept",
	"nft add rule netdev vrrpd-eth0v99 backup meta protocol ip6 ip6 nexthdr 112 accept",
}

func withDrop(tail ...string) string {
	return lines(slices.Concat([]string{linkLine, aliasLine}, dropLines, tail)...)
}

func dropScript() []scriptStep {
	mirror := filterLine + " action mirred egress mirror dev mon0"
	return []scriptStep{
		{"VR-B15 a backup drops all but adverts", func(ctx context.Context, k Kernel) error {
			if err := k.EnsureVMAC(ctx, vmac99); err != nil {
				return err
			}
			return twice(setDrop("eth0v99", true))(ctx, k)
		}, withDrop(parentLine)},
		{"VR-C20 the copy works beside the drop", twice(setCopy("eth0v99", IngressCopy{Mirror: "mon0"})),
			withDrop(qdiscLine, mirror, parentLine)},
		{"a master's drop goes, the copy stays", twice(setDrop("eth0v99", false)),
			lines(linkLine, aliasLine, qdiscLine, mirror, parentLine)},
		{"the copy goes, the backup's drop stays", func(ctx context.Context, k Kernel) error {
			if err := setDrop("eth0v99", true)(ctx, k); err != nil {
				return err
			}
			return setCopy("eth0v99", IngressCopy{})(ctx, k)
		}, withDrop(parentLine)},
		{"drop off again", twice(setDrop("eth0v99", false)), lines(linkLine, aliasLine, parentLine)},
		{"a missing interface: no drop, nothing to stop", func(ctx context.Context, k Kernel) error {
			if err := failing(setDrop("eth0v7", true), "eth0v7")(ctx, k); err != nil {
				return err
			}
			return setDrop("eth0v7", false)(ctx, k)
		}, lines(linkLine, aliasLine, parentLine)},
		{"the drop goes with its VRRP interface", func(ctx context.Context, k Kernel) error {
			if err := setDrop("eth0v99", true)(ctx, k); err != nil {
				return err
			}
			if err := k.DeleteVMAC(ctx, "eth0v99"); err != nil {
				return err
			}
			return k.EnsureVMAC(ctx, vmac99)
		}, lines(linkLine, aliasLine, parentLine)},
	}
}

func runDropScript(t *testing.T, k Kernel) {
	t.Helper()
	for _, step := range dropScript() {
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

func TestFakeBackupDropScript_VRB15(t *testing.T) {
	f := newFakeWithParent()
	f.AddInterface("mon0", nil)
	f.AddIFB("ifb0")
	runDropScript(t, f)
}

func TestNetlinkBackupDropScript_VRB15(t *testing.T) {
	_, _, _, k := newCopyLab(t)
	runDropScript(t, k)
}

// TestNetlinkBackupDropLeftover: a drop a killed vrrpd left is reported,
// and a table of ours that does not drop is made again.
func TestNetlinkBackupDropLeftover(t *testing.T) {
	r1, _, _, k := newCopyLab(t)
	if err := k.EnsureVMAC(t.Context(), vmac99); err != nil {
		t.Fatal(err)
	}
	table := BackupDropTable("eth0v99")
	stale := [][]byte{
		nftMsg(nftMsgNewTable, unix.NLM_F_CREATE, nlattr(nftaTableName, cstr(table))),
		nftMsg(nftMsgNewChain, unix.NLM_F_CREATE, nlattr(nftaChainTable, cstr(table)), nlattr(nftaChainName, cstr(backupDropChain)),
			nested(nftaChainHook, nlattr(nftaHookHooknum, be32(nfNetdevIngress)), nlattr(nftaHookPrio, be32(0)), nlattr(nftaHookDev, cstr("eth0v99"))),
			nlattr(nftaChainPolicy, be32(nfAccept)), nlattr(nftaChainType, cstr("filter"))),
	}
	if err := k.nft.batch(stale); err != nil {
		t.Fatal(err)
	}
	if left, err := k.Leftovers(t.Context()); err != nil || len(left) != 1 || left[0].BackupDrop {
		t.Fatalf("leftovers %+v (err %v), want eth0v99 not dropping", left, err)
	}
	if err := k.SetBackupDrop(t.Context(), "eth0v99", true); err != nil {
		t.Fatal(err)
	}
	left, err := openAt(t, r1).Leftovers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || !left[0].BackupDrop {
		t.Errorf("leftovers %+v, want eth0v99 dropping", left)
	}
	if got, err := Render(t.Context(), k, "eth0"); err != nil || got != withDrop(parentLine) {
		t.Errorf("state (err %v)\n%s\nwant\n%s", err, got, withDrop(parentLine))
	}
}

// advertPath is a VRRP raw socket on r1's eth0v99 (bound to it, joined to
// 224.0.0.18 there) and one on the host's eth0 sending to 224.0.0.18.
type advertPath struct {
	recv, send *ipv4.PacketConn
	seq        int
}

func openAdvertPath(t *testing.T, r1, host *netlab.Node) *advertPath {
	t.Helper()
	group := &net.IPAddr{IP: net.IPv4(224, 0, 0, 18)}
	index := func(node *netlab.Node, ifname string) *net.Interface {
		l, err := node.Netlink().LinkByName(ifname)
		if err != nil {
			t.Fatal(err)
		}
		return &net.Interface{Index: l.Attrs().Index, Name: ifname}
	}
	listen := func(node *netlab.Node, bind string) *ipv4.PacketConn {
		var c net.PacketConn
		err := node.Do(func() error {
			var err error
			if c, err = net.ListenPacket("ip4:112", "0.0.0.0"); err != nil {
				return err
			}
			raw, err := c.(*net.IPConn).SyscallConn()
			if err != nil {
				return err
			}
			var serr error
			if err := raw.Control(func(fd uintptr) { serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, bind) }); err != nil {
				return err
			}
			return serr
		})
		if err != nil {
			t.Fatalf("open a VRRP socket on %s %s: %v", node.Name(), bind, err)
		}
		t.Cleanup(func() { c.Close() })
		return ipv4.NewPacketConn(c)
	}
	p := &advertPath{recv: listen(r1, "eth0v99"), send: listen(host, "eth0")}
	if err := p.recv.JoinGroup(index(r1, "eth0v99"), group); err != nil {
		t.Fatal(err)
	}
	if err := p.send.SetMulticastInterface(index(host, "eth0")); err != nil {
		t.Fatal(err)
	}
	return p
}

// arrives sends adverts from the host until one reaches eth0v99 or wait
// passes, and reports whether one did.
func (p *advertPath) arrives(t *testing.T, wait time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(wait)
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		p.seq++
		marker := fmt.Appendf(nil, "advert %d", p.seq)
		if _, err := p.send.WriteTo(marker, nil, &net.IPAddr{IP: net.IPv4(224, 0, 0, 18)}); err != nil {
			t.Fatalf("send an advert: %v", err)
		}
		if err := p.recv.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		for {
			n, _, _, err := p.recv.ReadFrom(buf)
			if err != nil {
				break // deadline: send another
			}
			if bytes.Contains(buf[:n], marker) {
				return true
			}
		}
	}
	return false
}

// TestNetlinkBackupDropTraffic_VRB15: while the drop is on, a host that
// sends to the vMAC (its ARP entry for the VIP names it) gets no answer,
// and adverts still arrive on the VRRP interface; with the drop off both
// get through. It also times the toggle, the cost on the takeover path.
func TestNetlinkBackupDropTraffic_VRB15(t *testing.T) {
	r1, _, host, k := newCopyLab(t)
	vip := netip.MustParsePrefix("172.16.0.24/24")
	if err := k.EnsureVMAC(t.Context(), vmac99); err != nil {
		t.Fatal(err)
	}
	if err := k.AddVIP(t.Context(), "eth0v99", vip); err != nil {
		t.Fatal(err)
	}
	hostEth0, err := host.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	toVMAC := &netlink.Neigh{LinkIndex: hostEth0.Attrs().Index, IP: vip.Addr().AsSlice(), HardwareAddr: vmac99.MAC, State: netlink.NUD_PERMANENT}
	if err := host.Netlink().NeighSet(toVMAC); err != nil {
		t.Fatal(err)
	}
	adverts := openAdvertPath(t, r1, host)
	host.WaitPing(t, vip.Addr().String(), 10*time.Second)

	if err := k.SetBackupDrop(t.Context(), "eth0v99", true); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		err := host.Ping(ctx, vip.Addr().String())
		cancel()
		if err == nil {
			t.Fatalf("ping %d to the vMAC answered while the backup drop is on", i)
		}
	}
	if !adverts.arrives(t, 10*time.Second) {
		t.Error("no advert reached eth0v99 while the backup drop is on")
	}

	if err := k.SetBackupDrop(t.Context(), "eth0v99", false); err != nil {
		t.Fatal(err)
	}
	host.WaitPing(t, vip.Addr().String(), 10*time.Second)
	if !adverts.arrives(t, 10*time.Second) {
		t.Error("no advert reached eth0v99 with the backup drop off")
	}

	// The toggle's cost, logged, not asserted.
	var on, off []time.Duration
	for range 50 {
		start := time.Now()
		if err := k.SetBackupDrop(t.Context(), "eth0v99", true); err != nil {
			t.Fatal(err)
		}
		on = append(on, time.Since(start))
		start = time.Now()
		if err := k.SetBackupDrop(t.Context(), "eth0v99", false); err != nil {
			t.Fatal(err)
		}
		off = append(off, time.Since(start))
	}
	var idle, again []time.Duration
	for range 10 {
		start := time.Now()
		if err := k.SetBackupDrop(t.Context(), "eth0v99", false); err != nil {
			t.Fatal(err)
		}
		idle = append(idle, time.Since(start))
	}
	if err := k.SetBackupDrop(t.Context(), "eth0v99", true); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		start := time.Now()
		if err := k.SetBackupDrop(t.Context(), "eth0v99", true); err != nil {
			t.Fatal(err)
		}
		again = append(again, time.Since(start))
	}
	t.Logf("SetBackupDrop over 50 toggles: on median %s max %s, off median %s max %s; repeated: off median %s, on median %s",
		median(on), slices.Max(on), median(off), slices.Max(off), median(idle), median(again))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
