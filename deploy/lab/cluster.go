package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hasuite/hasuite/pkg/netlab"
	clusterv1 "github.com/hasuite/hasuite/proto/hasuite/cluster/v1"
)

// The guide's Example 3-4 adapted to the lab (each change is commented in
// the file) and the resource.d script that stands in for its `ipsec`;
// embedded so that `lab up` works from any directory.
//
//go:embed clusterd/clusterd.conf clusterd/resource.d/lablog
var clusterFiles embed.FS

// The cluster IPs of clusterd/clusterd.conf: one on the LAN (the LAN host
// reaches it on its 10.6.0.0/24 subnet) and one upstream (ISP1 reaches it).
const (
	clusterLANIP      = "10.6.0.100"
	clusterUpstreamIP = "12.34.56.78"
)

// clusterPorts are R1's bridge ports that carry a cluster IP: a killed
// clusterd leaves its addresses there, so the failover demo cuts them, as a
// crashed router would fall silent. eth1, the sync link, stays: the
// restarted clusterd hears R2 on it before the LAN comes back.
var clusterPorts = []string{"eth0", routerLANPort}

// clusterNodeName is the cluster's name for a lab router: R1 or R2, the
// guide's primary and secondary.
func clusterNodeName(node string) string { return strings.ToUpper(node) }

// clusterLab is clusterd running on the lab's routers. Each router's files
// sit in its run directory beside vrrpd's: clusterd.conf, clusterd.sock,
// clusterd.log, resource.d/lablog and the script's lablog.log, and the
// state directory clusterd-state/ (node id, ledger of the addresses added).
type clusterLab struct {
	lab     *netlab.Lab
	bin     string
	runRoot string
}

func (c clusterLab) runDir(node string) string  { return filepath.Join(c.runRoot, node) }
func (c clusterLab) logFile(node string) string { return filepath.Join(c.runDir(node), "clusterd.log") }

// globals are the flags of every clusterd command for a router's daemon.
func (c clusterLab) globals(node string) []string {
	dir := c.runDir(node)
	return []string{"--config", filepath.Join(dir, "clusterd.conf"), "--run-dir", dir,
		"--state-dir", filepath.Join(dir, "clusterd-state"), "--resource-dir", filepath.Join(dir, "resource.d"),
		"--init-dir", filepath.Join(dir, "init.d"), "--scripts-dir", dir, "--node-name", clusterNodeName(node)}
}

// install writes each router's configuration and resource script.
func (c clusterLab) install() error {
	conf, err := clusterFiles.ReadFile("clusterd/clusterd.conf")
	if err != nil {
		return err
	}
	script, err := clusterFiles.ReadFile("clusterd/resource.d/lablog")
	if err != nil {
		return err
	}
	for _, node := range routers {
		dir := c.runDir(node)
		for _, d := range []string{"clusterd-state", "resource.d", "init.d"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "clusterd.conf"), conf, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "resource.d", "lablog"), script, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// startNode starts a router's clusterd, detached so that it outlives this
// program; after a kill it finds what the killed run left in its state
// directory.
func (c clusterLab) startNode(node string) error {
	_, err := c.lab.Node(node).StartDetached(netlab.DetachOptions{Name: "clusterd", LogFile: c.logFile(node)},
		c.bin, append(c.globals(node), "run")...)
	if err != nil {
		return fmt.Errorf("start clusterd on %s: %w", node, err)
	}
	return nil
}

// daemon finds a router's detached clusterd, running or not.
func (c clusterLab) daemon(node string) (*netlab.Detached, error) {
	found, err := netlab.FindDetached(c.lab.Prefix())
	if err != nil {
		return nil, err
	}
	for _, d := range found {
		if d.Node == node && d.Name == "clusterd" {
			return d, nil
		}
	}
	return nil, fmt.Errorf("no clusterd was started on %s: make lab-cluster starts it", node)
}

// ctl runs the clusterd CLI against a router's daemon; the socket needs no
// namespace.
func (c clusterLab) ctl(ctx context.Context, node string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append(c.globals(node), args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%s: clusterd %s: %w: %s", node, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
		if d, derr := c.daemon(node); derr == nil && !d.Running() {
			err = fmt.Errorf("%w\nclusterd on %s is not running; the end of %s:\n%s", err, node, c.logFile(node), tail(c.logFile(node), 5))
		}
		return "", err
	}
	return string(out), nil
}

// status is a router's `show cluster status --json`.
func (c clusterLab) status(ctx context.Context, node string) (*clusterv1.Status, error) {
	out, err := c.ctl(ctx, node, "show", "cluster", "status", "--json")
	if err != nil {
		return nil, err
	}
	var resp clusterv1.ShowStatusResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("%s: parse show cluster status --json: %w", node, err)
	}
	return resp.Status, nil
}

// self is the router's own line of its status.
func self(s *clusterv1.Status) *clusterv1.Node {
	if s.GetPrimary().GetThisNode() {
		return s.GetPrimary()
	}
	return s.GetSecondary()
}

// roleOf sums a router's view up: its own state and where it says the
// resources are ("ACTIVE, resources ACTIVE here").
func roleOf(s *clusterv1.Status) string {
	res := s.GetResources()
	where := "on " + res.GetHolder()
	if res.GetHolderIsThisNode() {
		where = "here"
	}
	return fmt.Sprintf("%s, resources %s %s", strings.TrimPrefix(self(s).GetState().String(), "NODE_STATE_"),
		strings.TrimPrefix(res.GetState().String(), "RESOURCE_STATE_"), where)
}

// holdsResources says whether the router says it is ACTIVE with the
// resources running on it.
func holdsResources(s *clusterv1.Status) bool {
	return self(s).GetState() == clusterv1.NodeState_NODE_STATE_ACTIVE &&
		s.GetResources().GetState() == clusterv1.ResourceState_RESOURCE_STATE_ACTIVE && s.GetResources().GetHolderIsThisNode()
}

// standsBy says whether the router says it is healthy and the peer holds
// the resources.
func standsBy(s *clusterv1.Status) bool {
	return self(s).GetState() == clusterv1.NodeState_NODE_STATE_ACTIVE_STANDBY &&
		s.GetResources().GetState() == clusterv1.ResourceState_RESOURCE_STATE_ACTIVE && !s.GetResources().GetHolderIsThisNode()
}

// kernelHolds says whether the router's kernel carries addr, whatever put
// it there: a killed clusterd's leftovers count, for they answer ARP.
func (c clusterLab) kernelHolds(node, addr string) (bool, error) {
	h := c.lab.Node(node).Netlink()
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return false, fmt.Errorf("%s: list addresses: %w", node, err)
	}
	for _, a := range addrs {
		if a.IP.String() == addr {
			return true, nil
		}
	}
	return false, nil
}

// waitHolder waits until holder says it holds the resources, its kernel
// alone carries both cluster IPs, and the other router (when running and
// standby is set) stands by.
func (c clusterLab) waitHolder(ctx context.Context, holder string, peerStandsBy bool) (string, error) {
	var last string
	err := netlab.Poll(ctx, electionTimeout, func() (bool, string) {
		ok, views := c.holding(ctx, holder, peerStandsBy)
		last = views
		return ok, views
	})
	return last, err
}

// holding is waitHolder's condition.
func (c clusterLab) holding(ctx context.Context, holder string, peerStandsBy bool) (bool, string) {
	var views []string
	ok := true
	for _, node := range routers {
		if node != holder && !peerStandsBy {
			continue
		}
		s, err := c.status(ctx, node)
		if err != nil {
			return false, err.Error()
		}
		views = append(views, fmt.Sprintf("%s %s", clusterNodeName(node), roleOf(s)))
		if node == holder && !holdsResources(s) || node != holder && !standsBy(s) {
			ok = false
		}
	}
	for _, node := range routers {
		for _, ip := range []string{clusterLANIP, clusterUpstreamIP} {
			held, err := c.kernelHolds(node, ip)
			if err != nil {
				return false, err.Error()
			}
			if node == holder && !held || node != holder && peerStandsBy && held {
				ok = false
				views = append(views, fmt.Sprintf("%s on %s: %t", ip, node, held))
			}
		}
	}
	return ok, strings.Join(views, "; ")
}

// keepsHolding checks for d that holder keeps the resources and the peer
// stands by: how the demo shows that no failback happens.
func (c clusterLab) keepsHolding(ctx context.Context, holder string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok, views := c.holding(ctx, holder, true); !ok {
			return fmt.Errorf("after %v: %s", d-time.Until(deadline).Round(time.Millisecond), views)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// showAll prints `show cluster status` of every router, as an operator
// would run it.
func (c clusterLab) showAll(ctx context.Context, out io.Writer) {
	for _, node := range routers {
		if d, err := c.daemon(node); err == nil && !d.Running() {
			fmt.Fprintf(out, "\n(%s's clusterd is not running)\n", clusterNodeName(node))
			continue
		}
		fmt.Fprintf(out, "\n$ clusterd --run-dir %s show cluster status\n", c.runDir(node))
		text, err := c.ctl(ctx, node, "show", "cluster", "status")
		if err != nil {
			fmt.Fprintf(out, "%v\n", err)
			continue
		}
		fmt.Fprint(out, text)
	}
}

// startCluster starts clusterd on both routers, waits for R1, the
// primary, to hold the resources and R2 to stand by, and checks that the
// cluster IPs answer.
func startCluster(ctx context.Context, c clusterLab, out io.Writer) error {
	fmt.Fprintf(out, "\nstarting clusterd on R1 and R2 with the guide's Example 3-4, adapted (deploy/lab/clusterd/clusterd.conf)...\n")
	if err := c.install(); err != nil {
		return err
	}
	for _, node := range routers {
		if err := c.startNode(node); err != nil {
			return err
		}
	}
	views, err := c.waitHolder(ctx, "r1", true)
	if err != nil {
		return fmt.Errorf("R1 does not hold the resources with R2 standing by: %w", err)
	}
	fmt.Fprintf(out, "ok  cluster1: %s\n", views)
	return c.reachable(ctx, out, "R1")
}

// reachable checks that the LAN host reaches the LAN cluster IP and ISP1
// the upstream one.
func (c clusterLab) reachable(ctx context.Context, out io.Writer, holder string) error {
	for _, check := range []struct{ from, to, what string }{
		{"lan", clusterLANIP, "LAN -> the cluster IP on eth2"},
		{"isp1", clusterUpstreamIP, "ISP1 -> the cluster IP on eth0"},
	} {
		err := netlab.Poll(ctx, smokeTimeout, func() (bool, string) {
			err := c.lab.Node(check.from).Ping(ctx, check.to)
			return err == nil, fmt.Sprint(err)
		})
		if err != nil {
			return fmt.Errorf("%s: %w", check.what, err)
		}
		fmt.Fprintf(out, "ok  ping %-13s %s (%s answers)\n", check.to, check.what, holder)
	}
	return nil
}

// clusterReport is what one failover and failback measured.
type clusterReport struct {
	how                    string
	takeover, failback     time.Duration // from the signal to R2 holding the IPs, from R1's return to R1 holding them
	duringTakeover, during netlab.PingStats
}

func (r clusterReport) String() string {
	return fmt.Sprintf("%s: takeover %v (LAN pings %v), failback %v (LAN pings %v)", r.how,
		r.takeover.Round(10*time.Millisecond), r.duringTakeover, r.failback.Round(10*time.Millisecond), r.during)
}

// noFailbackHold is how long the demo watches R2 keep the resources with
// auto-failback false: several dead-intervals, time for a wrong failback
// to show.
const noFailbackHold = 3 * time.Second

// failoverModes are the ways cluster-failover takes R1's clusterd down.
var failoverModes = []string{"kill", "term"}

// failover takes R1's clusterd down (kill: SIGKILL and R1's eth0 and LAN
// ports cut, a crashed router; term: SIGTERM, a clean stop that hands
// over at once), shows R2 take the resources with the LAN host still
// reaching the cluster IP, then brings R1 back and shows the failback
// auto-failback true makes. The ports go back in whatever happens.
func (c clusterLab) failover(ctx context.Context, out io.Writer, mode string) (rep clusterReport, err error) {
	lan, r1 := c.lab.Node("lan"), c.lab.Node("r1")
	d, err := c.daemon("r1")
	if err != nil {
		return rep, err
	}
	if _, err := c.waitHolder(ctx, "r1", true); err != nil {
		return rep, fmt.Errorf("before the failover, R1 does not hold the resources with R2 standing by: %w", err)
	}
	fmt.Fprintf(out, "\n===== cluster failover (%s) =====\nBefore: R1 holds the resources, R2 stands by.\n", mode)
	c.showAll(ctx, out)

	pinger, err := lan.StartPinger(clusterLANIP, 100*time.Millisecond)
	if err != nil {
		return rep, err
	}
	defer pinger.Stop()

	var start time.Time
	switch mode {
	case "kill":
		rep.how = "SIGKILL and R1's eth0 and eth2 cut"
		fmt.Fprintf(out, "\n--- R1 crashes: kill -KILL %d (R1's clusterd), then cut R1's eth0 and eth2 ports (%s) ---\n", d.PID, c.lab.SwitchNamespace())
		start = time.Now()
		if err := d.Signal(syscall.SIGKILL); err != nil {
			return rep, err
		}
		if err := netlab.Poll(ctx, stopTimeout, func() (bool, string) { return !d.Running(), "still running" }); err != nil {
			return rep, fmt.Errorf("R1's clusterd survives SIGKILL: %w", err)
		}
		// A killed clusterd leaves its cluster IPs up: without the cut,
		// both routers would answer for them.
		for _, port := range clusterPorts {
			if err := r1.CutPort(port); err != nil {
				return rep, err
			}
		}
		defer func() {
			for _, port := range clusterPorts {
				if restoreErr := r1.RestorePort(port); restoreErr != nil {
					err = errors.Join(err, restoreErr)
				}
			}
		}()
	case "term":
		rep.how = "SIGTERM"
		fmt.Fprintf(out, "\n--- R1's clusterd stops cleanly: kill -TERM %d (it releases the resources and tells R2) ---\n", d.PID)
		start = time.Now()
		if err := d.Stop(stopTimeout); err != nil {
			return rep, err
		}
	default:
		return rep, fmt.Errorf("failover mode %q: want one of %s", mode, strings.Join(failoverModes, ", "))
	}
	views, err := c.waitHolder(ctx, "r2", false)
	if err != nil {
		return rep, fmt.Errorf("R2 did not take the resources over: %w", err)
	}
	rep.takeover = time.Since(start)
	fmt.Fprintf(out, "R2 TOOK OVER after %v: %s\n", rep.takeover.Round(10*time.Millisecond), views)
	c.showAll(ctx, out)
	if err := c.reachable(ctx, out, "R2"); err != nil {
		return rep, fmt.Errorf("after the takeover: %w", err)
	}
	// Let the pinger see R2 answer for a while, so that the gap it
	// reports is the takeover's.
	seen := pinger.Stats().Received
	_ = netlab.Poll(ctx, electionTimeout, func() (bool, string) { return pinger.Stats().Received >= seen+10, "" })
	rep.duringTakeover = pinger.Stop()
	fmt.Fprintf(out, "ok  LAN host pinging %s every 100ms through the takeover: %v\n", clusterLANIP, rep.duringTakeover)

	if mode == "kill" {
		held, err := c.kernelHolds("r1", clusterLANIP)
		if err != nil {
			return rep, err
		}
		fmt.Fprintf(out, "\n--- R1 restarts clusterd, its LAN still cut (the killed run left %s on R1: %t) ---\n", clusterLANIP, held)
		if err := c.startNode("r1"); err != nil {
			return rep, err
		}
		// The ledger in the state directory tells the new run what the
		// killed one added; it removes it before the LAN comes back.
		err = netlab.Poll(ctx, electionTimeout, func() (bool, string) {
			held, err := c.kernelHolds("r1", clusterLANIP)
			return err == nil && !held, fmt.Sprintf("%s still on R1 (%v)", clusterLANIP, err)
		})
		if err != nil {
			return rep, fmt.Errorf("the restarted clusterd did not remove the killed one's leftovers: %w", err)
		}
		// Without the LAN R1 reaches no monitor: it must not take the
		// resources back (CL-B11) whatever auto-failback says.
		var last string
		err = netlab.Poll(ctx, electionTimeout, func() (bool, string) {
			s, err := c.status(ctx, "r1")
			if err != nil {
				return false, err.Error()
			}
			last = roleOf(s)
			return self(s).GetState() == clusterv1.NodeState_NODE_STATE_DOWN_MONITOR && !s.GetResources().GetHolderIsThisNode(), last
		})
		if err != nil {
			return rep, fmt.Errorf("the restarted R1 without its LAN should be down for its monitors, R2 holding the resources: %w", err)
		}
		fmt.Fprintf(out, "ok  R1's new clusterd removed the addresses the killed one left; R1 %s (no monitor reachable)\n", last)
		c.showAll(ctx, out)
		pinger, err = lan.StartPinger(clusterLANIP, 100*time.Millisecond)
		if err != nil {
			return rep, err
		}
		defer pinger.Stop()
		fmt.Fprintf(out, "\n--- R1's eth0 and eth2 back: R1 reaches its monitors again ---\n")
		start = time.Now()
		for _, port := range clusterPorts {
			if err := r1.RestorePort(port); err != nil {
				return rep, err
			}
		}
	} else {
		pinger, err = lan.StartPinger(clusterLANIP, 100*time.Millisecond)
		if err != nil {
			return rep, err
		}
		defer pinger.Stop()
		fmt.Fprintf(out, "\n--- R1 starts clusterd again ---\n")
		start = time.Now()
		if err := c.startNode("r1"); err != nil {
			return rep, err
		}
	}
	revertive, err := c.autoFailback()
	if err != nil {
		return rep, err
	}
	if !revertive {
		// Non-revertive (the guide's default): R2 keeps the resources
		// until an operator moves them (CL-B19).
		views, err = c.waitHolder(ctx, "r2", true)
		if err == nil {
			err = c.keepsHolding(ctx, "r2", noFailbackHold)
		}
		if err != nil {
			return rep, fmt.Errorf("R2 should keep the resources and R1 stand by (auto-failback false): %w", err)
		}
		fmt.Fprintf(out, "NO AUTOMATIC FAILBACK (auto-failback false): R2 kept the resources for %v: %s\n", noFailbackHold, views)
		c.showAll(ctx, out)
		fmt.Fprintf(out, "\n--- failback by hand: $ clusterd --run-dir %s takeover ---\n", c.runDir("r1"))
		start = time.Now()
		if _, err := c.ctl(ctx, "r1", "takeover"); err != nil {
			return rep, err
		}
	}
	views, err = c.waitHolder(ctx, "r1", true)
	if err != nil {
		return rep, fmt.Errorf("R1 did not take the resources back (auto-failback %t): %w", revertive, err)
	}
	rep.failback = time.Since(start)
	how := "FAILBACK (auto-failback true)"
	if !revertive {
		how = "FAILBACK by clusterd takeover"
	}
	fmt.Fprintf(out, "%s: R1 took the resources back after %v: %s\n", how, rep.failback.Round(10*time.Millisecond), views)
	c.showAll(ctx, out)
	if err := c.reachable(ctx, out, "R1"); err != nil {
		return rep, fmt.Errorf("after the failback: %w", err)
	}
	seen = pinger.Stats().Received
	_ = netlab.Poll(ctx, electionTimeout, func() (bool, string) { return pinger.Stats().Received >= seen+10, "" })
	rep.during = pinger.Stop()
	fmt.Fprintf(out, "ok  LAN host pinging %s every 100ms through the failback: %v\n", clusterLANIP, rep.during)
	c.showScriptLogs(out)
	return rep, nil
}

// autoFailbackRE finds `auto-failback true` in a configuration whose
// comments are removed.
var (
	autoFailbackRE  = regexp.MustCompile(`\bauto-failback\s+true\b`)
	configCommentRE = regexp.MustCompile(`(?s)/\*.*?\*/`)
)

// autoFailback reads R1's configuration, as the operator may have edited
// it: whether R1 takes the resources back by itself.
func (c clusterLab) autoFailback() (bool, error) {
	conf, err := os.ReadFile(filepath.Join(c.runDir("r1"), "clusterd.conf"))
	if err != nil {
		return false, err
	}
	return autoFailbackRE.Match(configCommentRE.ReplaceAll(conf, nil)), nil
}

// showScriptLogs prints the last calls of each router's resource script,
// the stand-in for the guide's ipsec: the order of starts and stops.
func (c clusterLab) showScriptLogs(out io.Writer) {
	for _, node := range routers {
		path := filepath.Join(c.runDir(node), "lablog.log")
		fmt.Fprintf(out, "\n$ tail -4 %s   (status checks left out)\n", path)
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(out, err)
			continue
		}
		var calls []string
		for line := range strings.Lines(string(data)) {
			if !strings.Contains(line, " status ") {
				calls = append(calls, line)
			}
		}
		fmt.Fprint(out, strings.Join(calls[max(0, len(calls)-4):], ""))
	}
}

// clusterStatus shows `show cluster status` of every router whose
// clusterd runs, for `lab status`.
func clusterStatus(ctx context.Context, lab *netlab.Lab, out io.Writer) error {
	bin, err := daemonBinary("clusterd")
	if err != nil {
		return err
	}
	c := clusterLab{lab: lab, bin: bin, runRoot: runRoot}
	var views []string
	for _, node := range routers {
		s, err := c.status(ctx, node)
		if err != nil {
			views = append(views, fmt.Sprintf("%s: %v", clusterNodeName(node), err))
			continue
		}
		views = append(views, clusterNodeName(node)+" "+roleOf(s))
	}
	fmt.Fprintf(out, "cluster1: %s\n", strings.Join(views, "; "))
	c.showAll(ctx, out)
	return nil
}
