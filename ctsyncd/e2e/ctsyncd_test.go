//go:build e2e

// Package e2e runs the guide's own acceptance test of chapter 4 with the
// real binaries ($HASUITE_BIN/vrrpd, $HASUITE_BIN/ctsyncd) in a netlab: an
// Internet host downloads from a server in the protected network through
// R1, R1 dies mid-transfer, and R2 takes over (CS-B11, Figure 4-2). Both
// routers run the firewall of Example 4-1 as iptables rules and the NAT of
// Example 4-9 on the virtual addresses, with nf_conntrack_tcp_loose=0 so that
// R2 cannot adopt a mid-stream connection by itself (FIELD-NOTES): without
// the connection table a stream stalls at R2's firewall.
package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hasuite/hasuite/pkg/netlab"
	ctsyncv1 "github.com/hasuite/hasuite/proto/hasuite/ctsync/v1"
)

// The addresses of Examples 4-2, 4-3, 4-6 and 4-9; the Internet host and
// the protected server are the guide's hosts, given addresses here.
const (
	outsideVIP = "12.34.56.100"
	insideVIP  = "172.16.0.100"
	internetIP = "12.34.56.1"
	serverIP   = "172.16.0.33"
	serverPort = 80
	// patience bounds every wait for a condition.
	patience = 30 * time.Second
)

// hasuiteBinary is a hasuite binary built into $HASUITE_BIN.
func hasuiteBinary(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		t.Fatalf("HASUITE_BIN is not set: `go build -o DIR/ ./%s` and set HASUITE_BIN=DIR", name)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no %s binary: %v", name, err)
	}
	return path
}

// newLab builds Figure 4-2: the routers' eth0 with the Internet host on
// the outside bridge, eth1 on the sync bridge (the dedicated link the guide
// recommends), eth2 with the server on the inside bridge. The Internet host
// reaches the protected network through the outside VIP, the server the
// Internet through the inside VIP, so traffic follows the VRRP master.
// extra nodes join the lab as they are (ops_test.go's intruder).
func newLab(t *testing.T, extra ...netlab.NodeSpec) *netlab.Lab {
	netlab.RequirePrivileged(t)
	router := func(name string, n int) netlab.NodeSpec {
		return netlab.NodeSpec{
			Name: name,
			Interfaces: []netlab.Interface{
				{Name: "eth0", Bridge: "outside", Addrs: []string{fmt.Sprintf("12.34.56.%d/24", n)}},
				{Name: "eth1", Bridge: "sync", Addrs: []string{fmt.Sprintf("192.168.0.%d/24", n)}},
				{Name: "eth2", Bridge: "inside", Addrs: []string{fmt.Sprintf("172.16.0.%d/24", n)}},
			},
			Sysctls: map[string]string{"net.ipv4.ip_forward": "1"},
		}
	}
	return netlab.New(t, netlab.Topology{
		Bridges: []string{"outside", "sync", "inside"},
		Nodes: append([]netlab.NodeSpec{
			router("r1", 128),
			router("r2", 200),
			{Name: "internet", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "outside", Addrs: []string{internetIP + "/24"}}},
				Routes: []netlab.Route{{Dst: "172.16.0.0/24", Via: outsideVIP}}},
			{Name: "server", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "inside", Addrs: []string{serverIP + "/24"}}},
				Routes: []netlab.Route{{Dst: "default", Via: insideVIP}}},
		}, extra...),
	})
}

// firewallRules are Example 4-1 (internet_to_protected in on eth0,
// protected_to_internet in on eth2) and Example 4-9 (SNAT of the protected
// network to the outside VIP, DNAT of HTTP on the outside VIP to the
// server; the guide's 176.16.0.33 is its typo for 172.16.0.33, CS-Q07).
// `eth0+` also matches a VRRP macvlan, where packets to a virtual MAC
// arrive (FIELD-NOTES).
var firewallRules = [][]string{
	{"-t", "filter", "-A", "FORWARD", "-i", "eth0+", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"},
	{"-t", "filter", "-A", "FORWARD", "-i", "eth0+", "-p", "tcp", "-d", serverIP, "--dport", fmt.Sprint(serverPort),
		"-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT"},
	{"-t", "filter", "-A", "FORWARD", "-i", "eth0+", "-j", "DROP"},
	{"-t", "filter", "-A", "FORWARD", "-i", "eth2+", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"},
	{"-t", "filter", "-A", "FORWARD", "-i", "eth2+", "-j", "ACCEPT"},
	{"-t", "nat", "-A", "POSTROUTING", "-o", "eth0+", "-s", "172.16.0.0/24", "-j", "SNAT", "--to-source", outsideVIP},
	{"-t", "nat", "-A", "PREROUTING", "-i", "eth0+", "-d", outsideVIP, "-p", "tcp", "--dport", fmt.Sprint(serverPort),
		"-j", "DNAT", "--to-destination", serverIP},
}

// installFirewall puts the guide's rules on a router and turns loose TCP
// pick-up off; the sysctl exists once the rules have instantiated
// connection tracking in the namespace.
func installFirewall(t *testing.T, node *netlab.Node) {
	t.Helper()
	for _, rule := range firewallRules {
		if out, err := node.Run(t.Context(), "iptables", rule...); err != nil {
			t.Fatalf("iptables %s on %s: %v\n%s", strings.Join(rule, " "), node.Name(), err, out)
		}
	}
	if err := node.SetSysctl("net.netfilter.nf_conntrack_tcp_loose", "0"); err != nil {
		t.Fatalf("%s: %v", node.Name(), err)
	}
}

// vrrpConfig is Examples 4-6 (R1, priority 200) and 4-7 (R2, 100): two
// groups in sync group TESTING, one VIP each.
func vrrpConfig(priority int) string {
	group := func(ifname string, id int, vip string) string {
		return fmt.Sprintf("\tethernet %s {\n\t\tvrrp {\n\t\t\tvrrp-group %d {\n\t\t\t\tadvertise-interval 1\n"+
			"\t\t\t\tpriority %d\n\t\t\t\tsync-group TESTING\n\t\t\t\tvirtual-address %s\n\t\t\t}\n\t\t}\n\t}\n",
			ifname, id, priority, vip)
	}
	return "interfaces {\n" + group("eth0", 1, outsideVIP) + group("eth2", 2, insideVIP) + "}\n"
}

// router is one of R1 and R2 with its daemons; they share the run
// directory, where ctsyncd finds vrrpd's (or clusterd's) socket.
type router struct {
	node     *netlab.Node
	dir      string
	vrrpd    *netlab.Process
	clusterd *netlab.Process
	ctsyncd  *netlab.Process
}

func newRouter(t *testing.T, lab *netlab.Lab, name string, priority int) *router {
	t.Helper()
	r := &router{node: lab.Node(name), dir: t.TempDir()}
	installFirewall(t, r.node)
	if err := os.MkdirAll(r.runDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "vrrpd.conf"), []byte(vrrpConfig(priority)), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *router) runDir() string { return filepath.Join(r.dir, "run") }

// startVrrpd runs vrrpd on the router.
func (r *router) startVrrpd(t *testing.T) {
	t.Helper()
	var err error
	r.vrrpd, err = r.node.Start(t.Context(), hasuiteBinary(t, "vrrpd"), "--config", filepath.Join(r.dir, "vrrpd.conf"),
		"--run-dir", r.runDir(), "--scripts-dir", r.dir, "--log-level", "debug", "run")
	if err != nil {
		t.Fatalf("start vrrpd on %s: %v", r.node.Name(), err)
	}
}

// holdsVIPs reports whether both virtual addresses are on the router: it
// is the master of sync group TESTING and traffic flows through it.
func (r *router) holdsVIPs() (bool, error) {
	addrs, err := r.node.Netlink().AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return false, err
	}
	found := 0
	for _, a := range addrs {
		ip, _ := netip.AddrFromSlice(a.IP)
		if s := ip.Unmap().String(); s == outsideVIP || s == insideVIP {
			found++
		}
	}
	return found == 2, nil
}

// waitMaster waits until the router holds both VIPs.
func (r *router) waitMaster(t *testing.T) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		if r.vrrpd != nil && r.vrrpd.Exited() {
			return false, "vrrpd exited:\n" + r.vrrpd.Output()
		}
		ok, err := r.holdsVIPs()
		if err != nil {
			return false, err.Error()
		}
		return ok, r.node.Name() + " does not hold both VIPs"
	})
}

// crash is the guide's "shut down R1 or disconnect it": its daemons die
// without a word (SIGKILL) and its cables are cut, so the VIPs a killed
// vrrpd leaves in the kernel answer nobody.
func (r *router) crash(t *testing.T, procs ...*netlab.Process) {
	t.Helper()
	for _, p := range procs {
		if p != nil {
			_ = p.Kill()
		}
	}
	for _, ifname := range []string{"eth0", "eth1", "eth2"} {
		if err := r.node.CutPort(ifname); err != nil {
			t.Fatal(err)
		}
	}
}

// recover plugs the router's cables back in (after crash).
func (r *router) recover(t *testing.T) {
	t.Helper()
	for _, ifname := range []string{"eth0", "eth1", "eth2"} {
		if err := r.node.RestorePort(ifname); err != nil {
			t.Fatal(err)
		}
	}
}

// conntrackCount is the number of entries in the router's table.
func (r *router) conntrackCount(ctx context.Context) (string, error) {
	out, err := r.node.Run(ctx, "conntrack", "-C")
	return strings.TrimSpace(out), err
}

// ctsyncdConfig is Example 4-8 (VRRP sync group TESTING) or Example 4-5
// (cluster group TEST): sync over eth1, the dedicated link.
func ctsyncdConfig(mechanism string) string {
	return "service {\n\tconntrack-sync {\n\t\tfailover-mechanism {\n\t\t\t" + mechanism +
		"\n\t\t}\n\t\tinterface eth1\n\t}\n}\n"
}

const (
	viaVRRP    = "vrrp {\n\t\t\t\tsync-group TESTING\n\t\t\t}"
	viaCluster = "cluster {\n\t\t\t\tgroup TEST\n\t\t\t}"
)

// ctsyncdGlobals are the flags of every ctsyncd command of this router.
func (r *router) ctsyncdGlobals() []string {
	return []string{"--config", filepath.Join(r.dir, "ctsyncd.conf"), "--run-dir", r.runDir()}
}

// startCtsyncd writes the configuration and runs ctsyncd on the router.
func (r *router) startCtsyncd(t *testing.T, mechanism string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(r.dir, "ctsyncd.conf"), []byte(ctsyncdConfig(mechanism)), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	r.ctsyncd, err = r.node.Start(t.Context(), hasuiteBinary(t, "ctsyncd"), append(r.ctsyncdGlobals(), "--log-level", "debug", "run")...)
	if err != nil {
		t.Fatalf("start ctsyncd on %s: %v", r.node.Name(), err)
	}
}

// cli runs a ctsyncd command against the router's daemon.
func (r *router) cli(ctx context.Context, t *testing.T, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	out, err := exec.CommandContext(ctx, hasuiteBinary(t, "ctsyncd"), append(r.ctsyncdGlobals(), args...)...).CombinedOutput()
	return string(out), err
}

// syncStatus is `show conntrack-sync status --json`.
func (r *router) syncStatus(t *testing.T) (*ctsyncv1.Status, error) {
	out, err := r.cli(t.Context(), t, "show", "conntrack-sync", "status", "--json")
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var resp ctsyncv1.ShowStatusResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("parse status: %v: %s", err, out)
	}
	return resp.Status, nil
}

// syncStatistics is `show conntrack-sync statistics --json`.
func (r *router) syncStatistics(t *testing.T) (*ctsyncv1.ShowStatisticsResponse, error) {
	out, err := r.cli(t.Context(), t, "show", "conntrack-sync", "statistics", "--json")
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var resp ctsyncv1.ShowStatisticsResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("parse statistics: %v: %s", err, out)
	}
	return &resp, nil
}

// waitPeer waits until the router's ctsyncd hears its peer.
func (r *router) waitPeer(t *testing.T) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		if r.ctsyncd.Exited() {
			return false, "ctsyncd exited:\n" + r.ctsyncd.Output()
		}
		st, err := r.syncStatus(t)
		if err != nil {
			return false, err.Error()
		}
		return st.GetPeer().GetAlive(), r.node.Name() + "'s ctsyncd does not hear its peer"
	})
}

// waitExternal waits until the router's external cache holds at least n
// entries.
func (r *router) waitExternal(t *testing.T, n uint64) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		st, err := r.syncStatistics(t)
		if err != nil {
			return false, err.Error()
		}
		got := st.GetMain().GetExternal().GetCurrent()
		return got >= n, fmt.Sprintf("%s's external cache holds %d entries, want %d", r.node.Name(), got, n)
	})
}

// clusterConfig is Example 4-4 with its typos mended (dead-interval,
// auto-failback, CS-Q06) and its monitors replaced by the lab's Internet
// host and server, which exist here.
const clusterConfig = `cluster {
	dead-interval 2000
	group TEST {
		auto-failback true
		monitor ` + serverIP + `
		monitor ` + internetIP + `
		primary R1
		secondary R2
		service ` + outsideVIP + `/24/eth0
		service ` + insideVIP + `/24/eth2
	}
	init-dead-interval 3000
	interface eth1
	keepalive-interval 500
	monitor-dead-interval 2000
	pre-shared-secret "testing-testing-testing"
}
`

// startClusterd runs clusterd on the router as node R1 or R2.
func (r *router) startClusterd(t *testing.T) {
	t.Helper()
	path := filepath.Join(r.dir, "clusterd.conf")
	if err := os.WriteFile(path, []byte(clusterConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	r.clusterd, err = r.node.Start(t.Context(), hasuiteBinary(t, "clusterd"), "--config", path, "--run-dir", r.runDir(),
		"--state-dir", filepath.Join(r.dir, "state"), "--scripts-dir", r.dir, "--node-name", strings.ToUpper(r.node.Name()),
		"--log-level", "debug", "run")
	if err != nil {
		t.Fatalf("start clusterd on %s: %v", r.node.Name(), err)
	}
}
