// Command lab builds, shows and removes the hasuite lab: two routers, R1 and
// R2, between a LAN host and two ISPs, in network namespaces named hslab-*.
// The lab stays up after the command exits; `make lab` and `make lab-down`
// run it.
//
//	go run ./deploy/lab up      # build it, replacing any existing one
//	go run ./deploy/lab status  # is it up, and each node's addresses
//	go run ./deploy/lab down    # remove it, processes and all
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
			{Name: "up", Usage: "build the lab, replacing any existing one", Action: up},
			{Name: "down", Usage: "remove the lab and everything running in it", Action: down},
			{Name: "status", Usage: "say whether the lab is up and show each node's addresses", Action: status},
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "lab:", err)
		os.Exit(1)
	}
}

// smokeTimeout bounds the reachability check after building.
const smokeTimeout = 10 * time.Second

func up(c *cli.Context) error {
	out := c.App.Writer
	sweep(out)
	if err := netlab.Destroy(labPrefix); err != nil {
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
	fmt.Fprintf(out, `
Enter a node:  sudo ip netns exec %[1]s-r1 bash   (nodes: %[2]s)
Look around:   go run ./deploy/lab status
Remove it:     make lab-down
`, labPrefix, strings.Join(nodeNames(), ", "))
	return nil
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
	if err := netlab.Destroy(labPrefix); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "hasuite lab %q is down: no %s-* namespace is left.\n", labPrefix, labPrefix)
	return nil
}

func status(c *cli.Context) error {
	lab, err := netlab.Attach(labPrefix, labTopology())
	if errors.Is(err, netlab.ErrNoLab) {
		return cli.Exit(fmt.Sprintf("hasuite lab %q is down (make lab builds it)", labPrefix), 3)
	}
	if err != nil {
		return fmt.Errorf("hasuite lab %q is incomplete (make lab rebuilds it, make lab-down removes it): %w", labPrefix, err)
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
	return w.Flush()
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
