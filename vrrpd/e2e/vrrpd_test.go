//go:build e2e

// Package e2e runs the vrrpd binary ($HASUITE_BIN/vrrpd, built by `make
// e2e`) on two routers in a netlab and checks, from a LAN host, that the
// virtual address always answers: guide chapter 2's Examples 2-1 and 2-2.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

const (
	vip     = "172.16.0.24"
	vipCIDR = vip + "/24"
	vmacIf  = "eth0v99"
	// patience bounds every wait; elections take seconds.
	patience = 30 * time.Second
)

// routerConfig is the guide's Example 2-1 (R1, priority 150) or 2-2 (R2,
// priority 20) with the advert interval written out; mode is
// "rfc3768-compatibility" as in the guide, or empty for legacy mode.
func routerConfig(priority int, mode string) string {
	return fmt.Sprintf(`interfaces {
	ethernet eth0 {
		vrrp {
			vrrp-group 99 {
				advertise-interval 1
				preempt true
				priority %d
				%s
				virtual-address %s
			}
		}
	}
}
`, priority, mode, vipCIDR)
}

// vrrpd binary built by `make e2e`.
func binary(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		t.Fatal("HASUITE_BIN is not set: build vrrpd with `make e2e`, or `go build -o DIR/vrrpd ./vrrpd` and set HASUITE_BIN=DIR")
	}
	path := filepath.Join(dir, "vrrpd")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no vrrpd binary: %v", err)
	}
	return path
}

// router is one vrrpd running in a lab node.
type router struct {
	node   *netlab.Node
	bin    string
	runDir string
	proc   *netlab.Process
}

func startRouter(t *testing.T, bin string, node *netlab.Node, priority int, mode string) *router {
	t.Helper()
	return startRouterConfig(t, bin, node, routerConfig(priority, mode))
}

// startRouterConfig starts vrrpd on node with configText as its whole
// configuration file, for cases routerConfig cannot express.
func startRouterConfig(t *testing.T, bin string, node *netlab.Node, configText string) *router {
	t.Helper()
	dir := t.TempDir()
	r := &router{node: node, bin: bin, runDir: filepath.Join(dir, "run")}
	r.writeConfig(t, configText)
	r.start(t)
	return r
}

// state asks the router's vrrpd for group 99's state through the CLI, as
// an operator would; unix sockets need no namespace.
func (r *router) state(ctx context.Context) (vrrpv1.State, error) {
	out, err := exec.CommandContext(ctx, r.bin, "--run-dir", r.runDir, "show", "vrrp", "--json").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("show vrrp: %v: %s", err, out)
	}
	var resp vrrpv1.ShowVrrpResponse
	if err := protojson.Unmarshal(out, &resp); err != nil {
		return 0, fmt.Errorf("parse show vrrp --json: %v", err)
	}
	if len(resp.Groups) != 1 {
		return 0, fmt.Errorf("show vrrp lists %d groups, want 1", len(resp.Groups))
	}
	return resp.Groups[0].State, nil
}

func (r *router) waitState(t *testing.T, want vrrpv1.State) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		if r.proc.Exited() {
			return false, "vrrpd exited:\n" + r.proc.Output()
		}
		got, err := r.state(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return got == want, fmt.Sprintf("%s is %s", r.node.Name(), got)
	})
}

// leftovers lists what a stopped vrrpd must not leave in its kernel: the
// VIP on eth0 or on the VRRP interface, and the VRRP interface itself.
func (r *router) leftovers() ([]string, error) {
	var found []string
	for _, name := range []string{"eth0", vmacIf} {
		link, err := r.node.Netlink().LinkByName(name)
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if name == vmacIf {
			found = append(found, "interface "+vmacIf)
		}
		addrs, err := r.node.Netlink().AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if a.IP.String() == vip {
				found = append(found, vip+" on "+name)
			}
		}
	}
	return found, nil
}

func newLab(t *testing.T) *netlab.Lab {
	netlab.RequirePrivileged(t)
	return netlab.New(t, netlab.Topology{
		Bridges: []string{"lan"},
		Nodes: []netlab.NodeSpec{
			{Name: "host", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.100/24"}}}},
			{Name: "r1", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.2/24"}}}},
			{Name: "r2", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.3/24"}}}},
		},
	})
}

// TestVR_B05_B08_B12_B13_FailoverKeepsVIPReachable: R1 (150) is master
// and answers for the VIP (VR-B13); a pulled cable makes R2 take over after
// Master_Down (VR-B05); with the cable back R1 preempts (VR-B08); SIGTERM
// makes R1 resign with priority 0 so R2 takes over, and leaves R1's kernel
// clean (VR-B12, VR-B19).
func TestVR_B05_B08_B12_B13_FailoverKeepsVIPReachable(t *testing.T) {
	bin := binary(t)
	tests := []struct{ name, mode string }{
		{name: "legacy"},
		{name: "VR-B18 rfc3768-compatibility", mode: "rfc3768-compatibility"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { failover(t, bin, tt.mode) })
	}
}

func failover(t *testing.T, bin, mode string) {
	lab := newLab(t)
	host := lab.Node("host")
	r1 := startRouter(t, bin, lab.Node("r1"), 150, mode)
	r2 := startRouter(t, bin, lab.Node("r2"), 20, mode)

	r1.waitState(t, vrrpv1.State_STATE_MASTER)
	r2.waitState(t, vrrpv1.State_STATE_BACKUP)
	host.WaitPing(t, vip, patience)

	t.Log("VR-B05: cut the master's cable")
	if err := r1.node.CutPort("eth0"); err != nil {
		t.Fatal(err)
	}
	r2.waitState(t, vrrpv1.State_STATE_MASTER)
	host.WaitPing(t, vip, patience)

	t.Log("VR-B08: the restored master preempts")
	if err := r1.node.RestorePort("eth0"); err != nil {
		t.Fatal(err)
	}
	r1.waitState(t, vrrpv1.State_STATE_MASTER)
	r2.waitState(t, vrrpv1.State_STATE_BACKUP)
	host.WaitPing(t, vip, patience)

	t.Log("VR-B12: SIGTERM resigns and cleans up")
	if err := r1.proc.Stop(patience); err != nil {
		t.Fatalf("vrrpd did not exit cleanly on SIGTERM: %v", err)
	}
	r2.waitState(t, vrrpv1.State_STATE_MASTER)
	host.WaitPing(t, vip, patience)
	left, err := r1.leftovers()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("after SIGTERM R1's kernel still has %v", left)
	}
}

// Helpers for cases beyond Examples 2-1/2-2: several groups, other
// settings, restarts, counters.

// configPath is the router's configuration file, the one reload re-reads.
func (r *router) configPath() string { return filepath.Join(filepath.Dir(r.runDir), "vrrpd.conf") }

// writeConfig replaces the router's configuration file (reload applies it).
func (r *router) writeConfig(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile(r.configPath(), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start runs vrrpd on the router's node with its configuration file and run
// directory; after a stop or a kill it is a restart that finds what the
// previous run left in the kernel.
func (r *router) start(t *testing.T) {
	t.Helper()
	var err error
	r.proc, err = r.node.Start(t.Context(), r.bin, "--config", r.configPath(), "--run-dir", r.runDir,
		"--scripts-dir", filepath.Dir(r.runDir), "--log-level", "debug", "run")
	if err != nil {
		t.Fatalf("start vrrpd on %s: %v", r.node.Name(), err)
	}
}

// groupSpec is one vrrp-group of a test configuration. Zero values leave
// the node out, so vrrpd's defaults apply.
type groupSpec struct {
	ifname   string // "eth0"
	id       int
	priority int
	// preempt is "true", "false" or "" (the default, true).
	preempt      string
	preemptDelay int
	// mode is "rfc3768-compatibility" or "" (legacy MAC mode).
	mode string
	// version 3 allows the sub-second interval that keeps a case short.
	version  int
	interval string
	// authType and password form the authentication block when set.
	authType, password string
	syncGroup          string
	vips               []string
}

// fast is the advert timing for cases about election logic rather than the
// guide's v2 defaults: VRRPv3 every 500 ms, Master_Down about 1.7 s. Not
// 100 ms: on a loaded 2-vCPU machine a daemon was seen stalled for 750 ms,
// long enough for a healthy master to be declared down.
func (g groupSpec) fast() groupSpec {
	g.version, g.interval = 3, "0.5"
	return g
}

// vrrpConfig renders groups as a vrrpd configuration file, grouped by
// interface in the order the interfaces first appear.
func vrrpConfig(groups ...groupSpec) string {
	var order []string
	byIf := map[string][]groupSpec{}
	for _, g := range groups {
		if _, seen := byIf[g.ifname]; !seen {
			order = append(order, g.ifname)
		}
		byIf[g.ifname] = append(byIf[g.ifname], g)
	}
	var b strings.Builder
	b.WriteString("interfaces {\n")
	for _, ifname := range order {
		fmt.Fprintf(&b, "\tethernet %s {\n\t\tvrrp {\n", ifname)
		for _, g := range byIf[ifname] {
			fmt.Fprintf(&b, "\t\t\tvrrp-group %d {\n", g.id)
			line := func(format string, args ...any) { fmt.Fprintf(&b, "\t\t\t\t"+format+"\n", args...) }
			if g.version != 0 {
				line("version %d", g.version)
			}
			if g.interval != "" {
				line("advertise-interval %s", g.interval)
			}
			if g.priority != 0 {
				line("priority %d", g.priority)
			}
			if g.preempt != "" {
				line("preempt %s", g.preempt)
			}
			if g.preemptDelay != 0 {
				line("preempt-delay %d", g.preemptDelay)
			}
			if g.mode != "" {
				line("%s", g.mode)
			}
			if g.authType != "" {
				line("authentication {\n\t\t\t\t\tpassword %q\n\t\t\t\t\ttype %s\n\t\t\t\t}", g.password, g.authType)
			}
			if g.syncGroup != "" {
				line("sync-group %s", g.syncGroup)
			}
			for _, v := range g.vips {
				line("virtual-address %s", v)
			}
			b.WriteString("\t\t\t}\n")
		}
		b.WriteString("\t\t}\n\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// groups is `show vrrp --json`: every group the router runs.
func (r *router) groups(ctx context.Context) ([]*vrrpv1.Group, error) {
	out, code := r.cli(ctx, "show", "vrrp", "--json")
	if code != 0 {
		return nil, fmt.Errorf("show vrrp on %s exited %d: %s", r.node.Name(), code, out)
	}
	var resp vrrpv1.ShowVrrpResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("parse show vrrp --json: %v", err)
	}
	return resp.Groups, nil
}

// group is one group of `show vrrp --json`, by key ("eth0/99").
func (r *router) group(ctx context.Context, key string) (*vrrpv1.Group, error) {
	groups, err := r.groups(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if fmt.Sprintf("%s/%d", g.Interface, g.Group) == key {
			return g, nil
		}
	}
	return nil, fmt.Errorf("%s runs no group %s", r.node.Name(), key)
}

// waitGroup waits until the group key is in state want.
func (r *router) waitGroup(t *testing.T, key string, want vrrpv1.State) {
	t.Helper()
	netlab.WaitFor(t, patience, r.isState(t.Context(), key, want))
}

// statistics is the group's line of `show vrrp statistics --json`.
func (r *router) statistics(ctx context.Context, key string) (*vrrpv1.GroupStatistics, error) {
	out, code := r.cli(ctx, "show", "vrrp", "statistics", "--json")
	if code != 0 {
		return nil, fmt.Errorf("show vrrp statistics on %s exited %d: %s", r.node.Name(), code, out)
	}
	var resp vrrpv1.ShowStatisticsResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("parse show vrrp statistics --json: %v", err)
	}
	for _, s := range resp.Groups {
		if fmt.Sprintf("%s/%d", s.Interface, s.Group) == key {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%s has no statistics for %s", r.node.Name(), key)
}

// mustStatistics is statistics, failing the test on error.
func (r *router) mustStatistics(t *testing.T, key string) *vrrpv1.GroupStatistics {
	t.Helper()
	s, err := r.statistics(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// vipHolders names the interfaces of node that carry addr ("r1:eth0v99"),
// whatever put it there: the kernel answers for an address it holds.
func vipHolders(node *netlab.Node, addr string) ([]string, error) {
	links, err := node.Netlink().LinkList()
	if err != nil {
		return nil, err
	}
	var found []string
	for _, l := range links {
		addrs, err := node.Netlink().AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if a.IP.String() == addr {
				found = append(found, node.Name()+":"+l.Attrs().Name)
			}
		}
	}
	return found, nil
}

// waitOnlyHolder waits until want's node is the only one of nodes whose
// kernel holds addr (on one interface or more, as an owner may): never two
// routers answering for one VIP.
func waitOnlyHolder(t *testing.T, addr string, want *netlab.Node, nodes ...*netlab.Node) {
	t.Helper()
	netlab.WaitFor(t, patience, func() (bool, string) {
		var all []string
		ok := true
		for _, n := range nodes {
			held, err := vipHolders(n, addr)
			if err != nil {
				return false, err.Error()
			}
			all = append(all, held...)
			if (n == want) != (len(held) > 0) {
				ok = false
			}
		}
		return ok, fmt.Sprintf("%s held by %v, want only by %s", addr, all, want.Name())
	})
}

// holdsFor checks that cond keeps holding for d, failing the test the first
// time it does not: how a test shows that something does not happen.
func holdsFor(t *testing.T, d time.Duration, cond netlab.Condition) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok, status := cond(); !ok {
			t.Fatalf("condition stopped holding after %v of %v: %s", d-time.Until(deadline).Round(time.Millisecond), d, status)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// isState is a condition: the router's group key is in state want.
func (r *router) isState(ctx context.Context, key string, want vrrpv1.State) netlab.Condition {
	return func() (bool, string) {
		if r.proc.Exited() {
			return false, "vrrpd exited:\n" + r.proc.Output()
		}
		g, err := r.group(ctx, key)
		if err != nil {
			return false, err.Error()
		}
		return g.State == want, fmt.Sprintf("%s %s is %s", r.node.Name(), key, g.State)
	}
}
