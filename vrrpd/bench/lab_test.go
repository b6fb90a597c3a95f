//go:build e2e

package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/hasuite/hasuite/pkg/netlab"
)

const (
	vip     = "172.16.0.24"
	vrid    = 99
	lanBits = 24
	// masterPriority and backupPriority: the backup at keepalived's default
	// priority, so Master_Down matches the reference figures of FIELD-NOTES
	// (3609 ms at 1 s, 361 ms at 100 ms).
	masterPriority = 150
	backupPriority = 100
	// patience bounds every wait for a daemon or the lab; elections at 1 s
	// take about 3.5 s.
	patience = 30 * time.Second
	// pingInterval is how often the LAN host pings the VIP: `ping -i 0.01`
	// really sends every ~16 ms here, the netlab pinger every 5 ms.
	pingInterval   = 5 * time.Millisecond
	keepalivedPath = "/usr/sbin/keepalived"
)

// topology is the same for every measurement: two routers and a LAN host on
// one bridge, the addresses of the guide's Example 2-1.
var topology = netlab.Topology{
	Bridges: []string{"lan"},
	Nodes: []netlab.NodeSpec{
		{Name: "host", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.100/24"}}}},
		{Name: "r1", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.2/24"}}}},
		{Name: "r2", Interfaces: []netlab.Interface{{Name: "eth0", Bridge: "lan", Addrs: []string{"172.16.0.3/24"}}}},
	},
}

// timing is one VRRP version and advert interval under test.
type timing struct {
	Name     string
	Version  int
	Interval time.Duration
	// VMAC is RFC 3768 mode: the VIPs on a macvlan with the virtual MAC
	// (vrrpd's rfc3768-compatibility, keepalived's use_vmac).
	VMAC bool
}

// withVMAC is t in RFC 3768 mode.
func (t timing) withVMAC() timing {
	t.Name += ", vMAC"
	t.VMAC = true
	return t
}

var timings = []timing{
	{Name: "v2, 1 s", Version: 2, Interval: time.Second},
	{Name: "v3, 100 ms", Version: 3, Interval: 100 * time.Millisecond},
	{Name: "v3, 10 ms", Version: 3, Interval: 10 * time.Millisecond},
}

// SkewTime of the backup: (256-p)/256 s in v2, (256-p)/256 intervals in v3
// (RFC 3768 and 5798 §6.1).
func (t timing) SkewTime() time.Duration {
	unit := time.Second
	if t.Version == 3 {
		unit = t.Interval
	}
	return time.Duration(256-backupPriority) * unit / 256
}

// MasterDown is the backup's Master_Down_Interval: 3 intervals + skew.
func (t timing) MasterDown() time.Duration { return 3*t.Interval + t.SkewTime() }

// seconds renders the interval as both daemons' configs write it: "1", "0.1".
func (t timing) seconds() string {
	return strconv.FormatFloat(t.Interval.Seconds(), 'f', -1, 64)
}

// group is one VRRP group a router runs.
type group struct {
	VRID int
	VIP  string // without prefix length
}

func singleGroup() []group { return []group{{VRID: vrid, VIP: vip}} }

// manyGroups are n groups with VIPs outside the routers' subnet's hosts.
func manyGroups(n int) []group {
	gs := make([]group, n)
	for i := range gs {
		gs[i] = group{VRID: i + 1, VIP: fmt.Sprintf("172.16.1.%d", i+1)}
	}
	return gs
}

// implementation is a VRRP daemon under test: vrrpd or keepalived.
type implementation struct {
	Name string
	bin  string // the program
	// start runs the daemon in node with a config for the groups, its files
	// in dir.
	start func(ctx context.Context, node *netlab.Node, dir string, t timing, priority int, groups []group) (*netlab.Process, error)
}

// rtPriority is the SCHED_RR priority of the real-time variants in the
// stability benchmark: keepalived's `vrrp_rt_priority`, vrrpd's
// `run --realtime-priority`.
const rtPriority = 50

// vrrpdImpl runs bin; realTime with `run --realtime-priority`.
func vrrpdImpl(bin string, realTime bool) implementation {
	name := "vrrpd"
	if realTime {
		name = fmt.Sprintf("vrrpd --realtime-priority %d", rtPriority)
	}
	return implementation{Name: name, bin: bin, start: func(ctx context.Context, node *netlab.Node, dir string, t timing, priority int, groups []group) (*netlab.Process, error) {
		conf := filepath.Join(dir, "vrrpd.conf")
		if err := os.WriteFile(conf, []byte(vrrpdConfig(t, priority, groups)), 0o644); err != nil {
			return nil, err
		}
		args := []string{"--config", conf, "--run-dir", filepath.Join(dir, "run"),
			"--scripts-dir", dir, "--log-level", "info", "run"}
		if realTime {
			args = append(args, "--realtime-priority", strconv.Itoa(rtPriority))
		}
		return node.Start(ctx, bin, args...)
	}}
}

// vrrpdConfig is the guide's syntax in legacy mode (no vMAC, VR-Q01).
func vrrpdConfig(t timing, priority int, groups []group) string {
	var b strings.Builder
	b.WriteString("interfaces {\n\tethernet eth0 {\n\t\tvrrp {\n")
	for _, g := range groups {
		fmt.Fprintf(&b, "\t\t\tvrrp-group %d {\n\t\t\t\tversion %d\n\t\t\t\tadvertise-interval %s\n\t\t\t\tpreempt true\n"+
			"\t\t\t\tpriority %d\n\t\t\t\tvirtual-address %s/%d\n",
			g.VRID, t.Version, t.seconds(), priority, g.VIP, lanBits)
		if t.VMAC {
			b.WriteString("\t\t\t\trfc3768-compatibility\n")
		}
		b.WriteString("\t\t\t}\n")
	}
	b.WriteString("\t\t}\n\t}\n}\n")
	return b.String()
}

// keepalivedImpl runs Debian's keepalived; realTime sets its
// vrrp_rt_priority.
func keepalivedImpl(realTime bool) implementation {
	name := "keepalived"
	if realTime {
		name = fmt.Sprintf("keepalived, vrrp_rt_priority %d", rtPriority)
	}
	return implementation{Name: name, bin: keepalivedPath, start: func(ctx context.Context, node *netlab.Node, dir string, t timing, priority int, groups []group) (*netlab.Process, error) {
		conf := filepath.Join(dir, "keepalived.conf")
		text := keepalivedConfig(node.Name(), t, priority, groups, realTime)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return nil, err
		}
		// Distinct pid files per node, the VRRP subsystem only, no respawn: a
		// SIGKILLed keepalived must stay dead (FIELD-NOTES).
		return node.Start(ctx, keepalivedPath, "-n", "-l", "-D", "-G", "-P", "-R", "-f", conf,
			"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"),
			"-c", filepath.Join(dir, "checkers.pid"))
	}}
}

func keepalivedConfig(router string, t timing, priority int, groups []group, realTime bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id %s\n", router)
	if realTime {
		fmt.Fprintf(&b, "    vrrp_rt_priority %d\n", rtPriority)
	}
	b.WriteString("}\n")
	for _, g := range groups {
		fmt.Fprintf(&b, "vrrp_instance VI_%d {\n    state BACKUP\n    interface eth0\n    virtual_router_id %d\n"+
			"    version %d\n    priority %d\n    advert_int %s\n    virtual_ipaddress {\n        %s/%d\n    }\n",
			g.VRID, g.VRID, t.Version, priority, t.seconds(), g.VIP, lanBits)
		if t.VMAC {
			b.WriteString("    use_vmac\n")
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// trialLog keeps a lab's log lines (daemon output) to show when a trial
// fails, instead of printing them all: benchmark logs are always printed.
type trialLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *trialLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

// tail is the last n lines, for an error message.
func (l *trialLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
}

// newLab builds the topology under a fresh random prefix; the caller
// closes it.
func newLab(ctx context.Context, log *trialLog) (*netlab.Lab, error) {
	return netlab.Build(ctx, "", topology, netlab.Options{Logf: log.logf})
}

// hasAddress reports whether node holds addr on any interface: eth0 in
// legacy mode, the daemon's macvlan in RFC 3768 mode.
func hasAddress(node *netlab.Node, addr string) (bool, error) {
	n, err := countAddresses(node, []string{addr})
	return n == 1, err
}

// countAddresses counts how many of addrs node holds.
func countAddresses(node *netlab.Node, addrs []string) (int, error) {
	held, err := node.Netlink().AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return 0, err
	}
	count := 0
	for _, a := range held {
		if slices.Contains(addrs, a.IP.String()) {
			count++
		}
	}
	return count, nil
}

// killTree SIGKILLs the daemon and its children, as a crash of the daemon
// (not of the node) would: its VIPs stay in the kernel.
// Children go first: keepalived's VRRP child has SIGTERM as its parent-death
// signal and, outliving its parent by a moment, would resign cleanly.
func killTree(p *netlab.Process) error {
	var errs []error
	for _, pid := range slices.Backward(netlab.ProcessTree(p.Pid())) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, p.Kill())
	select {
	case <-p.Done():
	case <-time.After(patience):
		errs = append(errs, fmt.Errorf("pid %d still running %v after SIGKILL", p.Pid(), patience))
	}
	return errors.Join(errs...)
}
