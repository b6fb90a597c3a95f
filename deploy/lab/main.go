// Command lab builds, shows and removes the hasuite lab: two routers, R1 and
// R2, between a LAN host and two ISPs, in network namespaces named hslab-*,
// with vrrpd (or clusterd, or both) running on both routers. The lab and its
// daemons stay up after the command exits; `make lab` and `make lab-down`
// run it.
//
//	go run ./deploy/lab up        # build it, replacing any existing one, and start vrrpd
//	go run ./deploy/lab up --daemons clusterd  # ... and start clusterd instead (make lab-cluster)
//	go run ./deploy/lab status    # is it up, each node's addresses, each daemon's state
//	go run ./deploy/lab failover  # pull R1's LAN cable, watch R2 take over, plug it back
//	go run ./deploy/lab cluster-failover  # kill R1's clusterd, watch R2 take over, R1 fail back
//	go run ./deploy/lab up --daemons vrrpd,ctsyncd  # chapter 4: firewall, NAT, vrrpd and ctsyncd (make lab-ctsync)
//	go run ./deploy/lab ctsync-failover  # a long transfer survives R1's death
//	go run ./deploy/lab down      # remove it, daemons and all
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/vishvananda/netlink"

	"github.com/hasuite/hasuite/pkg/netlab"
)

func main() {
	app := &cli.App{
		Name:  "lab",
		Usage: "the hasuite two-router lab in network namespaces (needs root)",
		Commands: []*cli.Command{
			{
				Name:   "up",
				Usage:  "build the lab, replacing any existing one, and start vrrpd (or --daemons) on R1 and R2",
				Action: up,
				Flags: []cli.Flag{
					&cli.StringFlag{
						Name:  "daemons",
						Value: "vrrpd",
						Usage: "the daemons to run on R1 and R2, comma-separated: vrrpd, clusterd (the guide's Example 3-4 adapted), ctsyncd (with vrrpd: chapter 4, Examples 4-1, 4-6 to 4-9), or none",
					},
					&cli.StringFlag{
						Name:  "vrrp",
						Value: scenarios[0].name,
						Usage: "the guide's VRRP examples to run: 2-3 (Examples 2-3/2-4, sync group), 2-1 (Examples 2-1/2-2), 4-6 (Examples 4-6/4-7, the default with ctsyncd), or none (no vrrpd)",
					},
				},
			},
			{Name: "down", Usage: "stop the daemons and remove the lab and everything running in it", Action: down},
			{Name: "status", Usage: "say whether the lab is up and show each node's addresses and each vrrpd's groups", Action: status},
			{Name: "failover", Usage: "pull R1's LAN cable, show R2 taking over, then plug it back in", Action: failoverCmd},
			{
				Name:   "ctsync-failover",
				Usage:  "the guide's chapter 4 test: a long transfer from ISP1 to the DNATed VIP, R1 dies mid-transfer, R2 takes over with R1's connections; then R1 comes back",
				Action: ctsyncFailoverCmd,
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "size", Value: int(defaultTransfer.size >> 20), Usage: "the transfer's size in MiB"},
					&cli.IntFlag{Name: "rate", Value: int(defaultTransfer.rate >> 20), Usage: "the transfer's rate in MiB/s"},
				},
			},
			{
				Name:   "cluster-failover",
				Usage:  "take R1's clusterd down, show R2 taking the cluster IPs over, then R1 coming back and failing back",
				Action: clusterFailoverCmd,
				Flags: []cli.Flag{&cli.StringFlag{
					Name:  "mode",
					Value: "both",
					Usage: "how R1's clusterd goes down: kill (SIGKILL and its ports cut, a crash), term (SIGTERM, a clean stop), or both, one after the other",
				}},
			},
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
}

// smokeTimeout bounds the reachability check after building.
const smokeTimeout = 10 * time.Second

// daemons are the daemons up runs on R1 and R2.
type daemons struct{ vrrp, cluster, ctsync bool }

// parseDaemons reads up's --daemons: which of vrrpd, clusterd and ctsyncd
// to run.
func parseDaemons(list string) (daemons, error) {
	var d daemons
	for _, name := range strings.Split(list, ",") {
		switch strings.TrimSpace(name) {
		case "vrrpd":
			d.vrrp = true
		case "clusterd":
			d.cluster = true
		case "ctsyncd":
			d.ctsync = true
		case "none", "":
		default:
			return d, fmt.Errorf("--daemons %q: %q is none of vrrpd, clusterd, ctsyncd, none (write vrrpd,clusterd for both)", list, name)
		}
	}
	if d.ctsync && !d.vrrp {
		return d, fmt.Errorf("--daemons %q: ctsyncd follows vrrpd's sync group TESTING (Example 4-8): write vrrpd,ctsyncd", list)
	}
	return d, nil
}

// vrrpScenarioFor is up's --vrrp, checked against --daemons: ctsyncd's
// Example 4-8 needs Examples 4-6/4-7, the default then.
func vrrpScenarioFor(d daemons, name string, set bool) (string, error) {
	if !d.ctsync {
		return name, nil
	}
	if set && name != ctsyncdScenario {
		return "", fmt.Errorf("--vrrp %s: ctsyncd follows sync group TESTING of Examples 4-6/4-7: leave --vrrp out or write --vrrp %s", name, ctsyncdScenario)
	}
	return ctsyncdScenario, nil
}

func up(c *cli.Context) error {
	out := c.App.Writer
	run, err := parseDaemons(c.String("daemons"))
	if err != nil {
		return err
	}
	runVRRP, runCluster := run.vrrp, run.cluster
	vrrpName, err := vrrpScenarioFor(run, c.String("vrrp"), c.IsSet("vrrp"))
	if err != nil {
		return err
	}
	var scenario *vrrpScenario
	var bin, clusterBin, ctsyncBin string
	if name := vrrpName; runVRRP && name != "none" {
		s, err := scenarioNamed(name)
		if err != nil {
			return err
		}
		if bin, err = vrrpdBinary(); err != nil {
			return err
		}
		scenario = &s
	}
	if runCluster {
		if clusterBin, err = daemonBinary("clusterd"); err != nil {
			return err
		}
	}
	if run.ctsync {
		if ctsyncBin, err = daemonBinary("ctsyncd"); err != nil {
			return err
		}
	}
	sweep(out)
	if err := teardown(labPrefix, runRoot); err != nil {
		return err
	}
	lab, err := netlab.Build(c.Context, labPrefix, labTopology(), netlab.Options{Persistent: true})
	if err != nil {
		return err
	}
	// Persistent: closing releases our handles and leaves the lab up.
	defer lab.Close()

	fmt.Fprintf(out, "hasuite lab %q is up.\n%s\n", labPrefix, diagram)
	if err := smokeTest(c.Context, lab, out); err != nil {
		return fmt.Errorf("the lab is up but broken (make lab-down removes it): %w", err)
	}
	if scenario != nil {
		if err := startVRRP(c.Context, vrrpLab{lab: lab, bin: bin, runRoot: runRoot}, *scenario, out); err != nil {
			return fmt.Errorf("the lab is up but vrrpd is not (make lab-down removes it): %w", err)
		}
	}
	if run.ctsync {
		if err := startCtsync(c.Context, newCtsyncLab(lab, ctsyncBin, bin, runRoot), out); err != nil {
			return fmt.Errorf("the lab is up but ctsyncd is not (make lab-down removes it): %w", err)
		}
	}
	if runCluster {
		if err := startCluster(c.Context, clusterLab{lab: lab, bin: clusterBin, runRoot: runRoot}, out); err != nil {
			return fmt.Errorf("the lab is up but clusterd is not (make lab-down removes it): %w", err)
		}
	}
	fmt.Fprintf(out, `
Enter a node:  sudo ip netns exec %[1]s-r1 bash   (nodes: %[2]s)
Look around:   go run ./deploy/lab status
`, labPrefix, strings.Join(nodeNames(), ", "))
	if scenario != nil {
		fmt.Fprintf(out, `Ask vrrpd:     %[1]s --run-dir %[2]s/r1 show vrrp   (logs: %[2]s/<node>/vrrpd.log)
Fail over:     go run ./deploy/lab failover           (or make lab-failover)
`, bin, runRoot)
	}
	if run.ctsync {
		fmt.Fprintf(out, `Ask ctsyncd:   %[1]s --run-dir %[2]s/r1 show conntrack-sync status   (logs: %[2]s/<node>/ctsyncd.log)
Stateful failover: go run ./deploy/lab ctsync-failover   (or make lab-ctsync-failover)
`, ctsyncBin, runRoot)
	}
	if runCluster {
		fmt.Fprintf(out, `Ask clusterd:  %[1]s --run-dir %[2]s/r1 show cluster status   (logs: %[2]s/<node>/clusterd.log, lablog.log)
Fail over:     go run ./deploy/lab cluster-failover   (or make lab-cluster-failover)
`, clusterBin, runRoot)
	}
	fmt.Fprintln(out, "Remove it:     make lab-down")
	return nil
}

// startVRRP starts vrrpd on both routers with the scenario's configurations,
// waits for the election and makes the LAN host use the VIP as its gateway.
func startVRRP(ctx context.Context, v vrrpLab, s vrrpScenario, out io.Writer) error {
	fmt.Fprintf(out, "\nstarting vrrpd on R1 and R2 with the guide's %s...\n", s.examples)
	v.lanVIP = s.gateway()
	if err := v.start(s); err != nil {
		return err
	}
	elected, err := v.waitMasters(ctx, "r1")
	if err != nil {
		return fmt.Errorf("no election with R1 MASTER of every group: %w", err)
	}
	fmt.Fprintf(out, "ok  elected: %s\n", elected)
	if err := v.useVIPGateway(ctx); err != nil {
		return err
	}
	for _, check := range []struct{ to, what string }{
		{v.gateway(), "LAN -> the VIP on the LAN"},
		{"12.34.56.1", "LAN -> ISP1 via the VIP"},
	} {
		err := netlab.Poll(ctx, smokeTimeout, func() (bool, string) {
			err := v.lab.Node("lan").Ping(ctx, check.to)
			return err == nil, fmt.Sprint(err)
		})
		if err != nil {
			return fmt.Errorf("%s: %w", check.what, err)
		}
		fmt.Fprintf(out, "ok  ping %-13s %s\n", check.to, check.what)
	}
	return nil
}

// teardown stops the lab's daemons, gracefully, and removes the lab with
// whatever else runs in it.
func teardown(prefix, root string) error {
	return errors.Join(stopVRRP(prefix, root), netlab.Destroy(prefix))
}

// smokeTest checks the paths the README promises, through R1.
func smokeTest(ctx context.Context, lab *netlab.Lab, out io.Writer) error {
	checks := []struct{ from, to, what string }{
		{"lan", "12.34.56.1", "LAN -> ISP1 via R1"},
		{"lan", "98.76.54.1", "LAN -> ISP2 via R1"},
		{"lan", "96.97.98.99", "LAN -> MON (VPN peer) via R1 and ISP1"},
		{"r1", "192.168.0.200", "R1 -> R2 over the sync link"},
	}
	for _, check := range checks {
		from := lab.Node(check.from)
		err := netlab.Poll(ctx, smokeTimeout, func() (bool, string) {
			err := from.Ping(ctx, check.to)
			if err != nil {
				return false, err.Error()
			}
			return true, ""
		})
		if err != nil {
			return fmt.Errorf("%s: %w", check.what, err)
		}
		fmt.Fprintf(out, "ok  ping %-13s %s\n", check.to, check.what)
	}
	return nil
}

func down(c *cli.Context) error {
	sweep(c.App.Writer)
	if err := teardown(labPrefix, runRoot); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "hasuite lab %q is down: no %s-* namespace, daemon or %s is left.\n", labPrefix, labPrefix, runRoot)
	return nil
}

// attach opens the running lab, saying what to do when there is none.
func attach() (*netlab.Lab, error) {
	lab, err := netlab.Attach(labPrefix, labTopology())
	if errors.Is(err, netlab.ErrNoLab) {
		return nil, cli.Exit(fmt.Sprintf("hasuite lab %q is down (make lab builds it)", labPrefix), 3)
	}
	if err != nil {
		return nil, fmt.Errorf("hasuite lab %q is incomplete (make lab rebuilds it, make lab-down removes it): %w", labPrefix, err)
	}
	return lab, nil
}

func status(c *cli.Context) error {
	lab, err := attach()
	if err != nil {
		return err
	}
	defer lab.Close()

	out := c.App.Writer
	fmt.Fprintf(out, "hasuite lab %q is up.\n\n", labPrefix)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tNAMESPACE\tINTERFACE\tSTATE\tADDRESSES")
	for _, n := range lab.Nodes() {
		links, err := n.Netlink().LinkList()
		if err != nil {
			return fmt.Errorf("node %s: %w", n.Name(), err)
		}
		slices.SortFunc(links, func(a, b netlink.Link) int { return strings.Compare(a.Attrs().Name, b.Attrs().Name) })
		for _, link := range links {
			addrs, err := globalAddresses(n.Netlink(), link)
			if err != nil {
				return fmt.Errorf("node %s: %w", n.Name(), err)
			}
			if link.Attrs().Name == "lo" && len(addrs) == 0 {
				continue // only the loopback's own addresses
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", n.Name(), n.Namespace(), link.Attrs().Name,
				link.Attrs().OperState, strings.Join(addrs, " "))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return daemonStatus(c.Context, lab, out)
}

// daemonStatus lists the lab's daemons, running or not, then shows what
// each kind says: vrrpd's groups, clusterd's cluster status.
func daemonStatus(ctx context.Context, lab *netlab.Lab, out io.Writer) error {
	found, err := netlab.FindDetached(labPrefix)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		fmt.Fprintln(out, "\nNo daemon runs in the lab (make lab starts vrrpd on R1 and R2, make lab-cluster clusterd, make lab-ctsync vrrpd and ctsyncd).")
		return nil
	}
	fmt.Fprintln(out)
	byName := map[string][]*netlab.Detached{}
	for _, d := range found {
		state := "running"
		if !d.Running() {
			state = "NOT RUNNING (make lab or make lab-cluster restarts the lab and its daemons)"
		}
		fmt.Fprintf(out, "%s %s[%d]: %s, log %s\n", d.Node, d.Name, d.PID, state, d.LogFile)
		byName[d.Name] = append(byName[d.Name], d)
	}
	if len(byName["vrrpd"]) > 0 {
		if err := vrrpStatus(ctx, lab, byName["vrrpd"], out); err != nil {
			return err
		}
	}
	if len(byName["ctsyncd"]) > 0 {
		fmt.Fprintln(out)
		if err := ctsyncStatus(ctx, lab, out); err != nil {
			return err
		}
	}
	if len(byName["clusterd"]) > 0 {
		fmt.Fprintln(out)
		return clusterStatus(ctx, lab, out)
	}
	return nil
}

// vrrpStatus shows the groups of the routers' vrrpd.
func vrrpStatus(ctx context.Context, lab *netlab.Lab, found []*netlab.Detached, out io.Writer) error {
	bin, err := vrrpdBinary()
	if err != nil {
		return err
	}
	v := vrrpLab{lab: lab, bin: bin, runRoot: runRoot}
	allRunning := true
	for _, d := range found {
		allRunning = allRunning && d.Running()
	}
	if allRunning {
		s, err := v.states(ctx)
		if err != nil {
			return err
		}
		if _, settled := s.masters(); settled {
			fmt.Fprintf(out, "VRRP: %s (one MASTER per group)\n", s)
		} else {
			fmt.Fprintf(out, "VRRP: %s (not settled: each group needs one MASTER, the other BACKUP)\n", s)
		}
	}
	v.showAll(ctx, out)
	return nil
}

func failoverCmd(c *cli.Context) error {
	lab, err := attach()
	if err != nil {
		return err
	}
	defer lab.Close()
	bin, err := vrrpdBinary()
	if err != nil {
		return err
	}
	if !runs(labPrefix, "vrrpd") {
		return cli.Exit("no vrrpd runs in the lab: make lab starts it (not with --vrrp none)", 3)
	}
	_, err = vrrpLab{lab: lab, bin: bin, runRoot: runRoot, lanVIP: runningScenario(runRoot).lanVIP}.failover(c.Context, c.App.Writer)
	return err
}

func ctsyncFailoverCmd(c *cli.Context) error {
	lab, err := attach()
	if err != nil {
		return err
	}
	defer lab.Close()
	bin, err := daemonBinary("ctsyncd")
	if err != nil {
		return err
	}
	vrrpBin, err := vrrpdBinary()
	if err != nil {
		return err
	}
	if !runs(labPrefix, "ctsyncd") {
		return cli.Exit("no ctsyncd runs in the lab: make lab-ctsync starts it (go run ./deploy/lab up --daemons vrrpd,ctsyncd)", 3)
	}
	shape := transferShape{size: int64(c.Int("size")) << 20, rate: int64(c.Int("rate")) << 20}
	if shape.size <= 0 || shape.rate <= 0 {
		return fmt.Errorf("--size %d --rate %d: both must be at least 1 (MiB, MiB/s)", c.Int("size"), c.Int("rate"))
	}
	rep, err := newCtsyncLab(lab, bin, vrrpBin, runRoot).failover(c.Context, c.App.Writer, shape)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "\nSummary:\n  %s\n", rep)
	return nil
}

// runs says whether the lab has started a daemon of that name.
func runs(prefix, name string) bool {
	found, _ := netlab.FindDetached(prefix)
	return slices.ContainsFunc(found, func(d *netlab.Detached) bool { return d.Name == name })
}

func clusterFailoverCmd(c *cli.Context) error {
	modes := failoverModes
	if m := c.String("mode"); m != "both" {
		if !slices.Contains(failoverModes, m) {
			return fmt.Errorf("--mode %q: want kill, term or both", m)
		}
		modes = []string{m}
	}
	lab, err := attach()
	if err != nil {
		return err
	}
	defer lab.Close()
	bin, err := daemonBinary("clusterd")
	if err != nil {
		return err
	}
	if !runs(labPrefix, "clusterd") {
		return cli.Exit("no clusterd runs in the lab: make lab-cluster starts it (go run ./deploy/lab up --daemons clusterd)", 3)
	}
	cl := clusterLab{lab: lab, bin: bin, runRoot: runRoot}
	var reports []string
	for _, mode := range modes {
		rep, err := cl.failover(c.Context, c.App.Writer, mode)
		if err != nil {
			return err
		}
		reports = append(reports, rep.String())
	}
	fmt.Fprintf(c.App.Writer, "\nSummary:\n  %s\n", strings.Join(reports, "\n  "))
	return nil
}

// globalAddresses lists a link's addresses of global scope, leaving out
// 127.0.0.1, ::1 and the IPv6 link-local ones that every link has.
func globalAddresses(h *netlink.Handle, link netlink.Link) ([]string, error) {
	addrs, err := h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range addrs {
		if a.Scope == int(netlink.SCOPE_UNIVERSE) {
			out = append(out, a.IPNet.String())
		}
	}
	return out, nil
}

// sweep removes what crashed test runs left behind, which would otherwise
// pile up on a developer's machine; live test labs are left alone.
func sweep(out io.Writer) {
	swept, err := netlab.Sweep()
	if len(swept) > 0 {
		fmt.Fprintf(out, "removed labs left by crashed test runs: %s\n", strings.Join(swept, ", "))
	}
	if err != nil {
		fmt.Fprintf(out, "warning: sweeping old test labs: %v\n", err)
	}
}

func nodeNames() []string {
	var names []string
	for _, n := range labTopology().Nodes {
		names = append(names, n.Name)
	}
	return names
}
