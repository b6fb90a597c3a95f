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
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hasuite/hasuite/pkg/netlab"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// The guide's chapter 2 configurations, adapted to the lab's interface
// names (see each file's comment); embedded so that `lab up` works from any
// directory.
//
//go:embed vrrpd/*.conf
var vrrpConfigs embed.FS

// runRoot holds one directory per router: its vrrpd's configuration,
// socket and log, so `bin/vrrpd --run-dir /run/hasuite-lab/r1 show vrrp`
// talks to R1's daemon from outside the namespace.
const runRoot = "/run/hasuite-lab"

// routers run vrrpd, in this order.
var routers = []string{"r1", "r2"}

// vrrpScenario is a pair of the guide's configurations, R1's and R2's.
type vrrpScenario struct {
	name     string // the --vrrp value
	examples string // for humans
	configs  map[string]string
	lanVIP   string // the VIP on the LAN, the LAN host's gateway
}

var scenarios = []vrrpScenario{
	{
		name:     "2-3",
		examples: "Examples 2-3/2-4 (groups 99 on eth2 and 101 on eth1, sync group ALPHA)",
		configs:  map[string]string{"r1": "vrrpd/example-2-3-r1.conf", "r2": "vrrpd/example-2-4-r2.conf"},
	},
	{
		name:     "2-1",
		examples: "Examples 2-1/2-2 (group 99 on eth2)",
		configs:  map[string]string{"r1": "vrrpd/example-2-1-r1.conf", "r2": "vrrpd/example-2-2-r2.conf"},
	},
	{
		name:     "4-6",
		examples: "Examples 4-6/4-7 (groups 1 on eth0 and 2 on eth2, sync group TESTING)",
		configs:  map[string]string{"r1": "vrrpd/example-4-6-r1.conf", "r2": "vrrpd/example-4-7-r2.conf"},
		lanVIP:   ctsyncInsideVIP,
	},
}

func scenarioNamed(name string) (vrrpScenario, error) {
	var names []string
	for _, s := range scenarios {
		if s.name == name {
			return s, nil
		}
		names = append(names, s.name)
	}
	return vrrpScenario{}, fmt.Errorf("--vrrp %q: want one of %s, or none", name, strings.Join(names, ", "))
}

// The VIP of group 99 on the LAN, the LAN host's gateway once vrrpd runs
// with chapter 2's examples.
const (
	lanVIP        = "172.16.0.24"
	routerLANPort = "eth2"
)

// Bounds on waits that only matter when something is broken: an election
// takes about three advert intervals (3 s).
const (
	electionTimeout = 30 * time.Second
	stopTimeout     = 15 * time.Second // vrrpd resigns within 10 s of SIGTERM
	commandTimeout  = 10 * time.Second
)

// vrrpdBinary finds the vrrpd to run.
func vrrpdBinary() (string, error) { return daemonBinary("vrrpd") }

// daemonBinary finds a daemon to run: $HASUITE_BIN/<name> (make lab sets
// it), else bin/<name> under the current directory.
func daemonBinary(name string) (string, error) {
	dir := os.Getenv("HASUITE_BIN")
	if dir == "" {
		dir = "bin"
	}
	path, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("no %s binary: %w (build it with make build, or point HASUITE_BIN at its directory)", name, err)
	}
	return path, nil
}

// vrrpLab is vrrpd running on the lab's routers.
type vrrpLab struct {
	lab     *netlab.Lab
	bin     string
	runRoot string
	lanVIP  string // the scenario's VIP on the LAN; empty: chapter 2's lanVIP
}

// gateway is the VIP on the LAN that the LAN host routes through.
func (v vrrpLab) gateway() string {
	if v.lanVIP != "" {
		return v.lanVIP
	}
	return lanVIP
}

// gateway is the scenario's VIP on the LAN.
func (s vrrpScenario) gateway() string { return vrrpLab{lanVIP: s.lanVIP}.gateway() }

// scenarioFile records which scenario up started, for failover to find
// its VIP.
const scenarioFile = "vrrp-scenario"

func (v vrrpLab) runDir(node string) string { return filepath.Join(v.runRoot, node) }

// start writes each router's configuration into its run directory and
// starts its vrrpd, detached so that it outlives this program.
func (v vrrpLab) start(s vrrpScenario) error {
	if err := os.MkdirAll(v.runRoot, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(v.runRoot, scenarioFile), []byte(s.name+"\n"), 0o644); err != nil {
		return err
	}
	for _, node := range routers {
		dir := v.runDir(node)
		if err := os.MkdirAll(filepath.Join(dir, "state"), 0o755); err != nil {
			return err
		}
		conf, err := vrrpConfigs.ReadFile(s.configs[node])
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "vrrpd.conf"), conf, 0o644); err != nil {
			return err
		}
		if err := v.startNode(node); err != nil {
			return err
		}
	}
	return nil
}

// startNode starts a router's vrrpd with the configuration in its run
// directory, detached.
func (v vrrpLab) startNode(node string) error {
	dir := v.runDir(node)
	_, err := v.lab.Node(node).StartDetached(netlab.DetachOptions{Name: "vrrpd", LogFile: filepath.Join(dir, "vrrpd.log")},
		v.bin, "--config", filepath.Join(dir, "vrrpd.conf"), "--run-dir", dir, "--scripts-dir", dir, "--state-dir", filepath.Join(dir, "state"), "run")
	if err != nil {
		return fmt.Errorf("start vrrpd on %s: %w", node, err)
	}
	return nil
}

// runningScenario is the scenario up started in the lab under root, or
// the default when it left no record.
func runningScenario(root string) vrrpScenario {
	name, err := os.ReadFile(filepath.Join(root, scenarioFile))
	if err == nil {
		if s, err := scenarioNamed(strings.TrimSpace(string(name))); err == nil {
			return s
		}
	}
	return scenarios[0]
}

// vrrpctl runs the vrrpd CLI against a router's daemon; the socket needs
// no namespace.
func (v vrrpLab) vrrpctl(ctx context.Context, node string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, v.bin, append([]string{"--run-dir", v.runDir(node)}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: vrrpd %s: %w: %s", node, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return string(out), nil
}

// groups asks a router's vrrpd for its groups.
func (v vrrpLab) groups(ctx context.Context, node string) ([]*vrrpv1.Group, error) {
	out, err := v.vrrpctl(ctx, node, "show", "vrrp", "--json")
	if err != nil {
		return nil, err
	}
	var resp vrrpv1.ShowVrrpResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		return nil, fmt.Errorf("%s: parse show vrrp --json: %w", node, err)
	}
	return resp.Groups, nil
}

// groupKey names a group as the guide's show output does.
func groupKey(g *vrrpv1.Group) string { return fmt.Sprintf("%s group %d", g.Interface, g.Group) }

// states maps each group to its state on each router: "eth2 group 99" →
// "r1" → MASTER.
type states map[string]map[string]vrrpv1.State

func (v vrrpLab) states(ctx context.Context) (states, error) {
	all := states{}
	for _, node := range routers {
		groups, err := v.groups(ctx, node)
		if err != nil {
			return nil, errors.Join(err, v.whyDown(node))
		}
		for _, g := range groups {
			if all[groupKey(g)] == nil {
				all[groupKey(g)] = map[string]vrrpv1.State{}
			}
			all[groupKey(g)][node] = g.State
		}
	}
	return all, nil
}

// whyDown adds the end of a router's vrrpd log when the daemon has died.
func (v vrrpLab) whyDown(node string) error {
	found, err := netlab.FindDetached(v.lab.Prefix())
	if err != nil {
		return nil
	}
	for _, d := range found {
		if d.Node == node && d.Name == "vrrpd" && !d.Running() {
			return fmt.Errorf("vrrpd on %s has exited; the end of %s:\n%s", node, v.logFile(node), tail(v.logFile(node), 5))
		}
	}
	return nil
}

func (v vrrpLab) logFile(node string) string { return filepath.Join(v.runDir(node), "vrrpd.log") }

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// masters says which router is MASTER of each group, and whether every
// group has exactly one MASTER while the others are BACKUP.
func (s states) masters() (map[string]string, bool) {
	masters := map[string]string{}
	settled := len(s) > 0
	for group, byNode := range s {
		var m []string
		for node, st := range byNode {
			switch st {
			case vrrpv1.State_STATE_MASTER:
				m = append(m, node)
			case vrrpv1.State_STATE_BACKUP:
			default:
				settled = false
			}
		}
		if len(m) == 1 {
			masters[group] = m[0]
		} else {
			settled = false
		}
	}
	return masters, settled
}

func (s states) String() string {
	var lines []string
	for group, byNode := range s {
		var parts []string
		for _, node := range routers {
			if st, ok := byNode[node]; ok {
				parts = append(parts, fmt.Sprintf("%s %s", node, strings.TrimPrefix(st.String(), "STATE_")))
			}
		}
		lines = append(lines, group+": "+strings.Join(parts, ", "))
	}
	slices.Sort(lines)
	return strings.Join(lines, "; ")
}

// waitMasters waits until every group has one MASTER, on the router want
// says (any router when want is empty), the other BACKUP.
func (v vrrpLab) waitMasters(ctx context.Context, want string) (states, error) {
	var last states
	err := netlab.Poll(ctx, electionTimeout, func() (bool, string) {
		s, err := v.states(ctx)
		if err != nil {
			return false, err.Error()
		}
		last = s
		masters, settled := s.masters()
		if !settled {
			return false, s.String()
		}
		for _, m := range masters {
			if want != "" && m != want {
				return false, s.String()
			}
		}
		return true, ""
	})
	return last, err
}

// useVIPGateway makes the LAN host route through group 99's VIP instead of
// R1's own address, as the guide's LAN hosts do.
func (v vrrpLab) useVIPGateway(ctx context.Context) error {
	_, err := v.lab.Node("lan").Run(ctx, "ip", "route", "replace", "default", "via", v.gateway())
	return err
}

// showAll prints `show vrrp` of every router, as an operator would run it.
func (v vrrpLab) showAll(ctx context.Context, out io.Writer) {
	for _, node := range routers {
		fmt.Fprintf(out, "\n$ %s --run-dir %s show vrrp\n", v.bin, v.runDir(node))
		text, err := v.vrrpctl(ctx, node, "show", "vrrp")
		if err != nil {
			fmt.Fprintf(out, "%v\n", errors.Join(err, v.whyDown(node)))
			continue
		}
		fmt.Fprint(out, text)
	}
}

// failoverReport is what a failover measured.
type failoverReport struct {
	takeover, preempt time.Duration // from the cut to R2 MASTER, from the restore to R1 MASTER
	during            netlab.PingStats
}

// failover pulls R1's LAN cable, waits for R2 to take every group over
// (group 99 by Master_Down, the others through the sync group), checks the
// LAN host still reaches the VIP, then plugs the cable back in and waits
// for R1 to preempt. The cable goes back in whatever happens.
func (v vrrpLab) failover(ctx context.Context, out io.Writer) (rep failoverReport, err error) {
	lan, r1 := v.lab.Node("lan"), v.lab.Node("r1")
	before, err := v.waitMasters(ctx, "r1")
	if err != nil {
		return rep, fmt.Errorf("before the cut, R1 is not MASTER of every group: %w", err)
	}
	fmt.Fprintf(out, "Before: %s\n", before)
	v.showAll(ctx, out)
	if err := netlab.Poll(ctx, electionTimeout, func() (bool, string) {
		err := lan.Ping(ctx, v.gateway())
		return err == nil, fmt.Sprint(err)
	}); err != nil {
		return rep, fmt.Errorf("the LAN host does not reach the VIP %s: %w", v.gateway(), err)
	}
	fmt.Fprintf(out, "\nok  ping %s from the LAN host (R1 answers)\n", v.gateway())

	pinger, err := lan.StartPinger(v.gateway(), 100*time.Millisecond)
	if err != nil {
		return rep, err
	}
	defer pinger.Stop()

	fmt.Fprintf(out, "\nCutting R1's LAN cable (ip netns exec %s ip link set r1-%s down)...\n", v.lab.SwitchNamespace(), routerLANPort)
	cut := time.Now()
	if err := r1.CutPort(routerLANPort); err != nil {
		return rep, err
	}
	defer func() {
		if restoreErr := r1.RestorePort(routerLANPort); restoreErr != nil {
			err = errors.Join(err, restoreErr)
		}
	}()
	// Without its LAN, R1's group 99 may be in FAULT rather than BACKUP:
	// what counts is R2 MASTER of every group and R1 of none.
	after, err := v.waitR2Masters(ctx)
	if err != nil {
		return rep, fmt.Errorf("R2 did not take over: %w", err)
	}
	rep.takeover = time.Since(cut)
	fmt.Fprintf(out, "R2 took over after %v: %s\n", rep.takeover.Round(100*time.Millisecond), after)
	v.showAll(ctx, out)
	if err := netlab.Poll(ctx, electionTimeout, func() (bool, string) {
		err := lan.Ping(ctx, v.gateway())
		return err == nil, fmt.Sprint(err)
	}); err != nil {
		return rep, fmt.Errorf("after the takeover the LAN host does not reach the VIP %s: %w", v.gateway(), err)
	}
	// Let the pinger see R2 answer for a while, so the gap it reports
	// is the takeover's and not cut short.
	seen := pinger.Stats().Received
	_ = netlab.Poll(ctx, electionTimeout, func() (bool, string) { return pinger.Stats().Received >= seen+10, "" })
	rep.during = pinger.Stop()
	fmt.Fprintf(out, "\nok  ping %s from the LAN host (R2 answers); pings every 100ms during the takeover: %v\n", v.gateway(), rep.during)

	fmt.Fprintf(out, "\nRestoring R1's LAN cable...\n")
	restored := time.Now()
	if err := r1.RestorePort(routerLANPort); err != nil {
		return rep, err
	}
	back, err := v.waitMasters(ctx, "r1")
	if err != nil {
		return rep, fmt.Errorf("R1 did not preempt after the cable came back: %w", err)
	}
	rep.preempt = time.Since(restored)
	fmt.Fprintf(out, "R1 preempted after %v: %s\n", rep.preempt.Round(100*time.Millisecond), back)
	v.showAll(ctx, out)
	return rep, nil
}

// waitR2Masters waits until R2 is MASTER of every group, whatever R1 (cut
// off from the LAN, so FAULT or BACKUP) says.
func (v vrrpLab) waitR2Masters(ctx context.Context) (states, error) {
	var last states
	err := netlab.Poll(ctx, electionTimeout, func() (bool, string) {
		s, err := v.states(ctx)
		if err != nil {
			return false, err.Error()
		}
		last = s
		for _, byNode := range s {
			if byNode["r2"] != vrrpv1.State_STATE_MASTER || byNode["r1"] == vrrpv1.State_STATE_MASTER {
				return false, s.String()
			}
		}
		return len(s) > 0, s.String()
	})
	return last, err
}

// stopVRRP stops the lab's vrrpd daemons (SIGTERM: they resign with
// priority 0) and removes their run directories.
func stopVRRP(prefix, root string) error {
	err := netlab.StopDetached(prefix, stopTimeout)
	return errors.Join(err, os.RemoveAll(root))
}
