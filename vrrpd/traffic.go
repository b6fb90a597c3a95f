package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hasuite/hasuite/pkg/daemon"
	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// `monitor interfaces vrrp IF traffic|flow` (VR-O10, VR-O11) look at one
// VRRP interface from the command line's own process, which runs in the
// daemon's network namespace: the capture is tcpdump's, the flow figures
// are the daemon's view of the link counters. The daemon only confirms
// the interface is one of its VRRP interfaces.

// defaultPacketLimit is the guide's capture limit without `unlimited`.
const defaultPacketLimit = 1000

// countFlag is hidden: tests stop a capture, or the flow display, after a
// few packets or samples.
var countFlag = &cli.UintFlag{Name: "count", Hidden: true, Usage: "stop after `N` packets (traffic) or samples (flow)"}

// trafficUsage is the guide's syntax (4023-4084), less strict about order.
const trafficUsage = "usage: monitor interfaces vrrp IF traffic [detail] [unlimited] [save FILE] [filter EXPR...]\n" +
	"       monitor interfaces vrrp IF flow"

func monitorInterfacesCommand() *cli.Command {
	return &cli.Command{
		Name:  "interfaces",
		Usage: "watch an interface",
		Subcommands: []*cli.Command{{
			Name:      "vrrp",
			Usage:     "capture a VRRP interface's packets (traffic, with tcpdump) or show its rates every second (flow)",
			ArgsUsage: "IF traffic [detail] [unlimited] [save FILE] [filter EXPR] | IF flow",
			Flags:     []cli.Flag{countFlag},
			Action:    monitorInterface,
		}},
	}
}

// capture is what `traffic` asks for.
type capture struct {
	Interface string
	Detail    bool
	Unlimited bool
	Save      string
	Filter    string
	// Count overrides the packet limit when not zero.
	Count uint
}

// parseTraffic reads the words after `traffic`: detail, unlimited, save
// FILE, and filter, which takes the rest of the line so a pcap expression
// needs no quotes.
func parseTraffic(ifname string, words []string) (capture, error) {
	c := capture{Interface: ifname}
	for i := 0; i < len(words); i++ {
		switch words[i] {
		case "detail":
			c.Detail = true
		case "unlimited":
			c.Unlimited = true
		case "save":
			if i+1 >= len(words) || words[i+1] == "" {
				return capture{}, errors.New("save needs a file name")
			}
			i++
			c.Save = words[i]
		case "filter":
			if i+1 >= len(words) {
				return capture{}, errors.New("filter needs a pcap expression, e.g. filter vrrp or filter host 172.16.0.1")
			}
			c.Filter = strings.Join(words[i+1:], " ")
			return c, nil
		default:
			return capture{}, fmt.Errorf("unknown word %q", words[i])
		}
	}
	return c, nil
}

// tcpdumpArgs is the tcpdump command line for c. -n: a router's monitor
// must not wait on DNS; -l: lines appear as packets do; -p: the parent NIC
// is not put into promiscuous mode for a look at the vMAC's traffic.
func tcpdumpArgs(c capture) []string {
	args := []string{"-i", c.Interface, "-n", "-l", "-p"}
	switch {
	case c.Count > 0:
		args = append(args, "-c", strconv.FormatUint(uint64(c.Count), 10))
	case !c.Unlimited:
		args = append(args, "-c", strconv.Itoa(defaultPacketLimit))
	}
	if c.Detail {
		args = append(args, "-e", "-v")
	}
	if c.Save != "" {
		args = append(args, "-w", c.Save)
	}
	if c.Filter != "" {
		args = append(args, c.Filter)
	}
	return args
}

func monitorInterface(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) < 2 {
		return errors.New(trafficUsage)
	}
	ifname, what := args[0], args[1]
	var want capture
	switch what {
	case "traffic":
		var err error
		if want, err = parseTraffic(ifname, args[2:]); err != nil {
			return fmt.Errorf("%v\n%s", err, trafficUsage)
		}
		want.Count = c.Uint(countFlag.Name)
	case "flow":
		if len(args) > 2 {
			return errors.New(trafficUsage)
		}
	default:
		return errors.New(trafficUsage)
	}
	// The daemon's word first: a typo must not start a capture on some
	// other interface.
	if err := withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
		if _, err := client.ShowInterfaces(ctx, &vrrpv1.ShowInterfacesRequest{Name: ifname}); err != nil {
			return explain(err)
		}
		return nil
	}); err != nil {
		return err
	}
	ctx, _, stop := daemon.HandleSignals(c.Context)
	defer stop()
	if what == "flow" {
		return flow(ctx, c, ifname, c.Uint(countFlag.Name))
	}
	return runTcpdump(ctx, c.App.Writer, c.App.ErrWriter, want)
}

// runTcpdump runs the capture until tcpdump ends (its packet limit) or ctx
// does (Ctrl-C), which tcpdump is told with SIGINT so it prints its
// counts and finishes the saved file.
func runTcpdump(ctx context.Context, stdout, stderr io.Writer, c capture) error {
	path, err := exec.LookPath("tcpdump")
	if err != nil {
		return errors.New("monitor interfaces vrrp traffic needs tcpdump, which is not installed: install the tcpdump package (apt install tcpdump)")
	}
	fmt.Fprintf(stdout, "Capturing traffic on %s ...\n", c.Interface)
	cmd := exec.CommandContext(ctx, path, tcpdumpArgs(c)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("tcpdump on %s: %w", c.Interface, err)
	}
	return nil
}

// flowInterval is how often `flow` samples the counters.
const flowInterval = time.Second

// flow prints the interface's rates every flowInterval until ctx ends or
// count samples (0: no limit) are printed.
func flow(ctx context.Context, c *cli.Context, ifname string, count uint) error {
	read := func() (*vrrpv1.InterfaceCounters, time.Time, error) {
		var counters *vrrpv1.InterfaceCounters
		err := withClient(c, func(ctx context.Context, client vrrpv1.VrrpClient) error {
			resp, err := client.ShowInterfaces(ctx, &vrrpv1.ShowInterfacesRequest{Name: ifname})
			if err != nil {
				return explain(err)
			}
			counters = resp.Interfaces[0].GetCounters()
			return nil
		})
		return counters, time.Now(), err
	}
	prev, at, err := read()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "Flow statistics on %s (every %s, Ctrl-C to stop)\n%s\n", ifname, flowInterval, flowHeader)
	tick := time.NewTicker(flowInterval)
	defer tick.Stop()
	for printed := uint(0); count == 0 || printed < count; printed++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cur, now, err := read()
		if err != nil {
			return err
		}
		fmt.Fprintln(c.App.Writer, flowLine(now, flowRates(prev, cur, now.Sub(at))))
		prev, at = cur, now
	}
	return nil
}

// rates are per second.
type rates struct {
	RxPackets, RxBits, TxPackets, TxBits float64
}

// flowRates is the change from prev to cur over elapsed. A counter that
// went down (the interface was re-created) counts from zero.
func flowRates(prev, cur *vrrpv1.InterfaceCounters, elapsed time.Duration) rates {
	if elapsed <= 0 {
		return rates{}
	}
	per := func(before, after uint64) float64 {
		if after < before {
			before = 0
		}
		return float64(after-before) / elapsed.Seconds()
	}
	return rates{
		RxPackets: per(prev.GetRxPackets(), cur.GetRxPackets()),
		RxBits:    8 * per(prev.GetRxBytes(), cur.GetRxBytes()),
		TxPackets: per(prev.GetTxPackets(), cur.GetTxPackets()),
		TxBits:    8 * per(prev.GetTxBytes(), cur.GetTxBytes()),
	}
}

// flowColumns lays out flowHeader and flowLine alike.
const flowColumns = "%-8s %10s %10s %10s %10s"

var flowHeader = fmt.Sprintf(flowColumns, "time", "rx pkt/s", "rx bit/s", "tx pkt/s", "tx bit/s")

func flowLine(at time.Time, r rates) string {
	return fmt.Sprintf(flowColumns, at.Format(time.TimeOnly),
		strconv.FormatFloat(r.RxPackets, 'f', 1, 64), bits(r.RxBits), strconv.FormatFloat(r.TxPackets, 'f', 1, 64), bits(r.TxBits))
}

// bits prints a bit rate with an SI prefix, as interface counters usually
// are.
func bits(v float64) string {
	for _, unit := range []string{"", "k", "M", "G"} {
		if v < 1000 {
			return fmt.Sprintf("%.1f%s", v, unit)
		}
		v /= 1000
	}
	return fmt.Sprintf("%.1fT", v)
}
