package resources

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/vishvananda/netlink"

	"github.com/hasuite/hasuite/clusterd/internal/config"
	"github.com/hasuite/hasuite/pkg/hook"
	"github.com/hasuite/hasuite/pkg/netlab"
)

// privLab is node r (the cluster node, eth0 10.6.0.1/24 and eth1
// 12.34.56.1/24) and node peer on r's eth0 LAN, with the real adapters.
type privLab struct {
	r, peer *netlab.Node
	kernel  *Netlink
	record  string // the file the test scripts append "name action" to
	opts    Options
}

func newPrivLab(t *testing.T) *privLab {
	netlab.RequirePrivileged(t)
	lab := netlab.New(t, netlab.Topology{
		Bridges: []string{"lan", "wan"},
		Nodes: []netlab.NodeSpec{
			{Name: "r", Interfaces: []netlab.Interface{
				{Name: "eth0", Bridge: "lan", MAC: "02:00:00:00:01:01", Addrs: []string{"10.6.0.1/24"}},
				{Name: "eth1", Bridge: "wan", Addrs: []string{"12.34.56.1/24"}},
			}},
			{Name: "peer", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"10.6.0.2/24"}}}},
		},
	})
	p := &privLab{r: lab.Node("r"), peer: lab.Node("peer")}
	k, err := Open(filepath.Join("/run/netns", p.r.Namespace()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	p.kernel = k

	dir := t.TempDir()
	p.record = filepath.Join(dir, "record")
	initDir, resourceDir := filepath.Join(dir, "init.d"), filepath.Join(dir, "resource.d")
	for _, d := range []string{initDir, resourceDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Every script appends its name and arguments; "hang" ignores SIGTERM
	// when stopping, "broken" fails to start with a message.
	recordLine := fmt.Sprintf(`echo "$(basename "$0") $*" >> %q`, p.record)
	scripts := map[string]string{
		filepath.Join(initDir, "ipsec"):     recordLine,
		filepath.Join(initDir, "broken"):    recordLine + "\n[ \"$1\" = start ] && { echo 'broken: no such config' >&2; exit 1; }\nexit 0",
		filepath.Join(resourceDir, "hang"):  recordLine + "\ncase \"$*\" in *stop) trap '' TERM; sleep 60;; esac\nexit 0",
		filepath.Join(resourceDir, "Delay"): recordLine,
	}
	for path, body := range scripts {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runner := hook.NewRunner(hook.Options{KillGrace: 200 * time.Millisecond})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		_ = runner.Close(ctx)
	})
	ledger, err := OpenLedger(filepath.Join(dir, "state", LedgerFile))
	if err != nil {
		t.Fatal(err)
	}
	p.opts = Options{Name: "cluster1", Kernel: k, Scripts: runner, Ledger: ledger, InitDir: initDir,
		ResourceDirs: []string{resourceDir}, SystemdDir: filepath.Join(dir, "no-systemd"),
		AnnounceInterval: 100 * time.Millisecond}
	return p
}

func (p *privLab) recorded(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(p.record)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// addrsOf lists r's addresses on ifname as "prefix brd label" lines.
func (p *privLab) addrsOf(t *testing.T, ifname string) []string {
	t.Helper()
	l, err := p.r.Netlink().LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	list, err := p.r.Netlink().AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range list {
		out = append(out, fmt.Sprintf("%s brd %s label %s", a.IPNet, a.Broadcast, a.Label))
	}
	slices.Sort(out)
	return out
}

func (p *privLab) group(t *testing.T, services ...config.Service) *Group {
	t.Helper()
	g, err := New(services, p.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// TestPrivilegedCL_B13_B15_ClusterIPsAndScripts starts and stops a group
// on a real kernel: labelled addresses with broadcast, three gratuitous
// ARPs seen by the peer, scripts in order, everything gone after Stop.
func TestPrivilegedCL_B13_B15_ClusterIPsAndScripts(t *testing.T) {
	p := newPrivLab(t)
	capture, err := p.peer.Capture("eth0", func(frame []byte) bool {
		return len(frame) >= 14 && binary.BigEndian.Uint16(frame[12:14]) == uint16(ethernet.EtherTypeARP)
	})
	if err != nil {
		t.Fatal(err)
	}
	g := p.group(t,
		ipService("10.6.0.100/24/eth0", "10.6.0.100/24", "eth0", "eth0:0"),
		ipService("12.34.56.78/24/eth1/12.34.56.255", "12.34.56.78/24", "eth1", "eth1:0"),
		initService("ipsec"),
		scriptService("Delay::1::0"),
	)
	ctx := context.Background()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := p.addrsOf(t, "eth0"), []string{"10.6.0.1/24 brd 10.6.0.255 label eth0", "10.6.0.100/24 brd 10.6.0.255 label eth0:0"}; !slices.Equal(got, want) {
		t.Errorf("eth0 holds %q, want %q", got, want)
	}
	if got, want := p.addrsOf(t, "eth1"), []string{"12.34.56.1/24 brd 12.34.56.255 label eth1", "12.34.56.78/24 brd 12.34.56.255 label eth1:0"}; !slices.Equal(got, want) {
		t.Errorf("eth1 holds %q, want %q", got, want)
	}
	mac, _ := net.ParseMAC("02:00:00:00:01:01")
	isGARP := func(frame []byte) bool {
		var req arp.Packet
		if req.UnmarshalBinary(frame[14:]) != nil {
			return false
		}
		return req.SenderIP == netip.MustParseAddr("10.6.0.100") && req.TargetIP == req.SenderIP && slices.Equal(req.SenderHardwareAddr, mac)
	}
	netlab.WaitFor(t, 20*time.Second, func() (bool, string) {
		n := len(slices.DeleteFunc(capture.Frames(), func(f netlab.Frame) bool { return !isGARP(f.Data) }))
		return n == 3, fmt.Sprintf("%d of 3 gratuitous ARPs for 10.6.0.100 seen", n)
	})
	for _, st := range g.Status(ctx) {
		if st.Health != HealthRunning {
			t.Errorf("%s: %s (%v), want running", st.Service.Raw, st.Health, st.Err)
		}
	}

	if err := g.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := p.recorded(t); !slices.Equal(got, []string{"ipsec start", "Delay 1 0 start", "ipsec status", "Delay 1 0 status", "Delay 1 0 stop", "ipsec stop"}) {
		t.Errorf("scripts ran %q", got)
	}
	if got := append(p.addrsOf(t, "eth0"), p.addrsOf(t, "eth1")...); !slices.Equal(got, []string{"10.6.0.1/24 brd 10.6.0.255 label eth0", "12.34.56.1/24 brd 12.34.56.255 label eth1"}) {
		t.Errorf("after Stop r holds %q", got)
	}
}

// TestPrivilegedCL_B14_FailedStartRollsBack: the third service fails, the
// two before it are undone.
func TestPrivilegedCL_B14_FailedStartRollsBack(t *testing.T) {
	p := newPrivLab(t)
	g := p.group(t, initService("ipsec"), ipService("10.6.0.100/24/eth0", "10.6.0.100/24", "eth0", "eth0:0"), initService("broken"))
	err := g.Start(context.Background())
	var se *StartError
	if !errors.As(err, &se) || se.Service.Name != "broken" || !slices.Equal(se.Output, []string{"broken: no such config"}) {
		t.Fatalf("Start = %v, want a StartError for broken with its output", err)
	}
	if got := p.recorded(t); !slices.Equal(got, []string{"ipsec start", "broken start", "ipsec stop"}) {
		t.Errorf("scripts ran %q", got)
	}
	if got := p.addrsOf(t, "eth0"); len(got) != 1 {
		t.Errorf("eth0 holds %q after the rollback", got)
	}
}

// TestPrivilegedCL_Q15_HangingStopScript: a stop script ignoring SIGTERM
// is killed after its timeout, and the cluster IP still goes.
func TestPrivilegedCL_Q15_HangingStopScript(t *testing.T) {
	p := newPrivLab(t)
	p.opts.Timeout = 300 * time.Millisecond
	g := p.group(t, ipService("10.6.0.100/24/eth0", "10.6.0.100/24", "eth0", "eth0:0"), scriptService("hang::x"))
	ctx := context.Background()
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	err := g.Stop(ctx)
	if !errors.Is(err, hook.ErrTimedOut) {
		t.Errorf("Stop = %v, want the hanging script's timeout", err)
	}
	if got := p.addrsOf(t, "eth0"); !slices.Equal(got, []string{"10.6.0.1/24 brd 10.6.0.255 label eth0"}) {
		t.Errorf("eth0 holds %q, want the cluster IP gone", got)
	}
	if got := g.State(); got[1].Phase != Failed || got[0].Phase != Stopped {
		t.Errorf("states %v", got)
	}
}

// TestPrivilegedCL_B17_ForeignAndLeftover: an address configured by hand
// is refused and left alone; one left by a killed run is removed by
// Cleanup after a restart.
func TestPrivilegedCL_B17_ForeignAndLeftover(t *testing.T) {
	p := newPrivLab(t)
	eth0, err := p.r.Netlink().LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := netlink.ParseAddr("10.6.0.200/24")
	if err := p.r.Netlink().AddrAdd(eth0, foreign); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	g := p.group(t, ipService("10.6.0.200/24/eth0", "10.6.0.200/24", "eth0", "eth0:0"))
	if err := g.Start(ctx); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("Start over a hand-made address = %v, want ErrNotOurs", err)
	}
	if err := g.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// A run that is "killed" after adding 10.6.0.100 (no Stop).
	killed := p.group(t, ipService("10.6.0.100/24/eth0", "10.6.0.100/24", "eth0", "eth0:0"))
	if err := killed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	killed.Close()
	ledger, err := OpenLedger(filepath.Join(filepath.Dir(p.record), "state", LedgerFile))
	if err != nil {
		t.Fatal(err)
	}
	removed, err := Cleanup(ctx, p.kernel, ledger, nil)
	if err != nil || len(removed) != 1 {
		t.Fatalf("Cleanup = %v, %v; want 10.6.0.100 removed", removed, err)
	}
	want := []string{"10.6.0.1/24 brd 10.6.0.255 label eth0", "10.6.0.200/24 brd 10.6.0.255 label eth0"}
	if got := p.addrsOf(t, "eth0"); !slices.Equal(got, want) {
		t.Errorf("eth0 holds %q, want %q", got, want)
	}
}
