//go:build e2e

package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/hasuite/hasuite/pkg/netlab"
)

const (
	clusterIP = "10.6.0.100"
	clientIP  = "10.6.0.50"
	// monitorIP is the monitor host on the LAN, upstreamIP the one on the
	// routers' upstream link, as in clusterd/e2e.
	monitorIP  = "10.6.0.55"
	upstreamIP = "10.1.0.1"
	// keepalive and dead are the guide's stateful-failover example
	// (Example 4-4): what issue 4's aim is stated for.
	keepalive = 500 * time.Millisecond
	dead      = 2000 * time.Millisecond
	// patience bounds every wait for a daemon or the lab.
	patience = 30 * time.Second
	// pingInterval is how often the client pings the cluster IP.
	pingInterval = 5 * time.Millisecond
	secret       = "bench-secret-0123456789"
)

// topology is clusterd/e2e's: the client, the LAN monitor host and eth0
// of both routers on the LAN of the cluster IP, eth1 of both routers on a
// second heartbeat link, eth2 of both routers and the upstream monitor
// host on an upstream link that carries no heartbeats.
var topology = func() netlab.Topology {
	host := func(name, bridge, addr string) netlab.NodeSpec {
		return netlab.NodeSpec{Name: name, Interfaces: []netlab.Interface{{Name: "eth0", Bridge: bridge, Addrs: []string{addr + "/24"}}}}
	}
	router := func(name string, n int) netlab.NodeSpec {
		return netlab.NodeSpec{Name: name, Interfaces: []netlab.Interface{
			{Name: "eth0", Bridge: "lan", Addrs: []string{fmt.Sprintf("10.6.0.%d/24", n)}},
			{Name: "eth1", Bridge: "hb", Addrs: []string{fmt.Sprintf("10.7.0.%d/24", n)}},
			{Name: "eth2", Bridge: "up", Addrs: []string{fmt.Sprintf("10.1.0.%d/24", 10+n)}},
		}}
	}
	return netlab.Topology{
		Bridges: []string{"lan", "hb", "up"},
		Nodes: []netlab.NodeSpec{host("client", "lan", clientIP), host("monitor", "lan", monitorIP),
			host("upstream", "up", upstreamIP), router("r1", 1), router("r2", 2)},
	}
}()

// r1Addrs are R1's own addresses: its heartbeats come from them.
var r1Addrs = []string{"10.6.0.1", "10.7.0.1"}

// clusterConfig is Example 4-4 adapted to the lab: one group, the cluster
// IP on the LAN, both links for heartbeats, both monitor hosts, keepalive
// 500 ms, dead 2000 ms.
// init-dead-interval is short because both nodes start together.
func clusterConfig() string {
	return fmt.Sprintf(`cluster {
    dead-interval %d
    group cluster1 {
        auto-failback false
        monitor %s
        monitor %s
        primary R1
        secondary R2
        service %s/24/eth0
    }
    init-dead-interval 2000
    interface eth0
    interface eth1
    keepalive-interval %d
    monitor-dead-interval 2000
    pre-shared-secret %q
}
`, dead.Milliseconds(), monitorIP, upstreamIP, clusterIP, keepalive.Milliseconds(), secret)
}

// startClusterd runs clusterd in node as name (R1, R2), its files in dir.
func startClusterd(ctx context.Context, bin string, node *netlab.Node, name, dir string) (*netlab.Process, error) {
	for _, d := range []string{"run", "state", "resource.d", "init.d"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(dir, "clusterd.conf")
	if err := os.WriteFile(conf, []byte(clusterConfig()), 0o644); err != nil {
		return nil, err
	}
	return node.Start(ctx, bin, "--config", conf, "--run-dir", filepath.Join(dir, "run"),
		"--state-dir", filepath.Join(dir, "state"), "--resource-dir", filepath.Join(dir, "resource.d"),
		"--init-dir", filepath.Join(dir, "init.d"), "--scripts-dir", dir, "--node-name", name,
		"--log-level", "info", "run")
}

// pair starts clusterd on r1 and r2 and waits until R1 alone holds the
// cluster IP and the client reaches it. R2 standing by is what the
// heartbeats and R2's empty address list say; the bench does not ask the
// daemon (its CLI would add load to the figures).
func pair(ctx context.Context, lab *netlab.Lab, bin, dir string) (r1p, r2p *netlab.Process, err error) {
	procs := map[string]*netlab.Process{}
	for _, r := range []struct{ node, name string }{{"r1", "R1"}, {"r2", "R2"}} {
		p, err := startClusterd(ctx, bin, lab.Node(r.node), r.name, filepath.Join(dir, r.node))
		if err != nil {
			return nil, nil, err
		}
		procs[r.node] = p
	}
	r1, r2, client := lab.Node("r1"), lab.Node("r2"), lab.Node("client")
	err = netlab.Poll(ctx, patience, func() (bool, string) {
		for name, p := range procs {
			if p.Exited() {
				return false, name + "'s clusterd exited"
			}
		}
		on1, err1 := hasAddress(r1, clusterIP)
		on2, err2 := hasAddress(r2, clusterIP)
		if err := errors.Join(err1, err2); err != nil {
			return false, err.Error()
		}
		if !on1 || on2 {
			return false, fmt.Sprintf("cluster IP on r1 %v, on r2 %v", on1, on2)
		}
		if err := client.Ping(ctx, clusterIP); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	if err != nil {
		return nil, nil, fmt.Errorf("R1 never became the only holder of %s: %w", clusterIP, err)
	}
	return procs["r1"], procs["r2"], nil
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

// hasAddress reports whether node holds addr on any interface.
func hasAddress(node *netlab.Node, addr string) (bool, error) {
	held, err := node.Netlink().AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(held, func(a netlink.Addr) bool { return a.IP.String() == addr }), nil
}
